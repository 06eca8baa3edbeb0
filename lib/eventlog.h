/* eventlog: the dstack/TDX event log - parsing (Info JSON form), runtime
 * event digests (V1 and V2), RTMR replay, and the named RTMR3 events. */
#ifndef LIB_EVENTLOG_H
#define LIB_EVENTLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bytes.h"
#include "digest.h"
#include "err.h"
#include "json.h"
#include "jsonw.h"

#define RUNTIME_EVENT_TYPE 0x08000001u
#define EV_NO_ACTION 0x00000003u
#define RTMR_COUNT 4

struct tdx_event {
	uint32_t imr;        /* 0..3 = RTMR0..3 */
	uint32_t type;
	struct buf digest;   /* 48 bytes, or empty when stripped */
	struct buf name;     /* runtime event name; "" for boot events */
	struct buf payload;
	int version;         /* runtime digest form: 1 or 2 */
	bool has_preimage;
	struct buf preimage; /* V2 events from GetQuote/Attest carry it */
};

struct event_log {
	struct tdx_event *ev;
	size_t n, cap;
};

/* Appends a zeroed event (version 1) and returns it, NULL when out of memory. */
struct tdx_event *eventlog_push(struct event_log *log);
void eventlog_free(struct event_log *log);

/* Parses a JSON array of events (token arr of j). EXIT_MALFORMED names the
 * event index and field on any deviation (imr > 3, digest not 0/48 bytes,
 * runtime event outside RTMR3, unknown version, wrong types). */
int eventlog_from_json(struct event_log *log, const struct json *j, int arr, struct err *e);
/* Same, from the text of a JSON array (the GetQuote "event_log" string form). */
int eventlog_from_text(struct event_log *log, const char *text, size_t len, struct err *e);

/* The digest a runtime event must have, recomputed from name and payload:
 * SHA-384 of the V1 preimage (LE32 type ':' name ':' payload) or of the V2
 * canonical JSON {"name","payload","type"}. A present V2 preimage must equal
 * the canonical bytes (EXIT_REJECTED otherwise). */
int runtime_event_digest(const struct tdx_event *ev, uint8_t out[SHA384_LEN], struct err *e);

struct replay {
	uint8_t rtmr[RTMR_COUNT][SHA384_LEN];
	size_t events[RTMR_COUNT]; /* events extended into each register */
};

/* Replays RTMR0..3 in log order. Runtime digests are always recomputed; a
 * stored one that differs is EXIT_REJECTED (tampering); a boot event without
 * a 48-byte digest cannot be replayed (EXIT_MALFORMED). */
int eventlog_replay(const struct event_log *log, struct replay *r, struct err *e);

/* The first runtime event named name before the first system-ready, or NULL. */
const struct tdx_event *eventlog_named(const struct event_log *log, const char *name);

/* Writes the log as a JSON array in the guest agent's Info format. */
void eventlog_write_json(const struct event_log *log, struct jsonw *w);

#endif

/* attestation: dstack's VersionedAttestation, the RA-TLS `.1.8` payload and
 * the guest agent's Attest output: SCALE V0 (first byte 00) and msgpack V1
 * (first byte a map marker). Both carry a quote, an event log (stripped: boot
 * events mostly gone, runtime digests empty), report data and the VM config. */
#ifndef LIB_ATTESTATION_H
#define LIB_ATTESTATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bytes.h"
#include "err.h"
#include "eventlog.h"

/* dstack refuses larger encodings (MAX_ATTESTATION_BYTES, 10 MiB). */
#define ATTESTATION_MAX_BYTES (10 * 1024 * 1024)

enum attestation_format { ATTESTATION_SCALE_V0, ATTESTATION_MSGPACK_V1 };

struct dstack_attestation {
	/* dstack refuses larger encodings (MAX_ATTESTATION_BYTES, 10 MiB). */
#define ATTESTATION_MAX_BYTES (10 * 1024 * 1024)

enum attestation_format format;
	struct buf quote;
	/* The event log: the boot events kept (the three ACPI ones) and every
	 * runtime event, digests empty. */
	struct event_log log;
	/* The separate runtime_events list; it must repeat the log's runtime
	 * events exactly (name and payload, in order), else the input is refused. */
	struct event_log runtime;
	uint8_t report_data[64];
	struct buf config; /* vm_config JSON text */
	bool pod;          /* V1 stack kind "dstack-pod" (else "dstack") */
	struct buf report_data_payload; /* dstack-pod only */
	size_t consumed;   /* bytes decoded */
};

/* Decodes the whole input, either form; trailing bytes are malformed.
 * Non-TDX platforms are refused with EXIT_MALFORMED naming the platform, as
 * is a V1 version other than 1 or an unknown stack kind. The layouts are
 * written down in doc/attestation-formats.md. A runtime_events list that
 * differs from the log's runtime events, or a dstack-pod report_data that is
 * not SHA-512("app-data:" || report_data_payload), is EXIT_REJECTED. */
int attestation_decode(struct dstack_attestation *a, const uint8_t *p, size_t n, struct err *e);
/* True when the first byte is a msgpack map marker (fixmap, map16, map32):
 * the V1 form; V0 starts with 00. */
bool attestation_is_msgpack(uint8_t first);
void attestation_free(struct dstack_attestation *a);

#endif

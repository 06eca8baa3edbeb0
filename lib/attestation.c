#include "attestation.h"

#include <stdio.h>
#include <string.h>

#include "digest.h"
#include "msgpack.h"

/* SCALE compact integer: the low two bits of the first byte select the mode. */
static bool scale_compact(struct cursor *c, uint64_t *v)
{
	struct cursor save = *c;
	uint8_t b0;
	if (!cur_u8(c, &b0))
		return false;
	switch (b0 & 3) {
	case 0:
		*v = b0 >> 2;
		return true;
	case 1: {
		uint8_t b1;
		if (!cur_u8(c, &b1))
			break;
		*v = (uint64_t)(b0 | b1 << 8) >> 2;
		return true;
	}
	case 2: {
		const uint8_t *p = cur_take(c, 3);
		if (!p)
			break;
		*v = ((uint64_t)b0 | (uint64_t)p[0] << 8 | (uint64_t)p[1] << 16 | (uint64_t)p[2] << 24) >> 2;
		return true;
	}
	default: {
		size_t len = (size_t)(b0 >> 2) + 4; /* big-integer mode: 4..67 bytes follow */
		const uint8_t *p = len <= 8 ? cur_take(c, len) : NULL;
		if (!p)
			break;
		uint64_t x = 0;
		for (size_t i = len; i-- > 0;)
			x = x << 8 | p[i];
		*v = x;
		return true;
	}
	}
	*c = save;
	return false;
}

/* A compact length followed by that many bytes, appended to out. */
static int scale_bytes(struct cursor *c, const char *what, struct buf *out, struct err *e)
{
	uint64_t n;
	if (!scale_compact(c, &n))
		return err_set(e, EXIT_MALFORMED, "%s: truncated length", what);
	if (n > cur_left(c))
		return err_set(e, EXIT_MALFORMED, "%s: length %llu exceeds the %zu bytes left", what,
			       (unsigned long long)n, cur_left(c));
	if (!buf_append(out, cur_take(c, (size_t)n), (size_t)n))
		return err_set(e, EXIT_SYSTEM, "%s: out of memory", what);
	return EXIT_OK;
}

static int scale_count(struct cursor *c, const char *what, size_t min_item, uint64_t *n, struct err *e)
{
	if (!scale_compact(c, n))
		return err_set(e, EXIT_MALFORMED, "%s: truncated count", what);
	if (*n > cur_left(c) / min_item)
		return err_set(e, EXIT_MALFORMED, "%s: count %llu exceeds what the remaining bytes can hold", what,
			       (unsigned long long)*n);
	return EXIT_OK;
}

/* What both forms require of a decoded event log entry. */
static int check_event(const struct tdx_event *ev, const char *what, struct err *e)
{
	if (ev->imr > 3)
		return err_set(e, EXIT_MALFORMED, "%s: imr %u out of range (0..3)", what, ev->imr);
	if (ev->digest.len != 0 && ev->digest.len != SHA384_LEN)
		return err_set(e, EXIT_MALFORMED, "%s: digest is %zu bytes, expected 48 or none", what, ev->digest.len);
	if (ev->type == RUNTIME_EVENT_TYPE && ev->imr != 3)
		return err_set(e, EXIT_MALFORMED, "%s: runtime event outside RTMR3", what);
	return EXIT_OK;
}

static int scale_v0(struct dstack_attestation *a, struct cursor *c, struct err *e)
{
	uint8_t version, variant;
	if (!cur_u8(c, &version) || !cur_u8(c, &variant))
		return err_set(e, EXIT_MALFORMED, "truncated header");
	static const char *variants[] = { "DstackTdx", "GCP TDX", "Nitro", "SEV-SNP", "Nitro TPM" };
	if (variant != 0)
		return err_set(e, EXIT_MALFORMED, "platform %s (variant %u) is not dstack TDX",
			       variant < 5 ? variants[variant] : "unknown", variant);
	if (scale_bytes(c, "quote", &a->quote, e))
		return EXIT_MALFORMED;
	uint64_t n;
	if (scale_count(c, "event log", 11, &n, e))
		return EXIT_MALFORMED;
	for (uint64_t i = 0; i < n; i++) {
		struct tdx_event *ev = eventlog_push(&a->log);
		if (!ev)
			return err_set(e, EXIT_SYSTEM, "out of memory");
		char what[32];
		snprintf(what, sizeof what, "event %llu", (unsigned long long)i);
		if (!cur_u32le(c, &ev->imr) || !cur_u32le(c, &ev->type))
			return err_set(e, EXIT_MALFORMED, "%s: truncated", what);
		if (ev->imr > 3)
			return check_event(ev, what, e);
		if (scale_bytes(c, "event digest", &ev->digest, e) || scale_bytes(c, "event name", &ev->name, e) ||
		    scale_bytes(c, "event payload", &ev->payload, e))
			return err_wrap(e, "%s", what);
		if (check_event(ev, what, e))
			return e->code;
	}
	if (scale_count(c, "runtime events", 2, &n, e))
		return EXIT_MALFORMED;
	for (uint64_t i = 0; i < n; i++) {
		struct tdx_event *ev = eventlog_push(&a->runtime);
		if (!ev)
			return err_set(e, EXIT_SYSTEM, "out of memory");
		ev->imr = 3;
		ev->type = RUNTIME_EVENT_TYPE;
		if (scale_bytes(c, "runtime event name", &ev->name, e) ||
		    scale_bytes(c, "runtime event payload", &ev->payload, e))
			return err_wrap(e, "runtime event %llu", (unsigned long long)i);
	}
	const uint8_t *rd = cur_take(c, 64);
	if (!rd)
		return err_set(e, EXIT_MALFORMED, "truncated report data");
	memcpy(a->report_data, rd, 64);
	return scale_bytes(c, "vm config", &a->config, e);
}

/* msgpack V1: rmp_serde::to_vec_named of dstack's v1::Attestation. The facts
 * this decoder rests on, with their sources, are in doc/attestation-formats.md.
 * Structs are maps keyed by field name, in any order; unknown keys are
 * skipped and duplicate ones refused (serde's derive does both); enums are
 * adjacently tagged {kind, data}. */

/* Byte-string encodings: a plain Vec<u8> (quote, report_data) is written as
 * an array of integers and read from an array or bin; a serde_human_bytes
 * field (digest, payloads) is written as bin and read from bin, str or array. */
#define V1_VEC_U8 (MP_BYTES_ARRAY | MP_BYTES_BIN)
#define V1_HUMAN_BYTES (MP_BYTES_ARRAY | MP_BYTES_BIN | MP_BYTES_STR)

/* A struct's schema: its field names and which of them must be present. */
struct v1_schema {
	const char *what;
	const char *const *names;
	int count;
	unsigned required; /* bit i: names[i] */
};

/* Decodes the value of known field k; `where` names it for messages. */
typedef int (*v1_field_fn)(void *ctx, struct cursor *c, int k, const char *where, struct err *e);

/* Walks a struct map: every known field once (a duplicate is malformed),
 * unknown ones skipped, then the required ones checked. */
static int v1_struct(struct cursor *c, const struct v1_schema *s, v1_field_fn field, void *ctx, struct err *e)
{
	uint64_t n;
	unsigned seen = 0;
	char where[128];
	if (mp_map(c, s->what, &n, e))
		return e->code;
	for (uint64_t i = 0; i < n; i++) {
		const uint8_t *key;
		size_t kl;
		int k = -1;
		snprintf(where, sizeof where, "%s: key", s->what);
		if (mp_text(c, where, NULL, &key, &kl, e))
			return e->code;
		for (int j = 0; j < s->count; j++)
			if (strlen(s->names[j]) == kl && !memcmp(s->names[j], key, kl))
				k = j;
		if (k < 0) {
			snprintf(where, sizeof where, "%s: unknown field", s->what);
			if (mp_skip(c, where, e))
				return e->code;
			continue;
		}
		if (seen & 1u << k)
			return err_set(e, EXIT_MALFORMED, "%s: duplicate field \"%s\"", s->what, s->names[k]);
		seen |= 1u << k;
		snprintf(where, sizeof where, "%s.%s", s->what, s->names[k]);
		if (field(ctx, c, k, where, e))
			return e->code;
	}
	for (int j = 0; j < s->count; j++)
		if ((s->required & 1u << j) && !(seen & 1u << j))
			return err_set(e, EXIT_MALFORMED, "%s: missing field \"%s\"", s->what, s->names[j]);
	return EXIT_OK;
}

/* EventLogVersion: a u32, 1 or 2. */
static int v1_event_version(struct cursor *c, const char *where, struct tdx_event *ev, struct err *e)
{
	uint64_t v;
	if (mp_uint(c, where, UINT32_MAX, &v, e))
		return e->code;
	if (v != 1 && v != 2)
		return err_set(e, EXIT_MALFORMED, "%s: unknown event log version %llu (expected 1 or 2)", where,
			       (unsigned long long)v);
	ev->version = (int)v;
	return EXIT_OK;
}

/* cc_eventlog::TdxEvent: imr, event_type, digest (default empty), event,
 * event_payload, version (default 1), preimage (Option<String>, hex). */
static int v1_tdx_event_field(void *ctx, struct cursor *c, int k, const char *where, struct err *e)
{
	struct tdx_event *ev = ctx;
	uint64_t v;
	struct mp_item it;
	struct cursor peek = *c;
	const uint8_t *p;
	size_t len;
	switch (k) {
	case 0:
	case 1:
		if (mp_uint(c, where, UINT32_MAX, &v, e))
			return e->code;
		*(k ? &ev->type : &ev->imr) = (uint32_t)v;
		return EXIT_OK;
	case 2:
		return mp_bytes(c, where, V1_HUMAN_BYTES, &ev->digest, e);
	case 3:
		return mp_text(c, where, &ev->name, NULL, NULL, e);
	case 4:
		return mp_bytes(c, where, V1_HUMAN_BYTES, &ev->payload, e);
	case 5:
		return v1_event_version(c, where, ev, e);
	default: /* preimage: nil is None */
		if (mp_read(&peek, where, &it, e))
			return e->code;
		if (it.type == MP_NIL) {
			*c = peek;
			return EXIT_OK;
		}
		if (mp_text(c, where, NULL, &p, &len, e))
			return e->code;
		if (!hex_decode((const char *)p, len, &ev->preimage))
			return err_set(e, EXIT_MALFORMED, "%s: not hex", where);
		ev->has_preimage = true;
		return EXIT_OK;
	}
}

static int v1_tdx_event(struct cursor *c, const char *what, struct tdx_event *ev, struct err *e)
{
	static const char *const names[] = { "imr", "event_type", "digest", "event", "event_payload", "version",
					     "preimage" };
	const struct v1_schema s = { what, names, 7, 0x1b };
	if (v1_struct(c, &s, v1_tdx_event_field, ev, e))
		return e->code;
	return check_event(ev, what, e);
}

/* cc_eventlog::RuntimeEvent: event, payload, version (default 1). */
static int v1_runtime_event_field(void *ctx, struct cursor *c, int k, const char *where, struct err *e)
{
	struct tdx_event *ev = ctx;
	if (k == 0)
		return mp_text(c, where, &ev->name, NULL, NULL, e);
	if (k == 1)
		return mp_bytes(c, where, V1_HUMAN_BYTES, &ev->payload, e);
	return v1_event_version(c, where, ev, e);
}

static int v1_runtime_event(struct cursor *c, const char *what, struct tdx_event *ev, struct err *e)
{
	static const char *const names[] = { "event", "payload", "version" };
	const struct v1_schema s = { what, names, 3, 0x3 };
	ev->imr = 3;
	ev->type = RUNTIME_EVENT_TYPE;
	return v1_struct(c, &s, v1_runtime_event_field, ev, e);
}

/* An array of events, each decoded by one. */
static int v1_events(struct cursor *c, const char *what, struct event_log *log,
		     int (*one)(struct cursor *, const char *, struct tdx_event *, struct err *), struct err *e)
{
	uint64_t n;
	if (mp_array(c, what, &n, e))
		return e->code;
	for (uint64_t i = 0; i < n; i++) {
		char where[128];
		struct tdx_event *ev = eventlog_push(log);
		if (!ev)
			return err_set(e, EXIT_SYSTEM, "out of memory");
		snprintf(where, sizeof where, "%s[%llu]", what, (unsigned long long)i);
		if (one(c, where, ev, e))
			return e->code;
	}
	return EXIT_OK;
}

/* An adjacently tagged enum {kind: str, data: value}: the kind, and a cursor
 * at the data value (skipped over here, decoded once the kind is known). */
struct v1_tagged {
	const uint8_t *kind;
	size_t kind_len;
	struct cursor data;
	char shown[48]; /* the kind, safe to quote in a message */
};

static int v1_tagged_field(void *ctx, struct cursor *c, int k, const char *where, struct err *e)
{
	struct v1_tagged *t = ctx;
	if (k == 0)
		return mp_text(c, where, NULL, &t->kind, &t->kind_len, e);
	t->data = *c;
	return mp_skip(c, where, e);
}

static int v1_tagged(struct cursor *c, const char *what, struct v1_tagged *t, struct err *e)
{
	static const char *const names[] = { "kind", "data" };
	const struct v1_schema s = { what, names, 2, 0x3 };
	if (v1_struct(c, &s, v1_tagged_field, t, e))
		return e->code;
	size_t o = 0;
	for (size_t i = 0; i < t->kind_len && o + 4 < sizeof t->shown; i++)
		t->shown[o++] = t->kind[i] >= 0x20 && t->kind[i] < 0x7f && t->kind[i] != '"' ? (char)t->kind[i] : '?';
	if (o < t->kind_len)
		memcpy(t->shown + o, "...", 3), o += 3;
	t->shown[o] = 0;
	return EXIT_OK;
}

static bool kind_is(const struct v1_tagged *t, const char *s)
{
	return strlen(s) == t->kind_len && !memcmp(t->kind, s, t->kind_len);
}

/* PlatformEvidence: only "tdx" {quote, event_log} is dstack TDX. */
static int v1_platform_field(void *ctx, struct cursor *c, int k, const char *where, struct err *e)
{
	struct dstack_attestation *a = ctx;
	if (k == 0)
		return mp_bytes(c, where, V1_VEC_U8, &a->quote, e);
	return v1_events(c, where, &a->log, v1_tdx_event, e);
}

static int v1_platform(struct dstack_attestation *a, struct cursor *c, const char *where, struct err *e)
{
	static const char *const names[] = { "quote", "event_log" };
	static const char *const others[] = { "gcp-tdx", "nitro-enclave", "aws-nitro-tpm", "sev-snp" };
	struct v1_tagged t = { 0 };
	if (v1_tagged(c, where, &t, e))
		return e->code;
	if (!kind_is(&t, "tdx")) {
		for (size_t i = 0; i < sizeof others / sizeof *others; i++)
			if (kind_is(&t, others[i]))
				return err_set(e, EXIT_MALFORMED, "platform \"%s\" is not dstack TDX (only \"tdx\" is supported)",
					       t.shown);
		return err_set(e, EXIT_MALFORMED, "unknown platform kind \"%s\"", t.shown);
	}
	char path[128];
	snprintf(path, sizeof path, "%s.data", where);
	const struct v1_schema s = { path, names, 2, 0x3 };
	return v1_struct(&t.data, &s, v1_platform_field, a, e);
}

/* StackEvidence: "dstack" {report_data, runtime_events, config}, and
 * "dstack-pod" with report_data_payload as well. */
static int v1_stack_field(void *ctx, struct cursor *c, int k, const char *where, struct err *e)
{
	struct dstack_attestation *a = ctx;
	struct buf rd = { 0 };
	int rc;
	switch (k) {
	case 0:
		rc = mp_bytes(c, where, V1_VEC_U8, &rd, e);
		if (!rc && rd.len != 64)
			rc = err_set(e, EXIT_MALFORMED, "%s: %zu bytes, expected 64", where, rd.len);
		if (!rc)
			memcpy(a->report_data, rd.data, 64);
		buf_free(&rd);
		return rc;
	case 1:
		return v1_events(c, where, &a->runtime, v1_runtime_event, e);
	case 2:
		return mp_text(c, where, &a->config, NULL, NULL, e);
	default:
		return mp_text(c, where, &a->report_data_payload, NULL, NULL, e);
	}
}

static int v1_stack(struct dstack_attestation *a, struct cursor *c, const char *where, struct err *e)
{
	static const char *const names[] = { "report_data", "runtime_events", "config", "report_data_payload" };
	struct v1_tagged t = { 0 };
	if (v1_tagged(c, where, &t, e))
		return e->code;
	a->pod = kind_is(&t, "dstack-pod");
	if (!a->pod && !kind_is(&t, "dstack"))
		return err_set(e, EXIT_MALFORMED, "unknown stack kind \"%s\" (expected \"dstack\" or \"dstack-pod\")",
			       t.shown);
	/* A report_data_payload key in plain "dstack" is an unknown field. */
	char path[128];
	snprintf(path, sizeof path, "%s.data", where);
	const struct v1_schema s = { path, names, a->pod ? 4 : 3, a->pod ? 0xf : 0x7 };
	return v1_struct(&t.data, &s, v1_stack_field, a, e);
}

/* v1::Attestation {version: 1, platform, stack}. */
static int v1_attestation_field(void *ctx, struct cursor *c, int k, const char *where, struct err *e)
{
	struct dstack_attestation *a = ctx;
	uint64_t version;
	if (k == 1)
		return v1_platform(a, c, where, e);
	if (k == 2)
		return v1_stack(a, c, where, e);
	if (mp_uint(c, where, UINT64_MAX, &version, e))
		return e->code;
	if (version != 1)
		return err_set(e, EXIT_MALFORMED, "unsupported attestation version %llu (expected 1)",
			       (unsigned long long)version);
	return EXIT_OK;
}

static int msgpack_v1(struct dstack_attestation *a, struct cursor *c, struct err *e)
{
	static const char *const names[] = { "version", "platform", "stack" };
	const struct v1_schema s = { "v1", names, 3, 0x7 };
	return v1_struct(c, &s, v1_attestation_field, a, e);
}

/* dstack-pod: report_data must be SHA-512("app-data:" || report_data_payload),
 * as dstack's V1 verify_with_time requires (attestation.rs:1041-1049). */
static int check_pod_binding(const struct dstack_attestation *a, struct err *e)
{
	uint8_t want[SHA512_LEN];
	if (sha512_spans(want, SPANS({ "app-data:", 9 }, { a->report_data_payload.data, a->report_data_payload.len })))
		return err_set(e, EXIT_SYSTEM, "attestation: SHA-512 failed");
	if (memcmp(want, a->report_data, 64))
		return err_set(e, EXIT_REJECTED,
			       "attestation: dstack-pod report_data is not SHA-512(\"app-data:\" || report_data_payload)");
	return EXIT_OK;
}

/* The runtime_events list must be the log's runtime events, in order. */
static int check_runtime_consistency(const struct dstack_attestation *a, struct err *e)
{
	size_t r = 0;
	for (size_t i = 0; i < a->log.n; i++) {
		const struct tdx_event *ev = &a->log.ev[i];
		if (ev->type != RUNTIME_EVENT_TYPE)
			continue;
		const struct tdx_event *rt = r < a->runtime.n ? &a->runtime.ev[r] : NULL;
		if (!rt || rt->name.len != ev->name.len || memcmp(rt->name.data, ev->name.data, ev->name.len) ||
		    rt->version != ev->version || rt->payload.len != ev->payload.len ||
		    memcmp(rt->payload.data, ev->payload.data, ev->payload.len))
			return err_set(e, EXIT_REJECTED,
				       "attestation: runtime event %zu differs from event %zu of the event log", r, i);
		r++;
	}
	if (r != a->runtime.n)
		return err_set(e, EXIT_REJECTED, "attestation: %zu runtime events, but the event log has %zu",
			       a->runtime.n, r);
	return EXIT_OK;
}

bool attestation_is_msgpack(uint8_t first)
{
	return (first >= 0x80 && first <= 0x8f) || first == 0xde || first == 0xdf;
}

int attestation_decode(struct dstack_attestation *a, const uint8_t *p, size_t n, struct err *e)
{
	memset(a, 0, sizeof *a);
	struct cursor c = cursor_of(p, n);
	int rc;
	if (n > ATTESTATION_MAX_BYTES)
		return err_set(e, EXIT_MALFORMED, "attestation: %zu bytes exceed the %d-byte limit", n,
			       ATTESTATION_MAX_BYTES);
	if (n && p[0] == 0x00) {
		a->format = ATTESTATION_SCALE_V0;
		rc = scale_v0(a, &c, e);
	} else if (n && attestation_is_msgpack(p[0])) {
		a->format = ATTESTATION_MSGPACK_V1;
		rc = msgpack_v1(a, &c, e);
	} else {
		return err_set(e, EXIT_MALFORMED, "attestation: unknown version byte 0x%02x", n ? p[0] : 0);
	}
	if (rc)
		return err_wrap(e, "attestation");
	if (cur_left(&c))
		return err_set(e, EXIT_MALFORMED, "attestation: %zu trailing bytes after the %s", cur_left(&c),
			       a->format == ATTESTATION_SCALE_V0 ? "VM config" : "msgpack map");
	a->consumed = c.pos;
	if (a->pod && check_pod_binding(a, e))
		return e->code;
	return a->runtime.n ? check_runtime_consistency(a, e) : EXIT_OK;
}

void attestation_free(struct dstack_attestation *a)
{
	buf_free(&a->quote);
	eventlog_free(&a->log);
	eventlog_free(&a->runtime);
	buf_free(&a->config);
	buf_free(&a->report_data_payload);
}

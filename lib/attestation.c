#include "attestation.h"

#include <string.h>

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
		if (!cur_u32le(c, &ev->imr) || !cur_u32le(c, &ev->type))
			return err_set(e, EXIT_MALFORMED, "event %llu: truncated", (unsigned long long)i);
		if (ev->imr > 3)
			return err_set(e, EXIT_MALFORMED, "event %llu: imr %u out of range (0..3)",
				       (unsigned long long)i, ev->imr);
		if (scale_bytes(c, "event digest", &ev->digest, e) || scale_bytes(c, "event name", &ev->name, e) ||
		    scale_bytes(c, "event payload", &ev->payload, e))
			return err_wrap(e, "event %llu", (unsigned long long)i);
		if (ev->digest.len != 0 && ev->digest.len != SHA384_LEN)
			return err_set(e, EXIT_MALFORMED, "event %llu: digest is %zu bytes, expected 48 or none",
				       (unsigned long long)i, ev->digest.len);
		if (ev->type == RUNTIME_EVENT_TYPE && ev->imr != 3)
			return err_set(e, EXIT_MALFORMED, "event %llu: runtime event outside RTMR3",
				       (unsigned long long)i);
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
		    rt->payload.len != ev->payload.len ||
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

int attestation_decode(struct dstack_attestation *a, const uint8_t *p, size_t n, struct err *e)
{
	memset(a, 0, sizeof *a);
	struct cursor c = cursor_of(p, n);
	int rc;
	if (n && p[0] == 0x00) {
		a->format = ATTESTATION_SCALE_V0;
		rc = scale_v0(a, &c, e);
	} else if (n && ((p[0] >= 0x80 && p[0] <= 0x8f) || p[0] == 0xde || p[0] == 0xdf)) {
		return err_set(e, EXIT_MALFORMED, "attestation: msgpack V1 form is not supported yet");
	} else {
		return err_set(e, EXIT_MALFORMED, "attestation: unknown version byte 0x%02x", n ? p[0] : 0);
	}
	if (rc)
		return err_wrap(e, "attestation");
	if (cur_left(&c))
		return err_set(e, EXIT_MALFORMED, "attestation: %zu trailing bytes after the VM config", cur_left(&c));
	a->consumed = c.pos;
	return a->runtime.n ? check_runtime_consistency(a, e) : EXIT_OK;
}

void attestation_free(struct dstack_attestation *a)
{
	buf_free(&a->quote);
	eventlog_free(&a->log);
	eventlog_free(&a->runtime);
	buf_free(&a->config);
}

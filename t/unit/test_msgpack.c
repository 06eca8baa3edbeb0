/* lib/msgpack and the msgpack V1 form of lib/attestation. */
#include <stdbool.h>

#include "attestation.h"
#include "msgpack.h"
#include "unit.h"

#define BYTES(...) ((const uint8_t[]){ __VA_ARGS__ }), sizeof((const uint8_t[]){ __VA_ARGS__ })

static int read1(const uint8_t *p, size_t n, struct mp_item *it, size_t *used)
{
	struct cursor c = cursor_of(p, n);
	struct err e = { 0 };
	int rc = mp_read(&c, "x", it, &e);
	*used = c.pos;
	return rc;
}

static void reads_every_scalar_form(void)
{
	struct mp_item it;
	size_t used;
	CHECK(read1(BYTES(0x05), &it, &used) == 0 && it.type == MP_INT && !it.neg && it.u == 5 && used == 1);
	CHECK(read1(BYTES(0xff), &it, &used) == 0 && it.type == MP_INT && it.neg && it.i == -1);
	CHECK(read1(BYTES(0xcc, 0xfe), &it, &used) == 0 && it.u == 254 && used == 2);
	CHECK(read1(BYTES(0xcd, 0x01, 0x02), &it, &used) == 0 && it.u == 0x102);
	CHECK(read1(BYTES(0xce, 0x01, 0x02, 0x03, 0x04), &it, &used) == 0 && it.u == 0x01020304);
	CHECK(read1(BYTES(0xcf, 0x80, 0, 0, 0, 0, 0, 0, 1), &it, &used) == 0 && it.u == 0x8000000000000001ull);
	CHECK(read1(BYTES(0xd0, 0x05), &it, &used) == 0 && !it.neg && it.u == 5);
	CHECK(read1(BYTES(0xd0, 0x80), &it, &used) == 0 && it.neg && it.i == -128);
	CHECK(read1(BYTES(0xd1, 0xff, 0xfe), &it, &used) == 0 && it.neg && it.i == -2);
	CHECK(read1(BYTES(0xd2, 0x7f, 0xff, 0xff, 0xff), &it, &used) == 0 && !it.neg && it.u == 0x7fffffff);
	CHECK(read1(BYTES(0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfd), &it, &used) == 0 && it.i == -3);
	CHECK(read1(BYTES(0xc0), &it, &used) == 0 && it.type == MP_NIL);
	CHECK(read1(BYTES(0xc3), &it, &used) == 0 && it.type == MP_BOOL && it.u == 1);
	CHECK(read1(BYTES(0xa3, 'a', 'b', 'c'), &it, &used) == 0 && it.type == MP_STR && it.len == 3 && used == 4);
	CHECK(read1(BYTES(0xd9, 2, 'h', 'i'), &it, &used) == 0 && it.type == MP_STR && !memcmp(it.p, "hi", 2));
	CHECK(read1(BYTES(0xda, 0, 1, 'x'), &it, &used) == 0 && it.len == 1);
	CHECK(read1(BYTES(0xc4, 2, 9, 8), &it, &used) == 0 && it.type == MP_BIN && it.p[1] == 8);
	CHECK(read1(BYTES(0xc5, 0, 0), &it, &used) == 0 && it.type == MP_BIN && it.len == 0);
	CHECK(read1(BYTES(0xca, 0, 0, 0, 0), &it, &used) == 0 && it.type == MP_FLOAT && used == 5);
	CHECK(read1(BYTES(0xd4, 1, 2), &it, &used) == 0 && it.type == MP_EXT && used == 3);
	CHECK(read1(BYTES(0xc7, 1, 5, 6), &it, &used) == 0 && it.type == MP_EXT && used == 4);
	CHECK(read1(BYTES(0x92, 1, 2), &it, &used) == 0 && it.type == MP_ARRAY && it.u == 2 && used == 1);
	CHECK(read1(BYTES(0xde, 0, 1, 1, 2), &it, &used) == 0 && it.type == MP_MAP && it.u == 1 && used == 3);
}

static void refuses_reserved_truncated_and_huge(void)
{
	struct mp_item it;
	size_t used;
	CHECK(read1(BYTES(0xc1), &it, &used) == EXIT_MALFORMED && used == 0);
	CHECK(read1((const uint8_t *)"", 0, &it, &used) == EXIT_MALFORMED);
	CHECK(read1(BYTES(0xcd, 0x01), &it, &used) == EXIT_MALFORMED && used == 0);
	CHECK(read1(BYTES(0xa3, 'a'), &it, &used) == EXIT_MALFORMED);
	CHECK(read1(BYTES(0xdb, 0xff, 0xff, 0xff, 0xff, 'a'), &it, &used) == EXIT_MALFORMED);
	CHECK(read1(BYTES(0xc6, 0xff, 0xff, 0xff, 0xff), &it, &used) == EXIT_MALFORMED);
	CHECK(read1(BYTES(0xd8, 1), &it, &used) == EXIT_MALFORMED);
	/* Counts the remaining bytes cannot hold. */
	CHECK(read1(BYTES(0xdd, 0xff, 0xff, 0xff, 0xff, 1, 2), &it, &used) == EXIT_MALFORMED);
	CHECK(read1(BYTES(0xdf, 0, 0, 0, 2, 1, 2, 3), &it, &used) == EXIT_MALFORMED);
	CHECK(read1(BYTES(0x93, 1, 2), &it, &used) == EXIT_MALFORMED);
	struct cursor c = cursor_of(BYTES(0xdd, 0x7f, 0xff, 0xff, 0xff));
	struct err e = { 0 };
	CHECK(mp_read(&c, "quote", &it, &e) == EXIT_MALFORMED && strstr(e.msg, "quote: array of 2147483647"));
}

static void skips_nested_values_up_to_the_limit(void)
{
	uint8_t deep[MP_MAX_DEPTH + 2];
	memset(deep, 0x91, sizeof deep); /* [[[...[0]...]]] */
	struct err e = { 0 };
	deep[MP_MAX_DEPTH] = 0x00;
	struct cursor c = cursor_of(deep, MP_MAX_DEPTH + 1);
	CHECK(mp_skip(&c, "x", &e) == EXIT_OK && c.pos == MP_MAX_DEPTH + 1);
	deep[MP_MAX_DEPTH] = 0x91;
	deep[MP_MAX_DEPTH + 1] = 0x00;
	c = cursor_of(deep, sizeof deep);
	CHECK(mp_skip(&c, "x", &e) == EXIT_MALFORMED && strstr(e.msg, "nested deeper") && c.pos == 0);
	/* A map of two pairs, one holding an array, then something after it. */
	c = cursor_of(BYTES(0x82, 0xa1, 'a', 0x92, 0xc0, 0xc3, 0x01, 0xc4, 0x01, 0x07, 0x2a));
	CHECK(mp_skip(&c, "x", &e) == EXIT_OK && c.pos == 10);
	c = cursor_of(BYTES(0x82, 0xa1, 'a', 0x92, 0xc0));
	CHECK(mp_skip(&c, "x", &e) == EXIT_MALFORMED && c.pos == 0);
}

static void typed_readers_check_range_and_type(void)
{
	struct err e = { 0 };
	uint64_t v;
	struct cursor c = cursor_of(BYTES(0xd0, 0x05));
	CHECK(mp_uint(&c, "imr", 3, &v, &e) == EXIT_MALFORMED && strstr(e.msg, "imr: 5 exceeds 3"));
	c = cursor_of(BYTES(0xd0, 0x02));
	CHECK(mp_uint(&c, "imr", 3, &v, &e) == EXIT_OK && v == 2);
	c = cursor_of(BYTES(0xff));
	CHECK(mp_uint(&c, "imr", 3, &v, &e) == EXIT_MALFORMED && strstr(e.msg, "negative"));
	c = cursor_of(BYTES(0xa1, '1'));
	CHECK(mp_uint(&c, "version", 9, &v, &e) == EXIT_MALFORMED && strstr(e.msg, "version: expected integer, got str"));
	struct buf b = { 0 };
	c = cursor_of(BYTES(0x93, 0x01, 0xcc, 0xff, 0x00));
	CHECK(mp_bytes(&c, "q", MP_BYTES_ARRAY, &b, &e) == EXIT_OK && b.len == 3 && b.data[1] == 0xff);
	buf_reset(&b);
	c = cursor_of(BYTES(0x92, 0x01, 0xcd, 0x01, 0x2c));
	CHECK(mp_bytes(&c, "q", MP_BYTES_ARRAY, &b, &e) == EXIT_MALFORMED && strstr(e.msg, "q[1]: 300 exceeds 255"));
	buf_reset(&b);
	c = cursor_of(BYTES(0xa2, 'h', 'i'));
	CHECK(mp_bytes(&c, "q", MP_BYTES_ARRAY | MP_BYTES_BIN, &b, &e) == EXIT_MALFORMED && c.pos == 0);
	CHECK(mp_bytes(&c, "q", MP_BYTES_STR, &b, &e) == EXIT_OK && b.len == 2);
	buf_reset(&b);
	c = cursor_of(BYTES(0xa2, 0xc3, 0x28));
	CHECK(mp_text(&c, "name", &b, NULL, NULL, &e) == EXIT_MALFORMED && strstr(e.msg, "not valid UTF-8"));
	c = cursor_of(BYTES(0xc4, 2, 'o', 'k'));
	CHECK(mp_text(&c, "name", &b, NULL, NULL, &e) == EXIT_OK && b.len == 2);
	buf_free(&b);
}

/* The V0 sample's bytes, from its JSON. */
static struct buf v0_sample(void)
{
	size_t n;
	char *json = unit_slurp("testdata/dstack-tdx-lite-attestation.json", &n);
	char *h = strstr(json, "\"attestation\": \"") + 16;
	struct buf b = { 0 };
	CHECK(hex_decode(h, (size_t)(strchr(h, '"') - h), &b));
	free(json);
	return b;
}

static bool same_buf(const struct buf *a, const struct buf *b)
{
	return a->len == b->len && (!a->len || !memcmp(a->data, b->data, a->len));
}

static bool same_log(const struct event_log *a, const struct event_log *b, int version)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		const struct tdx_event *x = &a->ev[i], *y = &b->ev[i];
		int want = y->type == RUNTIME_EVENT_TYPE ? version : 1;
		if (x->imr != y->imr || x->type != y->type || !same_buf(&x->digest, &y->digest) ||
		    !same_buf(&x->name, &y->name) || !same_buf(&x->payload, &y->payload) || x->version != want)
			return false;
	}
	return true;
}

static void v1_vector_decodes_to_the_v0_content(void)
{
	struct buf v0 = v0_sample();
	const char *files[] = { "testdata/dstack-attestation-v1.msgpack", "testdata/dstack-attestation-v1-v2events.msgpack" };
	for (int f = 0; f < 2; f++) {
		size_t n;
		char *raw = unit_slurp(files[f], &n);
		struct dstack_attestation a0, a1;
		struct err e = { 0 };
		CHECK(attestation_decode(&a0, v0.data, v0.len, &e) == EXIT_OK && a0.format == ATTESTATION_SCALE_V0);
		CHECK(attestation_decode(&a1, (uint8_t *)raw, n, &e) == EXIT_OK);
		CHECK(a1.format == ATTESTATION_MSGPACK_V1 && !a1.pod && a1.consumed == n);
		if (f == 0) {
			CHECK(same_buf(&a0.quote, &a1.quote));
		} else { /* the V2 vector rewrote RTMR3 (quote bytes 520..567) only */
			CHECK(a0.quote.len == a1.quote.len && !memcmp(a0.quote.data, a1.quote.data, 520));
			CHECK(memcmp(a0.quote.data + 520, a1.quote.data + 520, 48));
			CHECK(!memcmp(a0.quote.data + 568, a1.quote.data + 568, a0.quote.len - 568));
		}
		CHECK(!memcmp(a0.report_data, a1.report_data, 64));
		CHECK(same_buf(&a0.config, &a1.config));
		CHECK(a1.log.n == 12 && same_log(&a1.log, &a0.log, f + 1));
		CHECK(a1.runtime.n == 9 && same_log(&a1.runtime, &a0.runtime, f + 1));
		attestation_free(&a0);
		attestation_free(&a1);
		free(raw);
	}
	buf_free(&v0);
}

static void v1_every_truncation_and_trailing_byte_is_malformed(void)
{
	size_t n;
	char *raw = unit_slurp("testdata/dstack-attestation-v1.msgpack", &n);
	int bad = 0;
	for (size_t len = 0; len < n; len++) {
		struct dstack_attestation a;
		struct err e = { 0 };
		if (attestation_decode(&a, (uint8_t *)raw, len, &e) != EXIT_MALFORMED)
			bad++;
		attestation_free(&a);
	}
	CHECK(bad == 0);
	char *more = malloc(n + 1);
	memcpy(more, raw, n);
	more[n] = 0x00;
	struct dstack_attestation a;
	struct err e = { 0 };
	CHECK(attestation_decode(&a, (uint8_t *)more, n + 1, &e) == EXIT_MALFORMED && strstr(e.msg, "1 trailing bytes"));
	attestation_free(&a);
	free(more);
	free(raw);
}

/* A tiny msgpack writer for hand-made attestations. */
static void w_raw(struct buf *b, const void *p, size_t n)
{
	buf_append(b, p, n);
}
static void w_byte(struct buf *b, uint8_t v)
{
	w_raw(b, &v, 1);
}
static void w_str(struct buf *b, const char *s)
{
	w_byte(b, (uint8_t)(0xa0 | strlen(s))); /* fixstr: every string here is under 32 bytes */
	w_raw(b, s, strlen(s));
}

/* {version, platform: tdx {quote: bin(4), event_log: [EVENT]}, stack: STACK {report_data: [RD zeros],
 * runtime_events: [RUNTIME], config: ""}}, with EVENT and RUNTIME given as raw msgpack maps (or NULL). */
static int decode_doc(const char *version_raw, size_t vlen, const char *platform, const uint8_t *event, size_t elen,
		      const char *stack, int rd_len, const uint8_t *rt, size_t rtlen, struct err *e)
{
	struct buf b = { 0 };
	w_byte(&b, 0x83);
	w_str(&b, "version");
	w_raw(&b, version_raw, vlen);
	w_str(&b, "platform");
	w_byte(&b, 0x82);
	w_str(&b, "kind");
	w_str(&b, platform);
	w_str(&b, "data");
	w_byte(&b, 0x82);
	w_str(&b, "quote");
	w_raw(&b, "\xc4\x04qqqq", 6);
	w_str(&b, "event_log");
	w_byte(&b, event ? 0x91 : 0x90);
	if (event)
		w_raw(&b, event, elen);
	w_str(&b, "stack");
	w_byte(&b, 0x82);
	w_str(&b, "data"); /* data before kind: serde accepts either order */
	w_byte(&b, 0x83);
	w_str(&b, "report_data");
	w_raw(&b, "\xdc", 1);
	w_byte(&b, 0);
	w_byte(&b, (uint8_t)rd_len);
	for (int i = 0; i < rd_len; i++)
		w_byte(&b, 0);
	w_str(&b, "runtime_events");
	w_byte(&b, rt ? 0x91 : 0x90);
	if (rt)
		w_raw(&b, rt, rtlen);
	w_str(&b, "config");
	w_str(&b, "");
	w_str(&b, "kind");
	w_str(&b, stack);
	struct dstack_attestation a;
	int rc = attestation_decode(&a, b.data, b.len, e);
	attestation_free(&a);
	buf_free(&b);
	return rc;
}

#define EV_HEAD 0x84, 0xa3, 'i', 'm', 'r', 0x03, 0xaa, 'e', 'v', 'e', 'n', 't', '_', 't', 'y', 'p', 'e', 0xce, 0x08, 0, 0, 1, \
		0xa5, 'e', 'v', 'e', 'n', 't', 0xa1, 'x', 0xad, 'e', 'v', 'e', 'n', 't', '_', 'p', 'a', 'y', 'l', 'o', 'a', 'd'

static void v1_hand_made_documents(void)
{
	struct err e = { 0 };
	/* A minimal valid one: empty log, one stack order swap. */
	CHECK(decode_doc("\x01", 1, "tdx", NULL, 0, "dstack", 64, NULL, 0, &e) == EXIT_OK);
	/* The version in another integer encoding is still 1; 0 and 2 are refused. */
	CHECK(decode_doc("\xcf\0\0\0\0\0\0\0\x01", 9, "tdx", NULL, 0, "dstack", 64, NULL, 0, &e) == EXIT_OK);
	CHECK(decode_doc("\x02", 1, "tdx", NULL, 0, "dstack", 64, NULL, 0, &e) == EXIT_MALFORMED &&
	      strstr(e.msg, "unsupported attestation version 2"));
	CHECK(decode_doc("\xa1\x31", 2, "tdx", NULL, 0, "dstack", 64, NULL, 0, &e) == EXIT_MALFORMED &&
	      strstr(e.msg, "v1.version: expected integer, got str"));
	CHECK(decode_doc("\x01", 1, "sev-snp", NULL, 0, "dstack", 64, NULL, 0, &e) == EXIT_MALFORMED &&
	      strstr(e.msg, "platform \"sev-snp\" is not dstack TDX"));
	CHECK(decode_doc("\x01", 1, "t\x01x", NULL, 0, "dstack", 64, NULL, 0, &e) == EXIT_MALFORMED &&
	      strstr(e.msg, "unknown platform kind \"t?x\""));
	CHECK(decode_doc("\x01", 1, "tdx", NULL, 0, "dstack", 63, NULL, 0, &e) == EXIT_MALFORMED &&
	      strstr(e.msg, "attestation: v1.stack.data.report_data: 63 bytes, expected 64"));
	/* dstack-pod needs its report_data_payload. */
	CHECK(decode_doc("\x01", 1, "tdx", NULL, 0, "dstack-pod", 64, NULL, 0, &e) == EXIT_MALFORMED &&
	      strstr(e.msg, "missing field \"report_data_payload\""));

	/* A runtime event in the log and in the runtime list (its payload there an array of bytes). */
	static const uint8_t ev_ok[] = { EV_HEAD, 0xc4, 0x01, 'p' };
	static const uint8_t rt_ok[] = { 0x83, 0xa5, 'e', 'v', 'e', 'n', 't', 0xa1, 'x', 0xa7, 'p', 'a', 'y', 'l', 'o',
					 'a', 'd', 0x91, 'p', 0xa7, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0x01 };
	CHECK(decode_doc("\x01", 1, "tdx", ev_ok, sizeof ev_ok, "dstack", 64, rt_ok, sizeof rt_ok, &e) == EXIT_OK);
	/* The runtime list must repeat the log's runtime events, version included. */
	static const uint8_t rt_v2[] = { 0x83, 0xa5, 'e', 'v', 'e', 'n', 't', 0xa1, 'x', 0xa7, 'p', 'a', 'y', 'l', 'o',
					 'a', 'd', 0xa1, 'p', 0xa7, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0x02 };
	CHECK(decode_doc("\x01", 1, "tdx", ev_ok, sizeof ev_ok, "dstack", 64, rt_v2, sizeof rt_v2, &e) == EXIT_REJECTED);
	/* Event field errors name the event. */
	static const uint8_t ev_imr[] = { 0x85, 0xa3, 'i', 'm', 'r', 0x04, 0xaa, 'e', 'v', 'e', 'n', 't', '_', 't', 'y', 'p',
					  'e', 0x0a, 0xa5, 'e', 'v', 'e', 'n', 't', 0xa0, 0xad, 'e', 'v', 'e', 'n', 't', '_',
					  'p', 'a', 'y', 'l', 'o', 'a', 'd', 0xc4, 0x00, 0xa6, 'd', 'i', 'g', 'e', 's', 't',
					  0xc4, 0x00 };
	CHECK(decode_doc("\x01", 1, "tdx", ev_imr, sizeof ev_imr, "dstack", 64, NULL, 0, &e) == EXIT_MALFORMED &&
	      strstr(e.msg, "attestation: v1.platform.data.event_log[0]: imr 4 out of range"));
	static const uint8_t ev_dup[] = { EV_HEAD, 0xc4, 0x00, 0xa3, 'i', 'm', 'r', 0x03 };
	uint8_t dup[64];
	memcpy(dup, ev_dup, sizeof ev_dup);
	dup[0] = 0x85;
	CHECK(decode_doc("\x01", 1, "tdx", dup, sizeof ev_dup, "dstack", 64, NULL, 0, &e) == EXIT_MALFORMED &&
	      strstr(e.msg, "duplicate field \"imr\""));
	static const uint8_t ev_ver[] = { EV_HEAD, 0xc4, 0x00, 0xa7, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0x03 };
	memcpy(dup, ev_ver, sizeof ev_ver);
	dup[0] = 0x85;
	CHECK(decode_doc("\x01", 1, "tdx", dup, sizeof ev_ver, "dstack", 64, NULL, 0, &e) == EXIT_MALFORMED &&
	      strstr(e.msg, "unknown event log version 3"));
	/* Unknown fields are skipped, a nil preimage is None, a hex one is kept. */
	static const uint8_t ev_extra[] = { EV_HEAD, 0xc4, 0x00, 0xa5, 'o', 't', 'h', 'e', 'r', 0x91, 0x80,
					    0xa8, 'p', 'r', 'e', 'i', 'm', 'a', 'g', 'e', 0xc0 };
	uint8_t extra[sizeof ev_extra];
	memcpy(extra, ev_extra, sizeof extra);
	extra[0] = 0x86;
	static const uint8_t rt_empty[] = { 0x82, 0xa5, 'e', 'v', 'e', 'n', 't', 0xa1, 'x', 0xa7, 'p', 'a', 'y', 'l', 'o',
					    'a', 'd', 0xc4, 0x00 };
	CHECK(decode_doc("\x01", 1, "tdx", extra, sizeof extra, "dstack", 64, rt_empty, sizeof rt_empty, &e) == EXIT_OK);
	extra[sizeof extra - 1] = 0x05; /* preimage: an integer */
	CHECK(decode_doc("\x01", 1, "tdx", extra, sizeof extra, "dstack", 64, rt_empty, sizeof rt_empty, &e) ==
		      EXIT_MALFORMED &&
	      strstr(e.msg, "preimage: expected str, got integer"));
	/* A missing required field. */
	static const uint8_t ev_short[] = { 0x81, 0xa3, 'i', 'm', 'r', 0x03 };
	CHECK(decode_doc("\x01", 1, "tdx", ev_short, sizeof ev_short, "dstack", 64, NULL, 0, &e) == EXIT_MALFORMED &&
	      strstr(e.msg, "missing field \"event_type\""));
}

static void refuses_oversized_input(void)
{
	struct dstack_attestation a;
	struct err e = { 0 };
	uint8_t one = 0x80;
	/* Only the length is looked at before the refusal. */
	CHECK(attestation_decode(&a, &one, (size_t)ATTESTATION_MAX_BYTES + 1, &e) == EXIT_MALFORMED &&
	      strstr(e.msg, "exceed"));
	attestation_free(&a);
}

int main(void)
{
	RUN(reads_every_scalar_form);
	RUN(refuses_reserved_truncated_and_huge);
	RUN(skips_nested_values_up_to_the_limit);
	RUN(typed_readers_check_range_and_type);
	RUN(v1_vector_decodes_to_the_v0_content);
	RUN(v1_every_truncation_and_trailing_byte_is_malformed);
	RUN(v1_hand_made_documents);
	RUN(refuses_oversized_input);
	return UNIT_DONE();
}

#include "msgpack.h"

#include <stdio.h>
#include <string.h>

const char *mp_type_name(enum mp_type t)
{
	static const char *names[] = { "nil", "bool", "integer", "float", "str", "bin", "array", "map", "ext" };
	return names[t];
}

/* A big-endian length of 1, 2 or 4 bytes. */
static bool be_len(struct cursor *c, int bytes, uint64_t *n)
{
	uint8_t b8;
	uint16_t b16;
	uint32_t b32;
	switch (bytes) {
	case 1:
		if (!cur_u8(c, &b8))
			return false;
		*n = b8;
		return true;
	case 2:
		if (!cur_u16be(c, &b16))
			return false;
		*n = b16;
		return true;
	default:
		if (!cur_u32be(c, &b32))
			return false;
		*n = b32;
		return true;
	}
}

/* A signed big-endian integer of 1, 2, 4 or 8 bytes. */
static bool be_int(struct cursor *c, int bytes, struct mp_item *it)
{
	uint64_t raw;
	if (bytes == 8) {
		if (!cur_u64be(c, &raw))
			return false;
	} else if (!be_len(c, bytes, &raw)) {
		return false;
	}
	int64_t v;
	if (bytes == 8)
		v = (int64_t)raw; /* implementation-defined in C11 for raw > INT64_MAX; two's complement on every target */
	else if (raw >> (8 * bytes - 1))
		v = (int64_t)raw - ((int64_t)1 << (8 * bytes));
	else
		v = (int64_t)raw;
	it->type = MP_INT;
	it->neg = v < 0;
	if (it->neg)
		it->i = v;
	else
		it->u = (uint64_t)v;
	return true;
}

/* The payload of a str, bin or ext whose length is n. */
static int take_payload(struct cursor *c, const char *what, struct mp_item *it, uint64_t n, struct err *e)
{
	if (n > cur_left(c))
		return err_set(e, EXIT_MALFORMED, "%s: %s length %llu exceeds the %zu bytes left", what,
			       mp_type_name(it->type), (unsigned long long)n, cur_left(c));
	it->len = (size_t)n;
	it->p = cur_take(c, it->len);
	return EXIT_OK;
}

static int read_item(struct cursor *c, const char *what, struct mp_item *it, struct err *e)
{
	uint8_t m;
	uint64_t n = 0;
	memset(it, 0, sizeof *it);
	if (!cur_u8(c, &m))
		return err_set(e, EXIT_MALFORMED, "%s: truncated (no value)", what);
	if (m <= 0x7f || m >= 0xe0) { /* positive and negative fixint */
		it->type = MP_INT;
		it->neg = m >= 0xe0;
		if (it->neg)
			it->i = (int64_t)m - 256;
		else
			it->u = m;
		return EXIT_OK;
	}
	if (m <= 0x8f || (m >= 0x90 && m <= 0x9f)) {
		it->type = m <= 0x8f ? MP_MAP : MP_ARRAY;
		n = m & 0x0f;
		goto container;
	}
	if (m <= 0xbf) {
		it->type = MP_STR;
		return take_payload(c, what, it, m & 0x1f, e);
	}
	switch (m) {
	case 0xc0:
		it->type = MP_NIL;
		return EXIT_OK;
	case 0xc2:
	case 0xc3:
		it->type = MP_BOOL;
		it->u = m == 0xc3;
		return EXIT_OK;
	case 0xc4:
	case 0xc5:
	case 0xc6:
		it->type = MP_BIN;
		if (!be_len(c, 1 << (m - 0xc4), &n))
			break;
		return take_payload(c, what, it, n, e);
	case 0xc7:
	case 0xc8:
	case 0xc9:
		it->type = MP_EXT;
		if (!be_len(c, 1 << (m - 0xc7), &n))
			break;
		return take_payload(c, what, it, n + 1, e); /* the type byte, then the data */
	case 0xca:
	case 0xcb:
		it->type = MP_FLOAT;
		if (!cur_take(c, m == 0xca ? 4 : 8))
			break;
		return EXIT_OK;
	case 0xcc:
	case 0xcd:
	case 0xce:
		it->type = MP_INT;
		if (!be_len(c, 1 << (m - 0xcc), &it->u))
			break;
		return EXIT_OK;
	case 0xcf:
		it->type = MP_INT;
		if (!cur_u64be(c, &it->u))
			break;
		return EXIT_OK;
	case 0xd0:
	case 0xd1:
	case 0xd2:
	case 0xd3:
		if (!be_int(c, 1 << (m - 0xd0), it))
			break;
		return EXIT_OK;
	case 0xd4:
	case 0xd5:
	case 0xd6:
	case 0xd7:
	case 0xd8:
		it->type = MP_EXT;
		return take_payload(c, what, it, (1u << (m - 0xd4)) + 1, e);
	case 0xd9:
	case 0xda:
	case 0xdb:
		it->type = MP_STR;
		if (!be_len(c, 1 << (m - 0xd9), &n))
			break;
		return take_payload(c, what, it, n, e);
	case 0xdc:
	case 0xdd:
		it->type = MP_ARRAY;
		if (!be_len(c, m == 0xdc ? 2 : 4, &n))
			break;
		goto container;
	case 0xde:
	case 0xdf:
		it->type = MP_MAP;
		if (!be_len(c, m == 0xde ? 2 : 4, &n))
			break;
		goto container;
	default:
		return err_set(e, EXIT_MALFORMED, "%s: reserved msgpack marker 0x%02x", what, m);
	}
	return err_set(e, EXIT_MALFORMED, "%s: truncated %s", what, mp_type_name(it->type));
container:
	if (n > cur_left(c) / (it->type == MP_MAP ? 2 : 1))
		return err_set(e, EXIT_MALFORMED, "%s: %s of %llu %s cannot fit in the %zu bytes left", what,
			       mp_type_name(it->type), (unsigned long long)n,
			       it->type == MP_MAP ? "pairs" : "elements", cur_left(c));
	it->u = n;
	return EXIT_OK;
}

int mp_read(struct cursor *c, const char *what, struct mp_item *it, struct err *e)
{
	struct cursor save = *c;
	int rc = read_item(c, what, it, e);
	if (rc)
		*c = save;
	return rc;
}

int mp_skip(struct cursor *c, const char *what, struct err *e)
{
	struct cursor save = *c;
	uint64_t left[MP_MAX_DEPTH + 1];
	int depth = 0;
	left[0] = 1;
	while (depth >= 0) {
		if (left[depth] == 0) {
			depth--;
			continue;
		}
		left[depth]--;
		struct mp_item it;
		if (read_item(c, what, &it, e))
			goto fail;
		if ((it.type == MP_ARRAY || it.type == MP_MAP) && it.u) {
			if (depth == MP_MAX_DEPTH) {
				err_set(e, EXIT_MALFORMED, "%s: nested deeper than %d levels", what, MP_MAX_DEPTH);
				goto fail;
			}
			left[++depth] = it.type == MP_MAP ? 2 * it.u : it.u;
		}
	}
	return EXIT_OK;
fail:
	*c = save;
	return e->code;
}

/* Reads one item and requires its type. */
static int expect(struct cursor *c, const char *what, enum mp_type want, struct mp_item *it, struct err *e)
{
	struct cursor save = *c;
	if (mp_read(c, what, it, e))
		return e->code;
	if (it->type != want) {
		*c = save;
		return err_set(e, EXIT_MALFORMED, "%s: expected %s, got %s", what, mp_type_name(want),
			       mp_type_name(it->type));
	}
	return EXIT_OK;
}

int mp_array(struct cursor *c, const char *what, uint64_t *n, struct err *e)
{
	struct mp_item it;
	if (expect(c, what, MP_ARRAY, &it, e))
		return e->code;
	*n = it.u;
	return EXIT_OK;
}

int mp_map(struct cursor *c, const char *what, uint64_t *n, struct err *e)
{
	struct mp_item it;
	if (expect(c, what, MP_MAP, &it, e))
		return e->code;
	*n = it.u;
	return EXIT_OK;
}

/* An integer item in 0..max, else the error naming what. */
static int check_uint(const struct mp_item *it, const char *what, uint64_t max, struct err *e)
{
	if (it->type != MP_INT)
		return err_set(e, EXIT_MALFORMED, "%s: expected integer, got %s", what, mp_type_name(it->type));
	if (it->neg)
		return err_set(e, EXIT_MALFORMED, "%s: %lld is negative", what, (long long)it->i);
	if (it->u > max)
		return err_set(e, EXIT_MALFORMED, "%s: %llu exceeds %llu", what, (unsigned long long)it->u,
			       (unsigned long long)max);
	return EXIT_OK;
}

int mp_uint(struct cursor *c, const char *what, uint64_t max, uint64_t *v, struct err *e)
{
	struct cursor save = *c;
	struct mp_item it;
	if (mp_read(c, what, &it, e))
		return e->code;
	if (check_uint(&it, what, max, e)) {
		*c = save;
		return e->code;
	}
	*v = it.u;
	return EXIT_OK;
}

int mp_text(struct cursor *c, const char *what, struct buf *out, const uint8_t **p, size_t *len, struct err *e)
{
	struct cursor save = *c;
	struct mp_item it;
	if (mp_read(c, what, &it, e))
		return e->code;
	if (it.type != MP_STR && it.type != MP_BIN) {
		*c = save;
		return err_set(e, EXIT_MALFORMED, "%s: expected str, got %s", what, mp_type_name(it.type));
	}
	if (!utf8_valid(it.p, it.len)) {
		*c = save;
		return err_set(e, EXIT_MALFORMED, "%s: not valid UTF-8", what);
	}
	if (out && !buf_append(out, it.p, it.len))
		return err_set(e, EXIT_SYSTEM, "%s: out of memory", what);
	if (p) {
		*p = it.p;
		*len = it.len;
	}
	return EXIT_OK;
}

int mp_bytes(struct cursor *c, const char *what, unsigned accept, struct buf *out, struct err *e)
{
	struct cursor save = *c;
	struct mp_item it;
	if (mp_read(c, what, &it, e))
		return e->code;
	if ((it.type == MP_BIN && (accept & MP_BYTES_BIN)) || (it.type == MP_STR && (accept & MP_BYTES_STR))) {
		if (!buf_append(out, it.p, it.len))
			return err_set(e, EXIT_SYSTEM, "%s: out of memory", what);
		return EXIT_OK;
	}
	if (it.type != MP_ARRAY || !(accept & MP_BYTES_ARRAY)) {
		*c = save;
		return err_set(e, EXIT_MALFORMED, "%s: expected %s, got %s", what,
			       accept & MP_BYTES_ARRAY ? "an array of bytes or bin" : "bin", mp_type_name(it.type));
	}
	if (!buf_reserve(out, (size_t)it.u)) /* it.u <= bytes left: the header check */
		return err_set(e, EXIT_SYSTEM, "%s: out of memory", what);
	for (uint64_t i = 0; i < it.u; i++) {
		struct cursor at = *c;
		struct mp_item b;
		if (read_item(c, what, &b, e) || check_uint(&b, what, 255, e)) {
			char name[96]; /* only now: formatting it per byte would dominate decoding */
			snprintf(name, sizeof name, "%.64s[%llu]", what, (unsigned long long)i);
			if (!read_item(&at, name, &b, e))
				check_uint(&b, name, 255, e);
			*c = save;
			return e->code;
		}
		uint8_t byte = (uint8_t)b.u;
		buf_append(out, &byte, 1);
	}
	return EXIT_OK;
}

#include "bytes.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool buf_reserve(struct buf *b, size_t extra)
{
	if (extra > SIZE_MAX - b->len - 1)
		return false;
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	uint8_t *p = realloc(b->data, cap);
	if (!p)
		return false;
	/* Text by construction: a buffer handed out is NUL-terminated even when
	 * nothing was ever appended to it. */
	p[b->len] = 0;
	b->data = p;
	b->cap = cap;
	return true;
}

bool buf_append(struct buf *b, const void *p, size_t n)
{
	if (!buf_reserve(b, n))
		return false;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = 0;
	return true;
}

bool buf_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

bool buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !buf_reserve(b, (size_t)n))
		return false;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return true;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = 0;
}

void buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

static const char hexdigits[] = "0123456789abcdef";

void hex_encode(const uint8_t *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hexdigits[p[i] >> 4];
		out[2 * i + 1] = hexdigits[p[i] & 15];
	}
	out[2 * n] = 0;
}

void hex_encode_upper(const uint8_t *p, size_t n, char *out)
{
	hex_encode(p, n, out);
	for (size_t i = 0; i < 2 * n; i++)
		if (out[i] >= 'a')
			out[i] = (char)(out[i] - 'a' + 'A');
}

bool buf_append_hex(struct buf *b, const uint8_t *p, size_t n)
{
	if (n > (SIZE_MAX - 1) / 2 || !buf_reserve(b, 2 * n))
		return false;
	hex_encode(p, n, (char *)b->data + b->len);
	b->len += 2 * n;
	return true;
}

/* Nibble value + 1 of every byte, 0 for a non-hex character: one load per
 * character instead of three range tests (hex dominates event-log parsing). */
static const uint8_t hex_nibble_plus1[256] = {
	['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5,
	['5'] = 6, ['6'] = 7, ['7'] = 8, ['8'] = 9, ['9'] = 10,
	['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
	['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

static int hexval(unsigned char c)
{
	return (int)hex_nibble_plus1[c] - 1;
}

static void skip_0x(const char **s, size_t *n)
{
	if (*n >= 2 && (*s)[0] == '0' && ((*s)[1] == 'x' || (*s)[1] == 'X')) {
		*s += 2;
		*n -= 2;
	}
}

bool hex_decode(const char *s, size_t n, struct buf *out)
{
	skip_0x(&s, &n);
	if (n % 2 || !buf_reserve(out, n / 2))
		return false;
	uint8_t *dst = out->data + out->len;
	for (size_t i = 0; i < n; i += 2) {
		int hi = hexval((unsigned char)s[i]), lo = hexval((unsigned char)s[i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		dst[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	out->len += n / 2;
	out->data[out->len] = 0;
	return true;
}

bool hex_decode_exact(const char *s, size_t n, uint8_t *out, size_t outlen)
{
	skip_0x(&s, &n);
	if (n != 2 * outlen)
		return false;
	for (size_t i = 0; i < outlen; i++) {
		int hi = hexval((unsigned char)s[2 * i]), lo = hexval((unsigned char)s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

static bool is_space(uint8_t c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

bool looks_like_hex(const uint8_t *p, size_t n)
{
	size_t i = 0, digits = 0;
	while (i < n && is_space(p[i]))
		i++;
	if (n - i >= 2 && p[i] == '0' && (p[i + 1] == 'x' || p[i + 1] == 'X'))
		i += 2;
	for (; i < n; i++) {
		if (is_space(p[i]))
			continue;
		if (hexval(p[i]) < 0)
			return false;
		digits++;
	}
	return digits > 0 && digits % 2 == 0;
}

bool hex_decode_text(const uint8_t *p, size_t n, struct buf *out)
{
	struct buf compact = { 0 };
	bool ok = true;
	for (size_t i = 0; i < n && ok; i++)
		if (!is_space(p[i]))
			ok = buf_append(&compact, &p[i], 1);
	ok = ok && hex_decode((const char *)compact.data, compact.len, out);
	buf_free(&compact);
	return ok;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

bool base64_decode(const char *s, size_t n, struct buf *out)
{
	if (n % 4)
		return false;
	for (size_t i = 0; i < n; i += 4) {
		int v[4];
		size_t pad = 0;
		for (int k = 0; k < 4; k++) {
			/* '=' only in the last group, only at its end. */
			if (s[i + k] == '=' && i + 4 == n && k >= 2 && (k == 3 || s[i + 3] == '=')) {
				v[k] = 0;
				pad++;
			} else if ((v[k] = b64val((unsigned char)s[i + k])) < 0) {
				return false;
			}
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
		/* Canonical: the bits the padding drops must be zero. */
		if ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff)))
			return false;
		uint8_t b[3] = { (uint8_t)(w >> 16), (uint8_t)(w >> 8), (uint8_t)w };
		if (!buf_append(out, b, 3 - pad))
			return false;
	}
	return true;
}

size_t utf8_seq_len(const uint8_t *s, size_t n)
{
	uint32_t cp;
	size_t len;
	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	static const uint32_t min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
	if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

bool utf8_valid(const uint8_t *p, size_t n)
{
	for (size_t i = 0, l; i < n; i += l)
		if (!(l = utf8_seq_len(p + i, n - i)))
			return false;
	return true;
}

size_t cur_left(const struct cursor *c)
{
	return c->failed ? 0 : c->len - c->pos;
}

const uint8_t *cur_take(struct cursor *c, size_t n)
{
	if (c->failed || n > c->len - c->pos) {
		c->failed = true;
		return NULL;
	}
	const uint8_t *p = c->p + c->pos;
	c->pos += n;
	return p;
}

bool cur_u8(struct cursor *c, uint8_t *v)
{
	const uint8_t *p = cur_take(c, 1);
	if (p)
		*v = p[0];
	return p != NULL;
}

bool cur_u16le(struct cursor *c, uint16_t *v)
{
	const uint8_t *p = cur_take(c, 2);
	if (p)
		*v = (uint16_t)(p[0] | p[1] << 8);
	return p != NULL;
}

bool cur_u32le(struct cursor *c, uint32_t *v)
{
	const uint8_t *p = cur_take(c, 4);
	if (p)
		*v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
	return p != NULL;
}

bool cur_u16be(struct cursor *c, uint16_t *v)
{
	const uint8_t *p = cur_take(c, 2);
	if (p)
		*v = (uint16_t)(p[0] << 8 | p[1]);
	return p != NULL;
}

bool cur_u32be(struct cursor *c, uint32_t *v)
{
	const uint8_t *p = cur_take(c, 4);
	if (p)
		*v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
	return p != NULL;
}

bool cur_u64be(struct cursor *c, uint64_t *v)
{
	uint32_t hi, lo;
	struct cursor save = *c;
	if (!cur_u32be(c, &hi) || !cur_u32be(c, &lo)) {
		*c = save;
		return false;
	}
	*v = (uint64_t)hi << 32 | lo;
	return true;
}

bool cur_u64le(struct cursor *c, uint64_t *v)
{
	uint32_t lo, hi;
	struct cursor save = *c;
	if (!cur_u32le(c, &lo) || !cur_u32le(c, &hi)) {
		*c = save;
		return false;
	}
	*v = (uint64_t)hi << 32 | lo;
	return true;
}

uint64_t le_load(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

void le_store(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

bool ct_equal(const void *a, const void *b, size_t n)
{
	const uint8_t *x = a, *y = b;
	uint8_t d = 0;
	for (size_t i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

bool all_zero(const uint8_t *p, size_t n)
{
	uint8_t d = 0;
	for (size_t i = 0; i < n; i++)
		d |= p[i];
	return d == 0;
}

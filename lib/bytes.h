/* bytes: growable byte buffers, hex, and the one bounds-checked cursor that
 * all binary parsing goes through. */
#ifndef LIB_BYTES_H
#define LIB_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t *data;
	size_t len, cap;
};

/* All buf functions keep one NUL byte after data[len] so text can be used as a
 * C string; they return false only when memory runs out. */
bool buf_reserve(struct buf *b, size_t extra);
bool buf_append(struct buf *b, const void *p, size_t n);
bool buf_append_str(struct buf *b, const char *s);
bool buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_reset(struct buf *b);
void buf_free(struct buf *b);

/* Lowercase hex of n bytes into out (2n+1 chars, NUL-terminated). */
void hex_encode(const uint8_t *p, size_t n, char *out);
/* The same in uppercase (Intel's collateral and API parameters). */
void hex_encode_upper(const uint8_t *p, size_t n, char *out);
bool buf_append_hex(struct buf *b, const uint8_t *p, size_t n);

/* Decodes hex (either case, optional 0x prefix) into out, appending.
 * Returns false on odd length or a non-hex character. */
bool hex_decode(const char *s, size_t n, struct buf *out);
/* Same, into a fixed-size array: the input must decode to exactly outlen bytes. */
bool hex_decode_exact(const char *s, size_t n, uint8_t *out, size_t outlen);
/* True when the text is only hex digits (optional 0x) and ASCII whitespace. */
bool looks_like_hex(const uint8_t *p, size_t n);
/* Decodes hex text that may contain whitespace (e.g. a file written by --hex). */
bool hex_decode_text(const uint8_t *p, size_t n, struct buf *out);

/* Decodes canonical base64 (RFC 4648, padded, no whitespace) appending to
 * out; false on any other text, so one value has one encoding. */
bool base64_decode(const char *s, size_t n, struct buf *out);

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid
 * (overlong forms, surrogates and code points above U+10FFFF are invalid). */
size_t utf8_seq_len(const uint8_t *s, size_t n);
bool utf8_valid(const uint8_t *p, size_t n);

/* A read-only window over untrusted bytes. Every read checks the bounds. A
 * failed read poisons the cursor: it and every later read return false/NULL
 * (and cur_left 0), so a parser that forgets one check cannot go on with a
 * NULL field. A parser that backtracks restores a copy saved before the read. */
struct cursor {
	const uint8_t *p;
	size_t len, pos;
	bool failed;
};

static inline struct cursor cursor_of(const uint8_t *p, size_t len)
{
	struct cursor c = { p, len, 0, false };
	return c;
}
size_t cur_left(const struct cursor *c);
/* True while no read has failed. */
static inline bool cur_ok(const struct cursor *c)
{
	return !c->failed;
}
const uint8_t *cur_take(struct cursor *c, size_t n);
bool cur_u8(struct cursor *c, uint8_t *v);
bool cur_u16le(struct cursor *c, uint16_t *v);
bool cur_u32le(struct cursor *c, uint32_t *v);
bool cur_u16be(struct cursor *c, uint16_t *v);
bool cur_u32be(struct cursor *c, uint32_t *v);
bool cur_u64be(struct cursor *c, uint64_t *v);
bool cur_u64le(struct cursor *c, uint64_t *v);

/* Little-endian integers of n (1..8) bytes at p - for fixed layouts whose
 * bounds the caller has already checked (a cursor read, a local buffer). */
uint64_t le_load(const uint8_t *p, int n);
void le_store(uint8_t *p, uint64_t v, int n);

bool ct_equal(const void *a, const void *b, size_t n);
bool all_zero(const uint8_t *p, size_t n);

#endif

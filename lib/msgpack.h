/* msgpack: a small bounds-checked MessagePack reader over the bytes cursor,
 * for exactly what dstack's msgpack V1 attestation needs (maps, arrays, str,
 * bin, integers, nil, bool; floats and ext are recognised so they can be
 * skipped). No recursion: whole values are skipped iteratively with a
 * nesting limit, and every length is checked against the bytes left before
 * anything is taken or allocated. Nothing here prints; errors name `what`. */
#ifndef LIB_MSGPACK_H
#define LIB_MSGPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bytes.h"
#include "err.h"

/* Deepest nesting mp_skip accepts (arrays and maps inside each other). */
#define MP_MAX_DEPTH 64

enum mp_type { MP_NIL, MP_BOOL, MP_INT, MP_FLOAT, MP_STR, MP_BIN, MP_ARRAY, MP_MAP, MP_EXT };

struct mp_item {
	enum mp_type type;
	bool neg;         /* MP_INT: the value is negative and in i, else in u */
	uint64_t u;       /* MP_INT >= 0; MP_BOOL 0/1; MP_ARRAY elements; MP_MAP pairs */
	int64_t i;        /* MP_INT < 0 */
	const uint8_t *p; /* MP_STR, MP_BIN, MP_EXT: the payload, inside the input */
	size_t len;
};

const char *mp_type_name(enum mp_type t);

/* Reads one item's header. For str, bin and ext the payload is taken too; for
 * an array or map only the count is read, and a count the remaining bytes
 * cannot hold (at least one byte per element, two per pair) is malformed.
 * A reserved marker (0xc1) or truncation is EXIT_MALFORMED; on error the
 * cursor is left where it was. */
int mp_read(struct cursor *c, const char *what, struct mp_item *it, struct err *e);

/* Skips one complete value, however nested (up to MP_MAX_DEPTH). */
int mp_skip(struct cursor *c, const char *what, struct err *e);

/* An array or map header: its element (array) or pair (map) count. */
int mp_array(struct cursor *c, const char *what, uint64_t *n, struct err *e);
int mp_map(struct cursor *c, const char *what, uint64_t *n, struct err *e);

/* An integer in any msgpack integer encoding whose value is in 0..max. */
int mp_uint(struct cursor *c, const char *what, uint64_t max, uint64_t *v, struct err *e);

/* A string: str (or bin) holding valid UTF-8, appended to out when out is
 * not NULL; p and len, when p is not NULL, receive where it lies in the input. */
int mp_text(struct cursor *c, const char *what, struct buf *out, const uint8_t **p, size_t *len, struct err *e);

/* Which encodings of a byte string mp_bytes accepts. */
enum {
	MP_BYTES_ARRAY = 1, /* an array of integers 0..255 */
	MP_BYTES_BIN = 2,   /* bin */
	MP_BYTES_STR = 4    /* str: its raw bytes */
};

/* A byte string in one of the accepted encodings, appended to out. */
int mp_bytes(struct cursor *c, const char *what, unsigned accept, struct buf *out, struct err *e);

#endif

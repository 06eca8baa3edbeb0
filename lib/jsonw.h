/* jsonw: writes JSON into a buffer - the --json output of every tool, and
 * the canonical (RFC 8785) string form used for dstack V2 event digests. */
#ifndef LIB_JSONW_H
#define LIB_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bytes.h"

#define JSONW_DEPTH 32

struct jsonw {
	struct buf *out;
	int depth;
	bool first[JSONW_DEPTH];  /* no member written yet at this depth */
	char closer[JSONW_DEPTH]; /* '}' or ']' for the container open at this depth */
	bool after_key;
	bool failed; /* out of memory or nesting too deep; checked once at the end */
};

void jw_init(struct jsonw *w, struct buf *out);
void jw_obj(struct jsonw *w);
void jw_arr(struct jsonw *w);
void jw_end(struct jsonw *w); /* closes the innermost object or array */
void jw_key(struct jsonw *w, const char *key);
void jw_str(struct jsonw *w, const char *s);
void jw_strn(struct jsonw *w, const char *s, size_t n);
/* A string from text that may not be UTF-8 (messages quoting input): each
 * invalid byte becomes U+FFFD, so that the output stays JSON. */
void jw_text(struct jsonw *w, const char *s);
void jw_hex(struct jsonw *w, const uint8_t *p, size_t n);
void jw_u64(struct jsonw *w, uint64_t v);
void jw_i64(struct jsonw *w, int64_t v);
void jw_bool(struct jsonw *w, bool v);
void jw_null(struct jsonw *w);
/* Appends already-valid JSON text as one value. */
void jw_raw(struct jsonw *w, const char *json, size_t n);

/* Appends s as a JSON string literal (quotes included) with RFC 8785
 * escaping: \" \\ \b \f \n \r \t, other C0 controls as \u00xx, the rest raw. */
bool json_quote(struct buf *out, const char *s, size_t n);

#endif

/* json: strict JSON reading over jsmn (Debian's libjsmn-dev).
 *
 * jsmn tokenises; this module adds what a verifier needs on top: rejection of
 * anything that is not exactly one valid JSON value (separators, number and
 * literal grammar, escapes, control characters, UTF-8), bounds on depth and
 * size, O(1) skipping of subtrees, and typed getters that unescape strings. Tokens are addressed by
 * index; index 0 is the root. */
#ifndef LIB_JSON_H
#define LIB_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bytes.h"
#include "err.h"

/* Limits that no genuine input approaches (collateral, event logs and CLI
 * answers nest a few levels and hold thousands of tokens); past them
 * json_parse refuses the input before any quadratic or large work. */
#define JSON_MAX_DEPTH 64
#define JSON_MAX_TOKENS (1 << 20)

enum json_type { JSON_OBJECT, JSON_ARRAY, JSON_STRING, JSON_NUMBER, JSON_TRUE, JSON_FALSE, JSON_NULL };

struct json {
	const char *text;
	size_t len;
	int ntok;
	struct json_tok *tok;
};

/* Parses text (not copied: it must outlive the json). EXIT_MALFORMED on any
 * deviation from RFC 8259, nesting deeper than JSON_MAX_DEPTH or more than
 * JSON_MAX_TOKENS tokens. Time and memory are linear in len (16 bytes a token). */
int json_parse(struct json *j, const char *text, size_t len, struct err *e);
void json_free(struct json *j);
/* Finds a JSON object embedded in command output: the first '{' that starts
 * a line (after blanks) and whose braces balance (strings and escapes
 * respected). Lines before it (progress text) and bytes after it (trailing
 * noise) are left out. Returns false when there is none; *start and *n give
 * the span to hand to json_parse. A newline ends a string here (none is
 * valid JSON inside one). Linear in len. */
bool json_find_object(const char *text, size_t len, size_t *start, size_t *n);

enum json_type json_type(const struct json *j, int t);
const char *json_type_name(enum json_type type);
/* Number of members of an object or elements of an array. */
int json_size(const struct json *j, int t);
/* First child value of an array (or first key of an object), -1 if empty;
 * json_next gives the following sibling, -1 at the end. */
int json_first(const struct json *j, int t);
int json_next(const struct json *j, int t);
/* Value of member key in object t; -1 when absent or t is not an object. */
int json_get(const struct json *j, int obj, const char *key);
/* Raw text span of a token (strings: the escaped content between the quotes). */
const char *json_raw(const struct json *j, int t, size_t *len);

/* Typed getters: EXIT_MALFORMED with "name: expected ..." when the type or
 * range does not fit. Strings are unescaped (\uXXXX incl. surrogate pairs)
 * and appended to out, NUL-terminated. */
int json_string(const struct json *j, int t, const char *name, struct buf *out, struct err *e);
int json_u64(const struct json *j, int t, const char *name, uint64_t max, uint64_t *v, struct err *e);
int json_hex(const struct json *j, int t, const char *name, struct buf *out, struct err *e);
/* Member lookups that fail with "missing key" when absent. */
int json_need(const struct json *j, int obj, const char *key, struct err *e);
/* True when p[0..n) is valid UTF-8 without control characters (C0, DEL):
 * text that is safe on one line of output and in a JSON string. */
bool json_text_valid(const char *p, size_t n);
/* True when t is a string whose unescaped content equals s. */
bool json_string_is(const struct json *j, int t, const char *s);

/* Value at a dot-separated member path below t ("gateway.base_domain");
 * -1 when a member is absent or an intermediate value is not an object.
 * The empty path is t itself. */
int json_path(const struct json *j, int t, const char *path);

/* Locates a JSON object in text that also holds other output (a progress
 * line before it, noise after it): the first '{' at or after offset from
 * that begins a line (only blanks before it on its line), up to its matching
 * '}', braces inside strings ignored (a newline ends a string). The span is not validated; parse it
 * with json_parse and, if that fails, look again from *start + 1.
 * EXIT_MALFORMED when there is no such '{' or it is never closed. */
int json_locate_object(const char *text, size_t len, size_t from, size_t *start, size_t *end, struct err *e);

#endif

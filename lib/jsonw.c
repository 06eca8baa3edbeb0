#include "jsonw.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void jw_init(struct jsonw *w, struct buf *out)
{
	memset(w, 0, sizeof *w);
	w->out = out;
	w->first[0] = true;
}

static void put(struct jsonw *w, const char *s, size_t n)
{
	if (!w->failed && !buf_append(w->out, s, n))
		w->failed = true;
}

/* Separator before a value: a comma unless first in its container or after a key. */
static void begin_value(struct jsonw *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (!w->first[w->depth])
		put(w, ",", 1);
	w->first[w->depth] = false;
}

static void open_container(struct jsonw *w, char c)
{
	begin_value(w);
	put(w, &c, 1);
	if (w->depth + 1 >= JSONW_DEPTH) {
		w->failed = true;
		return;
	}
	w->depth++;
	w->first[w->depth] = true;
	w->closer[w->depth] = c == '{' ? '}' : ']';
}

void jw_obj(struct jsonw *w)
{
	open_container(w, '{');
}

void jw_arr(struct jsonw *w)
{
	open_container(w, '[');
}

void jw_end(struct jsonw *w)
{
	if (w->depth == 0) {
		w->failed = true;
		return;
	}
	put(w, &w->closer[w->depth], 1);
	w->depth--;
}

bool json_quote(struct buf *out, const char *s, size_t n)
{
	if (!buf_reserve(out, n + 2) || !buf_append(out, "\"", 1))
		return false;
	size_t run = 0; /* bytes copied verbatim in one append */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *esc = NULL;
		char u[7];
		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		default:
			if (c < 0x20) {
				static const char hx[] = "0123456789abcdef";
				u[0] = '\\'; u[1] = 'u'; u[2] = '0'; u[3] = '0';
				u[4] = hx[c >> 4]; u[5] = hx[c & 15]; u[6] = 0;
				esc = u;
			}
		}
		if (!esc) {
			run++;
			continue;
		}
		if (!buf_append(out, s + i - run, run) || !buf_append_str(out, esc))
			return false;
		run = 0;
	}
	return buf_append(out, s + n - run, run) && buf_append(out, "\"", 1);
}

void jw_key(struct jsonw *w, const char *key)
{
	begin_value(w);
	if (!w->failed && !json_quote(w->out, key, strlen(key)))
		w->failed = true;
	put(w, ":", 1);
	w->after_key = true;
}

void jw_strn(struct jsonw *w, const char *s, size_t n)
{
	begin_value(w);
	if (!w->failed && !json_quote(w->out, s, n))
		w->failed = true;
}

void jw_str(struct jsonw *w, const char *s)
{
	jw_strn(w, s, strlen(s));
}

void jw_text(struct jsonw *w, const char *s)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t n = strlen(s);
	if (utf8_valid(p, n)) {
		jw_strn(w, s, n);
		return;
	}
	struct buf clean = { 0 };
	bool ok = true;
	for (size_t i = 0; ok && i < n;) {
		size_t l = utf8_seq_len(p + i, n - i);
		ok = l ? buf_append(&clean, p + i, l) : buf_append(&clean, "\xef\xbf\xbd", 3); /* U+FFFD */
		i += l ? l : 1;
	}
	if (ok)
		jw_strn(w, clean.data ? (const char *)clean.data : "", clean.len);
	else
		w->failed = true;
	buf_free(&clean);
}

void jw_hex(struct jsonw *w, const uint8_t *p, size_t n)
{
	begin_value(w);
	put(w, "\"", 1);
	if (!w->failed && !buf_append_hex(w->out, p, n))
		w->failed = true;
	put(w, "\"", 1);
}

static void number(struct jsonw *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void number(struct jsonw *w, const char *fmt, ...)
{
	char tmp[32];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	begin_value(w);
	put(w, tmp, (size_t)n);
}

void jw_u64(struct jsonw *w, uint64_t v)
{
	number(w, "%" PRIu64, v);
}

void jw_i64(struct jsonw *w, int64_t v)
{
	number(w, "%" PRId64, v);
}

void jw_bool(struct jsonw *w, bool v)
{
	begin_value(w);
	put(w, v ? "true" : "false", v ? 4 : 5);
}

void jw_null(struct jsonw *w)
{
	begin_value(w);
	put(w, "null", 4);
}

void jw_raw(struct jsonw *w, const char *json, size_t n)
{
	begin_value(w);
	put(w, json, n);
}

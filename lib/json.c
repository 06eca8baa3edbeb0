#include "json.h"

#define JSMN_STRICT
#define JSMN_PARENT_LINKS
#include <jsmn.h>

#include <stdlib.h>
#include <string.h>

/* A jsmn token plus the index one past its subtree, for O(1) sibling steps. */
struct json_tok {
	jsmntok_t t;
	int end;
};

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Span of the token's literal in the text, including string quotes. */
static void span(const struct json *j, int i, int *start, int *end)
{
	const jsmntok_t *t = &j->tok[i].t;
	bool str = t->type == JSMN_STRING;
	*start = t->start - str;
	*end = t->end + str;
}

/* Only whitespace, then exactly `sep` (0 for none), then whitespace in [a, b). */
static bool separated_by(const struct json *j, int a, int b, char sep)
{
	bool seen = sep == 0;
	for (int i = a; i < b; i++) {
		char c = j->text[i];
		if (is_ws(c))
			continue;
		if (c != sep || seen)
			return false;
		seen = true;
	}
	return seen;
}

static bool valid_number(const char *s, size_t n)
{
	size_t i = 0;
	if (i < n && s[i] == '-')
		i++;
	if (i >= n)
		return false;
	if (s[i] == '0')
		i++;
	else if (s[i] >= '1' && s[i] <= '9')
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	else
		return false;
	if (i < n && s[i] == '.') {
		size_t d = ++i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == d)
			return false;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		size_t d = i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == d)
			return false;
	}
	return i == n;
}

static int hex4(const char *s)
{
	int v = 0;
	for (int i = 0; i < 4; i++) {
		char c = s[i];
		int d = c >= '0' && c <= '9' ? c - '0'
			: c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10
					       : -1;
		if (d < 0)
			return -1;
		v = v << 4 | d;
	}
	return v;
}

static bool put_utf8(struct buf *out, uint32_t cp)
{
	uint8_t u[4];
	size_t n;
	if (cp < 0x80) {
		u[0] = (uint8_t)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (uint8_t)(0xc0 | cp >> 6);
		u[1] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (uint8_t)(0xe0 | cp >> 12);
		u[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		u[2] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (uint8_t)(0xf0 | cp >> 18);
		u[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
		u[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		u[3] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return buf_append(out, u, n);
}

bool json_text_valid(const char *p, size_t n)
{
	const uint8_t *s = (const uint8_t *)p;
	for (size_t i = 0; i < n;) {
		if (s[i] < 0x20 || s[i] == 0x7f)
			return false;
		size_t l = utf8_seq_len(s + i, n - i);
		if (!l)
			return false;
		i += l;
	}
	return true;
}

/* Unescapes (or, with out == NULL, only validates) a string's raw content. */
static bool unescape(const char *s, size_t n, struct buf *out)
{
	size_t i = 0;
	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20)
			return false;
		if (c != '\\') {
			size_t l = utf8_seq_len((const uint8_t *)s + i, n - i);
			if (!l || (out && !buf_append(out, s + i, l)))
				return false;
			i += l;
			continue;
		}
		if (++i >= n)
			return false;
		char esc = s[i++], ch;
		switch (esc) {
		case '"': ch = '"'; break;
		case '\\': ch = '\\'; break;
		case '/': ch = '/'; break;
		case 'b': ch = '\b'; break;
		case 'f': ch = '\f'; break;
		case 'n': ch = '\n'; break;
		case 'r': ch = '\r'; break;
		case 't': ch = '\t'; break;
		case 'u': {
			if (n - i < 4)
				return false;
			int hi = hex4(s + i);
			i += 4;
			if (hi < 0)
				return false;
			uint32_t cp = (uint32_t)hi;
			if (hi >= 0xdc00 && hi <= 0xdfff)
				return false; /* lone low surrogate */
			if (hi >= 0xd800 && hi <= 0xdbff) {
				if (n - i < 6 || s[i] != '\\' || s[i + 1] != 'u')
					return false;
				int lo = hex4(s + i + 2);
				if (lo < 0xdc00 || lo > 0xdfff)
					return false;
				i += 6;
				cp = 0x10000 + (((uint32_t)hi - 0xd800) << 10) + ((uint32_t)lo - 0xdc00);
			}
			if (out && !put_utf8(out, cp))
				return false;
			continue;
		}
		default:
			return false;
		}
		if (out && !buf_append(out, &ch, 1))
			return false;
	}
	return true;
}

/* Fills end[] and checks everything jsmn leaves loose. Iterative: a stack of
 * open containers would be the depth; instead each container is checked when
 * its subtree end is known, walking children by their end links. */
static bool validate(struct json *j)
{
	for (int i = j->ntok - 1; i >= 0; i--) {
		int end = i + 1;
		for (int k = 0; k < j->tok[i].t.size; k++) {
			if (end >= j->ntok)
				return false;
			end = j->tok[end].end;
		}
		j->tok[i].end = end;
	}
	/* Keys first: the separator checks below rely on every key having a value. */
	for (int i = 0; i < j->ntok; i++) {
		const jsmntok_t *t = &j->tok[i].t;
		int parent = t->parent;
		bool is_key = parent >= 0 && j->tok[parent].t.type == JSMN_OBJECT;
		if (is_key && (t->type != JSMN_STRING || t->size != 1 || i + 1 >= j->ntok))
			return false;
		if (!is_key && t->type == JSMN_STRING && t->size != 0)
			return false;
	}
	for (int i = 0; i < j->ntok; i++) {
		const jsmntok_t *t = &j->tok[i].t;
		const char *s = j->text + t->start;
		size_t n = (size_t)(t->end - t->start);
		switch (t->type) {
		case JSMN_STRING:
			if (!unescape(s, n, NULL))
				return false;
			break;
		case JSMN_PRIMITIVE:
			if (!(n == 4 && !memcmp(s, "true", 4)) && !(n == 5 && !memcmp(s, "false", 5)) &&
			    !(n == 4 && !memcmp(s, "null", 4)) && !valid_number(s, n))
				return false;
			break;
		case JSMN_OBJECT:
		case JSMN_ARRAY: {
			/* Between children: ',' (arrays, and object members); key to value: ':'. */
			int prev_end = t->start + 1, c = i + 1;
			for (int k = 0; k < t->size; k++) {
				int cs, ce;
				span(j, c, &cs, &ce);
				if (!separated_by(j, prev_end, cs, k ? ',' : 0))
					return false;
				if (t->type == JSMN_OBJECT) {
					int v = c + 1, vs, ve;
					span(j, v, &vs, &ve);
					if (!separated_by(j, ce, vs, ':'))
						return false;
					ce = ve;
				}
				prev_end = ce;
				c = j->tok[c].end;
			}
			if (!separated_by(j, prev_end, t->end - 1, 0))
				return false;
			break;
		}
		default:
			return false;
		}
	}
	/* Exactly one value, surrounded only by whitespace. */
	int s, e;
	span(j, 0, &s, &e);
	return j->tok[0].end == j->ntok && separated_by(j, 0, s, 0) && separated_by(j, e, (int)j->len, 0);
}

int json_parse(struct json *j, const char *text, size_t len, struct err *e)
{
	memset(j, 0, sizeof *j);
	j->text = text;
	j->len = len;
	if (len > (size_t)1 << 30)
		return err_set(e, EXIT_MALFORMED, "JSON input too large");
	jsmn_parser p;
	jsmn_init(&p);
	int n = jsmn_parse(&p, text, len, NULL, 0);
	if (n <= 0)
		return err_set(e, EXIT_MALFORMED, n == 0 ? "empty JSON input" : "invalid JSON");
	jsmntok_t *raw = calloc((size_t)n, sizeof *raw);
	j->tok = calloc((size_t)n, sizeof *j->tok);
	if (!raw || !j->tok) {
		free(raw);
		json_free(j);
		return err_set(e, EXIT_SYSTEM, "out of memory parsing JSON");
	}
	jsmn_init(&p);
	int m = jsmn_parse(&p, text, len, raw, (unsigned)n);
	j->ntok = m;
	for (int i = 0; i < m; i++)
		j->tok[i].t = raw[i];
	free(raw);
	if (m != n || !validate(j)) {
		json_free(j);
		return err_set(e, EXIT_MALFORMED, "invalid JSON");
	}
	return EXIT_OK;
}

/* End (one past) of the balanced object or array at text[i], 0 if unbalanced. */
static size_t balanced_end(const char *text, size_t len, size_t i)
{
	size_t depth = 0;
	bool in_str = false;
	for (; i < len; i++) {
		char c = text[i];
		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = false;
		} else if (c == '"') {
			in_str = true;
		} else if (c == '{' || c == '[') {
			depth++;
		} else if (c == '}' || c == ']') {
			if (--depth == 0)
				return i + 1;
		}
	}
	return 0;
}

bool json_find_object(const char *text, size_t len, size_t *start, size_t *n)
{
	bool line_start = true;
	for (size_t i = 0; i < len; i++) {
		char c = text[i];
		if (c == '\n') {
			line_start = true;
		} else if (line_start && c == '{') {
			size_t end = balanced_end(text, len, i);
			if (end) {
				*start = i;
				*n = end - i;
				return true;
			}
			line_start = false;
		} else if (c != ' ' && c != '\t' && c != '\r') {
			line_start = false;
		}
	}
	return false;
}

void json_free(struct json *j)
{
	free(j->tok);
	j->tok = NULL;
	j->ntok = 0;
}

enum json_type json_type(const struct json *j, int t)
{
	const jsmntok_t *k = &j->tok[t].t;
	switch (k->type) {
	case JSMN_OBJECT: return JSON_OBJECT;
	case JSMN_ARRAY: return JSON_ARRAY;
	case JSMN_STRING: return JSON_STRING;
	default: break;
	}
	char c = j->text[k->start];
	return c == 't' ? JSON_TRUE : c == 'f' ? JSON_FALSE : c == 'n' ? JSON_NULL : JSON_NUMBER;
}

const char *json_type_name(enum json_type type)
{
	static const char *names[] = { "an object", "an array", "a string", "a number",
				       "true", "false", "null" };
	return names[type];
}

int json_size(const struct json *j, int t)
{
	return j->tok[t].t.size;
}

int json_first(const struct json *j, int t)
{
	return j->tok[t].t.size > 0 ? t + 1 : -1;
}

int json_next(const struct json *j, int t)
{
	int parent = j->tok[t].t.parent;
	if (parent < 0)
		return -1;
	int next = j->tok[t].end; /* a key's subtree includes its value */
	return next < j->tok[parent].end ? next : -1;
}

const char *json_raw(const struct json *j, int t, size_t *len)
{
	*len = (size_t)(j->tok[t].t.end - j->tok[t].t.start);
	return j->text + j->tok[t].t.start;
}

bool json_string_is(const struct json *j, int t, const char *s)
{
	if (json_type(j, t) != JSON_STRING)
		return false;
	size_t n;
	const char *raw = json_raw(j, t, &n);
	if (!memchr(raw, '\\', n))
		return n == strlen(s) && !memcmp(raw, s, n);
	struct buf b = { 0 };
	bool eq = unescape(raw, n, &b) && b.len == strlen(s) && !memcmp(b.data, s, b.len);
	buf_free(&b);
	return eq;
}

int json_get(const struct json *j, int obj, const char *key)
{
	if (obj < 0 || json_type(j, obj) != JSON_OBJECT)
		return -1;
	for (int k = json_first(j, obj); k >= 0; k = json_next(j, k))
		if (json_string_is(j, k, key))
			return k + 1;
	return -1;
}

int json_need(const struct json *j, int obj, const char *key, struct err *e)
{
	int v = json_get(j, obj, key);
	if (v < 0)
		err_set(e, EXIT_MALFORMED, "missing key \"%s\"", key);
	return v;
}

static int type_error(const struct json *j, int t, const char *name, const char *want, struct err *e)
{
	return err_set(e, EXIT_MALFORMED, "%s: expected %s, found %s", name, want,
		       json_type_name(json_type(j, t)));
}

int json_string(const struct json *j, int t, const char *name, struct buf *out, struct err *e)
{
	if (json_type(j, t) != JSON_STRING)
		return type_error(j, t, name, "a string", e);
	size_t n;
	const char *raw = json_raw(j, t, &n);
	if (!buf_reserve(out, n) || !unescape(raw, n, out))
		return err_set(e, EXIT_SYSTEM, "%s: out of memory", name);
	return EXIT_OK;
}

int json_u64(const struct json *j, int t, const char *name, uint64_t max, uint64_t *v, struct err *e)
{
	if (json_type(j, t) != JSON_NUMBER)
		return type_error(j, t, name, "a number", e);
	size_t n;
	const char *s = json_raw(j, t, &n);
	uint64_t x = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return err_set(e, EXIT_MALFORMED, "%s: expected a non-negative integer, found %.*s",
				       name, (int)(n > 40 ? 40 : n), s);
		unsigned d = (unsigned)(s[i] - '0');
		if (d > max || x > (max - d) / 10)
			return err_set(e, EXIT_MALFORMED, "%s: %.*s is out of range (at most %llu)", name,
				       (int)(n > 40 ? 40 : n), s, (unsigned long long)max);
		x = x * 10 + d;
	}
	*v = x;
	return EXIT_OK;
}

int json_hex(const struct json *j, int t, const char *name, struct buf *out, struct err *e)
{
	if (json_type(j, t) != JSON_STRING)
		return type_error(j, t, name, "a hex string", e);
	size_t n;
	const char *raw = json_raw(j, t, &n);
	if (!hex_decode(raw, n, out))
		return err_set(e, EXIT_MALFORMED, "%s: not valid hex", name);
	return EXIT_OK;
}

int json_path(const struct json *j, int t, const char *path)
{
	while (*path && t >= 0) {
		const char *dot = strchr(path, '.');
		size_t n = dot ? (size_t)(dot - path) : strlen(path);
		char key[128];
		if (n == 0 || n >= sizeof key)
			return -1;
		memcpy(key, path, n);
		key[n] = 0;
		t = json_get(j, t, key);
		path += n + (dot != NULL);
	}
	return t;
}

int json_locate_object(const char *text, size_t len, size_t from, size_t *start, size_t *end, struct err *e)
{
	size_t open = from;
	for (;; open++) {
		if (open >= len)
			return err_set(e, EXIT_MALFORMED, "no JSON object in the output");
		if (text[open] != '{')
			continue;
		size_t k = open;
		while (k > 0 && (text[k - 1] == ' ' || text[k - 1] == '\t'))
			k--;
		if (k == 0 || text[k - 1] == '\n')
			break;
	}
	size_t depth = 0;
	bool in_string = false, escaped = false;
	for (size_t i = open; i < len; i++) {
		char c = text[i];
		if (in_string) {
			if (escaped)
				escaped = false;
			else if (c == '\\')
				escaped = true;
			else if (c == '"')
				in_string = false;
		} else if (c == '"') {
			in_string = true;
		} else if (c == '{' || c == '[') {
			depth++;
		} else if ((c == '}' || c == ']') && --depth == 0) {
			*start = open;
			*end = i + 1;
			return EXIT_OK;
		}
	}
	return err_set(e, EXIT_MALFORMED, "unterminated JSON object in the output");
}

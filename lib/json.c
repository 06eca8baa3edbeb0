#include "json.h"

#define JSMN_STRICT
#define JSMN_PARENT_LINKS
#include <jsmn.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* A token, compact (16 bytes; jsmn's with parent links take 20 and are
 * converted in place): the literal's span in the text (strings: inside the
 * quotes), the number of children, jsmn's type, and a link - during
 * validation the index one past the subtree, then the next sibling (0: none;
 * the root keeps its subtree end). */
struct json_tok {
	uint32_t start, end;
	unsigned size : 29, type : 3;
	uint32_t link;
};
_Static_assert(sizeof(struct json_tok) == 16, "compact JSON token");

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Span of the token's literal in the text, including string quotes. */
static void span(const struct json *j, int i, int *start, int *end)
{
	const struct json_tok *t = &j->tok[i];
	bool str = t->type == JSMN_STRING;
	*start = (int)t->start - str;
	*end = (int)t->end + str;
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
		if (c >= 0x20 && c < 0x80 && c != '\\') { /* a run of plain ASCII at once */
			size_t r = i + 1;
			while (r < n && (unsigned char)s[r] >= 0x20 && (unsigned char)s[r] < 0x80 && s[r] != '\\')
				r++;
			if (out && !buf_append(out, s + i, r - i))
				return false;
			i = r;
			continue;
		}
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

/* A child's shape, given its parent's type: an object's children are keys
 * (strings holding their value); elsewhere a string or primitive holds nothing. */
static bool child_ok(unsigned parent_type, const struct json_tok *c)
{
	if (parent_type == JSMN_OBJECT)
		return c->type == JSMN_STRING && c->size == 1;
	return c->type == JSMN_OBJECT || c->type == JSMN_ARRAY || c->size == 0;
}

/* Links the tree and checks its shape, from the last token back: when token
 * i is reached each child's link holds the end of the child's subtree, which
 * gives the next child; the links then become sibling links. Linear. */
static bool link_tree(struct json *j)
{
	for (int i = j->ntok - 1; i >= 0; i--) {
		struct json_tok *t = &j->tok[i];
		int c = i + 1;
		for (unsigned k = 0; k < t->size; k++) {
			if (c >= j->ntok || !child_ok(t->type, &j->tok[c]))
				return false;
			int next = (int)j->tok[c].link;
			j->tok[c].link = k + 1 < t->size ? (uint32_t)next : 0;
			c = next;
		}
		t->link = (uint32_t)c;
	}
	return child_ok(JSMN_ARRAY, &j->tok[0]) && j->tok[0].link == (uint32_t)j->ntok;
}

/* Checks everything jsmn leaves loose: the shape (link_tree), literals,
 * escapes, and the separators between tokens. */
static bool validate(struct json *j)
{
	if (!link_tree(j))
		return false;
	for (int i = 0; i < j->ntok; i++) {
		const struct json_tok *t = &j->tok[i];
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
			int prev_end = (int)t->start + 1, c = i + 1;
			for (unsigned k = 0; k < t->size; k++) {
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
				c = (int)j->tok[c].link;
			}
			if (!separated_by(j, prev_end, (int)t->end - 1, 0))
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
	return separated_by(j, 0, s, 0) && separated_by(j, e, (int)j->len, 0);
}

/* Counts the tokens jsmn will make (containers, strings, runs of primitive
 * characters: exactly its count for valid JSON) and checks the nesting
 * depth, stopping at the first limit passed: a linear scan that bounds the
 * work after it (jsmn's walks up the open containers, the token array). */
static int prescan(const char *text, size_t len, int *ntok, struct err *e)
{
	int depth = 0, n = 0;
	for (size_t i = 0; i < len; i++) {
		char c = text[i];
		switch (c) {
		case ' ': case '\t': case '\n': case '\r': case ',': case ':':
			continue;
		case '"':
			while (++i < len && text[i] != '"')
				if (text[i] == '\\')
					i++;
			break;
		case '{': case '[':
			if (++depth > JSON_MAX_DEPTH)
				return err_set(e, EXIT_MALFORMED, "JSON nested deeper than %d", JSON_MAX_DEPTH);
			break;
		case '}': case ']':
			depth -= depth > 0;
			continue;
		default: /* a primitive: up to the next separator */
			while (i + 1 < len && !strchr(" \t\n\r,:[]{}\"", text[i + 1]))
				i++;
			break;
		}
		if (++n > JSON_MAX_TOKENS)
			return err_set(e, EXIT_MALFORMED, "JSON with more than %d tokens", JSON_MAX_TOKENS);
	}
	*ntok = n;
	return EXIT_OK;
}

int json_parse(struct json *j, const char *text, size_t len, struct err *e)
{
	memset(j, 0, sizeof *j);
	j->text = text;
	j->len = len;
	if (len > (size_t)1 << 30)
		return err_set(e, EXIT_MALFORMED, "JSON input too large");
	int n = 0;
	if (prescan(text, len, &n, e))
		return e->code;
	if (n == 0)
		return err_set(e, EXIT_MALFORMED, "empty JSON input");
	/* jsmn's tokens, then the compact ones in the same memory: token i is
	 * read before it is written, and its compact form ends before token i + 1. */
	char *mem = malloc((size_t)n * sizeof(jsmntok_t));
	if (!mem)
		return err_set(e, EXIT_SYSTEM, "out of memory parsing JSON");
	jsmn_parser p;
	jsmn_init(&p);
	/* More tokens than counted (NOMEM) or fewer: not valid JSON. */
	int m = jsmn_parse(&p, text, len, (jsmntok_t *)(void *)mem, (unsigned)n);
	for (int i = 0; i < m; i++) {
		jsmntok_t r;
		memcpy(&r, mem + (size_t)i * sizeof r, sizeof r);
		struct json_tok t = { (uint32_t)r.start, (uint32_t)r.end, (unsigned)r.size, (unsigned)r.type, 0 };
		memcpy(mem + (size_t)i * sizeof t, &t, sizeof t);
	}
	j->tok = (struct json_tok *)(void *)mem;
	j->ntok = m > 0 ? m : 0;
	if (m != n || !validate(j)) {
		json_free(j);
		return err_set(e, EXIT_MALFORMED, "invalid JSON");
	}
	return EXIT_OK;
}

/* Bracket scanning of command output. A string also ends at a newline (no
 * valid JSON string holds one), so every line starts outside a string,
 * whatever came before it. */
struct scan {
	bool in_str, esc;
};

/* +1 for an opening bracket, -1 for a closing one, 0 otherwise. */
static int scan_char(struct scan *s, char c)
{
	if (c == '\n') {
		s->in_str = s->esc = false;
	} else if (s->in_str) {
		if (s->esc)
			s->esc = false;
		else if (c == '\\')
			s->esc = true;
		else if (c == '"')
			s->in_str = false;
	} else if (c == '"') {
		s->in_str = true;
	} else {
		return c == '{' || c == '[' ? 1 : c == '}' || c == ']' ? -1 : 0;
	}
	return 0;
}

/* End (one past) of the balanced object or array at text[i] (a line's
 * first bracket), 0 if unbalanced. */
static size_t balanced_end(const char *text, size_t len, size_t i)
{
	struct scan s = { 0 };
	size_t depth = 0;
	for (; i < len; i++) {
		int d = scan_char(&s, text[i]);
		if (d > 0)
			depth++;
		else if (d < 0 && --depth == 0)
			return i + 1;
	}
	return 0;
}

/* The position of '{' if the line [b, e) starts with one after blanks, else e. */
static size_t line_object(const char *text, size_t b, size_t e)
{
	while (b < e && (text[b] == ' ' || text[b] == '\t' || text[b] == '\r'))
		b++;
	return b < e && text[b] == '{' ? b : e;
}

/* Linear: the lines are visited from the last one back, each scanned once,
 * with the depth at each line's start relative to the end of the text. A
 * line's object balances when the depth after it falls back to the depth
 * before it: when the least depth after its '{' (on its line, or on any later
 * line) is at most that. The first line for which that holds is the answer. */
bool json_find_object(const char *text, size_t len, size_t *start, size_t *n)
{
	long long depth = 0, later_min = LLONG_MAX; /* depth at the line's end; least depth after it */
	size_t best = len, e = len;
	for (;;) {
		/* Not memrchr: sanitizers check its whole range, every line. */
		size_t b = e;
		while (b > 0 && text[b - 1] != '\n')
			b--;
		struct scan s = { 0 };
		long long r = 0, low = LLONG_MAX; /* relative to the line's start */
		for (size_t i = b; i < e; i++) {
			int d = scan_char(&s, text[i]);
			r += d;
			if (d < 0 && r < low)
				low = r;
		}
		depth -= r;
		long long least = low == LLONG_MAX ? later_min : depth + low < later_min ? depth + low : later_min;
		if (line_object(text, b, e) < e && least <= depth)
			best = line_object(text, b, e);
		later_min = least;
		if (!b)
			break;
		e = b - 1;
	}
	if (best == len)
		return false;
	*start = best;
	*n = balanced_end(text, len, best) - best;
	return true;
}

void json_free(struct json *j)
{
	free(j->tok);
	j->tok = NULL;
	j->ntok = 0;
}

enum json_type json_type(const struct json *j, int t)
{
	const struct json_tok *k = &j->tok[t];
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
	return (int)j->tok[t].size;
}

int json_first(const struct json *j, int t)
{
	return j->tok[t].size > 0 ? t + 1 : -1;
}

int json_next(const struct json *j, int t)
{
	/* A key's next sibling is the next key; the root has none. */
	return t > 0 && j->tok[t].link ? (int)j->tok[t].link : -1;
}

const char *json_raw(const struct json *j, int t, size_t *len)
{
	*len = (size_t)(j->tok[t].end - j->tok[t].start);
	return j->text + j->tok[t].start;
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
	size_t b = from < len ? from : len;
	while (b > 0 && text[b - 1] != '\n')
		b--;
	for (;;) {
		const char *nl = b < len ? memchr(text + b, '\n', len - b) : NULL;
		size_t eol = nl ? (size_t)(nl - text) : len, open = line_object(text, b, eol);
		if (open < eol && open >= from) {
			size_t close = balanced_end(text, len, open);
			if (!close)
				return err_set(e, EXIT_MALFORMED, "unterminated JSON object in the output");
			*start = open;
			*end = close;
			return EXIT_OK;
		}
		if (!nl)
			return err_set(e, EXIT_MALFORMED, "no JSON object in the output");
		b = eol + 1;
	}
}

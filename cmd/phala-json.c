/* phala-json: JSON access for shell glue (phala-lease), so that no shell
 * script parses JSON with grep or sed. Reads with lib/json (strict), writes
 * with lib/jsonw. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "json.h"
#include "jsonw.h"
#include "tool.h"

static const char usage[] =
	"usage: phala-json [options] get FILE|- PATH...\n"
	"       phala-json [options] items FILE|- ARRAY FIELD...\n"
	"       phala-json [options] value FILE|- PATH\n"
	"       phala-json object KEY=STRING|KEY:=JSON...\n"
	"      --embedded      the input holds one JSON object among other text (a progress\n"
	"                      line before it, noise after it): use the first balanced object\n"
	"  -h, --help          this text\n"
	"      --version       the suite's version\n"
	"PATH is a dot-separated member path (gateway.base_domain); A|B takes the first of\n"
	"A and B that is present and not null. get prints one line per PATH: strings\n"
	"unescaped, numbers as written, true/false, and an empty line for null or absent.\n"
	"items prints one line per element of the array at ARRAY (empty: the root), its\n"
	"FIELDs separated by tabs. value prints one value exactly (a string unescaped, with\n"
	"no newline added; an object or array as JSON text). object writes one JSON object.\n"
	"Exit: 0 ok, 1 value absent (value only), 2 usage, 3 malformed input or a value\n"
	"that does not fit on a line, 4 I/O error.\n";

/* The JSON of the input: the whole text, or with --embedded the first object. */
static void load(const char *path, bool embedded, struct buf *in, struct json *j)
{
	struct err e = { 0 };
	const char *text;
	size_t start = 0, end, from = 0;
	tool_read_input(path, in);
	text = (const char *)in->data;
	end = in->len;
	/* A bounded number of candidates: no quadratic rescans of hostile input. */
	for (int tries = 0; embedded; tries++) {
		if (json_locate_object(text, in->len, from, &start, &end, &e))
			break;
		if (json_parse(j, text + start, end - start, &e) == EXIT_OK)
			return;
		if (tries == 15)
			break;
		from = start + 1;
	}
	if (embedded || json_parse(j, text + start, end - start, &e)) {
		err_wrap(&e, "%s", strcmp(path, "-") ? path : "standard input");
		tool_fail(&e);
	}
}

/* First alternative of "A|B|..." that is present and not null, else -1. */
static int lookup(const struct json *j, int t, const char *alts)
{
	char one[256];
	while (*alts) {
		const char *bar = strchr(alts, '|');
		size_t n = bar ? (size_t)(bar - alts) : strlen(alts);
		if (n >= sizeof one)
			return -1;
		memcpy(one, alts, n);
		one[n] = 0;
		int v = json_path(j, t, one);
		if (v >= 0 && json_type(j, v) != JSON_NULL)
			return v;
		alts += n + (bar != NULL);
	}
	return -1;
}

/* Appends a scalar for line-oriented output; objects, arrays and strings with
 * control characters (a newline or tab would forge a line or a field) fail. */
static int scalar(const struct json *j, int v, const char *name, struct buf *out, struct err *e)
{
	if (v < 0 || json_type(j, v) == JSON_NULL)
		return EXIT_OK;
	switch (json_type(j, v)) {
	case JSON_STRING: {
		size_t from = out->len;
		if (json_string(j, v, name, out, e))
			return e->code;
		for (size_t i = from; i < out->len; i++)
			if (out->data[i] < 0x20 || out->data[i] == 0x7f)
				return err_set(e, EXIT_MALFORMED, "%s: string holds a control character", name);
		return EXIT_OK;
	}
	case JSON_NUMBER:
	case JSON_TRUE:
	case JSON_FALSE: {
		size_t n;
		const char *raw = json_raw(j, v, &n);
		return buf_append(out, raw, n) ? EXIT_OK : err_set(e, EXIT_SYSTEM, "out of memory");
	}
	default:
		return err_set(e, EXIT_MALFORMED, "%s: expected a scalar, got %s", name,
			       json_type_name(json_type(j, v)));
	}
}

static void cmd_get(const struct json *j, int argc, char **argv, struct buf *out)
{
	struct err e = { 0 };
	for (int i = 0; i < argc; i++) {
		if (scalar(j, lookup(j, 0, argv[i]), argv[i], out, &e))
			tool_fail(&e);
		buf_append(out, "\n", 1);
	}
}

static void cmd_items(const struct json *j, const char *array, int argc, char **argv, struct buf *out)
{
	struct err e = { 0 };
	int a = *array ? lookup(j, 0, array) : 0;
	if (a < 0 || json_type(j, a) != JSON_ARRAY) {
		err_set(&e, EXIT_MALFORMED, "%s: expected an array", *array ? array : "root");
		tool_fail(&e);
	}
	for (int it = json_first(j, a); it >= 0; it = json_next(j, it)) {
		if (json_type(j, it) != JSON_OBJECT) {
			err_set(&e, EXIT_MALFORMED, "%s: element is not an object", *array ? array : "root");
			tool_fail(&e);
		}
		for (int i = 0; i < argc; i++) {
			if (i)
				buf_append(out, "\t", 1);
			if (scalar(j, lookup(j, it, argv[i]), argv[i], out, &e))
				tool_fail(&e);
		}
		buf_append(out, "\n", 1);
	}
}

static void cmd_value(const struct json *j, const char *path, struct buf *out)
{
	struct err e = { 0 };
	int v = lookup(j, 0, path);
	if (v < 0 || json_type(j, v) == JSON_NULL)
		exit(EXIT_REJECTED);
	if (json_type(j, v) == JSON_STRING) {
		if (json_string(j, v, path, out, &e))
			tool_fail(&e);
		return;
	}
	size_t n;
	const char *raw = json_raw(j, v, &n); /* a container's span is its whole text */
	buf_append(out, raw, n);
}

static bool is_integer(const char *s)
{
	s += *s == '-';
	if (!*s || (s[0] == '0' && s[1]))
		return false;
	return strspn(s, "0123456789") == strlen(s);
}

static void cmd_object(int argc, char **argv, struct buf *out)
{
	struct jsonw w;
	struct err e = { 0 };
	jw_init(&w, out);
	jw_obj(&w);
	for (int i = 0; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		if (!eq || eq == argv[i] || (eq == argv[i] + 1 && argv[i][0] == ':'))
			tool_usage_error(usage, "'%s' is not KEY=STRING or KEY:=JSON", argv[i]);
		bool raw = eq[-1] == ':';
		size_t klen = (size_t)(eq - argv[i]) - raw;
		char key[256];
		if (klen >= sizeof key)
			tool_usage_error(usage, "key too long in '%s'", argv[i]);
		memcpy(key, argv[i], klen);
		key[klen] = 0;
		jw_key(&w, key);
		if (raw) {
			struct json v;
			const char *lit = eq + 1;
			if (!strcmp(lit, "true") || !strcmp(lit, "false") || !strcmp(lit, "null") || is_integer(lit)) {
				jw_raw(&w, lit, strlen(lit));
				continue;
			}
			if (json_parse(&v, lit, strlen(lit), &e)) {
				err_wrap(&e, "value of %s", key);
				tool_fail(&e);
			}
			json_free(&v);
			jw_raw(&w, eq + 1, strlen(eq + 1));
		} else {
			jw_str(&w, eq + 1);
		}
	}
	jw_end(&w);
	buf_append(out, "\n", 1);
	if (w.failed) {
		err_set(&e, EXIT_SYSTEM, "out of memory writing JSON");
		tool_fail(&e);
	}
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = { { "embedded", no_argument, NULL, 'e' },
						  { "help", no_argument, NULL, 'h' },
						  { NULL, 0, NULL, 0 } };
	bool embedded = false;
	int c;
	tool_name = "phala-json";
	while ((c = tool_getopt(argc, argv, "+h", longopts, usage)) != -1) {
		switch (c) {
		case 'e': embedded = true; break;
		default: break; /* tool_getopt answered the rest */
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		tool_usage_error(usage, "missing command");
	const char *cmd = argv[0];
	struct buf in = { 0 }, out = { 0 };
	struct json j = { 0 };
	if (!strcmp(cmd, "object")) {
		cmd_object(argc - 1, argv + 1, &out);
	} else if (!strcmp(cmd, "get") || !strcmp(cmd, "items") || !strcmp(cmd, "value")) {
		if (argc < 3 || (!strcmp(cmd, "value") && argc != 3))
			tool_usage_error(usage, "%s: wrong number of arguments", cmd);
		load(argv[1], embedded, &in, &j);
		if (!strcmp(cmd, "get"))
			cmd_get(&j, argc - 2, argv + 2, &out);
		else if (!strcmp(cmd, "items"))
			cmd_items(&j, argv[2], argc - 3, argv + 3, &out);
		else
			cmd_value(&j, argv[2], &out);
	} else {
		tool_usage_error(usage, "unknown command '%s'", cmd);
	}
	tool_write_output(NULL, out.data, out.len, false);
	json_free(&j);
	buf_free(&in);
	buf_free(&out);
	return EXIT_OK;
}

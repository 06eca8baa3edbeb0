#include "tool.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "jsonw.h"

const char *tool_name = "tool";

static bool json_mode, json_written;
static const char *json_step = "start";

void tool_json_mode(bool on)
{
	json_mode = on;
}

void tool_step(const char *step)
{
	json_step = step;
}

void tool_json_failure_members(struct jsonw *w, const char *step, int code, const char *msg)
{
	jw_key(w, "step");
	jw_str(w, step);
	jw_key(w, "exit");
	jw_u64(w, (uint64_t)code);
	jw_key(w, "error");
	jw_text(w, msg);
}

void tool_write_json(const struct buf *obj)
{
	json_written = true;
	tool_write_output(NULL, obj->data, obj->len, false);
}

void tool_fail(const struct err *e)
{
	int code = e->code ? e->code : EXIT_SYSTEM;
	if (json_mode && !json_written) {
		json_written = true; /* once, even if writing it fails */
		struct buf out = { 0 };
		struct jsonw w;
		jw_init(&w, &out);
		jw_obj(&w);
		jw_key(&w, "ok");
		jw_bool(&w, false);
		tool_json_failure_members(&w, json_step, code, e->msg);
		jw_end(&w);
		struct err ignored = { 0 };
		if (!w.failed && buf_append(&out, "\n", 1))
			output_write(NULL, out.data, out.len, &ignored);
		buf_free(&out);
	}
	fprintf(stderr, "%s: %s\n", tool_name, e->msg);
	exit(code);
}

void tool_usage_error(const char *usage, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", tool_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s", usage);
	exit(EXIT_USAGE);
}

void tool_help(const char *usage)
{
	fputs(usage, stdout);
	exit(fflush(stdout) ? EXIT_SYSTEM : EXIT_OK);
}

#ifndef PHALA_TOOLS_VERSION
#define PHALA_TOOLS_VERSION "unknown"
#endif

void tool_version(void)
{
	printf("%s (phala-tools) %s\n", tool_name, PHALA_TOOLS_VERSION);
	exit(fflush(stdout) ? EXIT_SYSTEM : EXIT_OK);
}

/* One line for a bad option: the word as given (up to '=' for a long one). */
_Noreturn static void bad_option(const char *word, const char *why)
{
	int n = (int)strcspn(word, "=");
	fprintf(stderr, "%s: %.*s: %s (see '%s --help')\n", tool_name, n > 200 ? 200 : n, word, why, tool_name);
	exit(EXIT_USAGE);
}

#define TOOL_OPT_VERSION 0x7601

int tool_getopt(int argc, char *const argv[], const char *shortopts, const struct option *longopts,
		const char *usage)
{
	/* The tool's options plus --version, built once; ':' first (after a
	 * '+', which keeps its meaning) so that a missing value is told apart. */
	static const struct option *from;
	static struct option *all;
	static char shorts[64];
	if (from != longopts) {
		size_t n = 0;
		while (longopts[n].name)
			n++;
		struct option *t = realloc(all, (n + 2) * sizeof *t);
		if (!t) {
			struct err e = { 0 };
			err_set(&e, EXIT_SYSTEM, "out of memory");
			tool_fail(&e);
		}
		memcpy(t, longopts, n * sizeof *t);
		t[n] = (struct option){ "version", no_argument, NULL, TOOL_OPT_VERSION };
		t[n + 1] = (struct option){ NULL, 0, NULL, 0 };
		all = t;
		from = longopts;
		bool plus = shortopts[0] == '+';
		snprintf(shorts, sizeof shorts, "%s:%s", plus ? "+" : "", shortopts + plus);
	}
	opterr = 0;
	int c = getopt_long(argc, argv, shorts, all, NULL);
	char word[3] = { '-', (char)optopt, 0 };
	/* After an error optind is past the offending word (for a short option
	 * inside a group like -xv it may not be: then the letter is named). */
	const char *given = optind > 0 && optind <= argc ? argv[optind - 1] : "";
	switch (c) {
	case 'h': tool_help(usage);
	case TOOL_OPT_VERSION: tool_version();
	case ':': bad_option(given[0] == '-' && given[1] == '-' ? given : word, "needs a value");
	case '?':
		if (!optopt) { /* a long option no entry names, or an abbreviation of several */
			const char *name = strncmp(given, "--", 2) ? "" : given + 2;
			size_t len = strcspn(name, "="), matches = 0;
			for (const struct option *o = all; *name && o->name; o++)
				matches += !strncmp(o->name, name, len);
			bad_option(given, matches > 1 ? "ambiguous option" : "unknown option");
		}
		if (given[0] == '-' && given[1] == '-') /* a known long option given a value */
			bad_option(given, strchr(given, '=') ? "takes no value" : "unknown option");
		bad_option(word, "unknown option");
	default: return c;
	}
}

void tool_read_input(const char *path, struct buf *out)
{
	struct err e = { 0 };
	if (file_read_all(path, INPUT_MAX, out, &e))
		tool_fail(&e);
}

void tool_write_output(const char *path, const void *p, size_t n, bool binary)
{
	struct err e = { 0 };
	bool to_stdout = !path || !strcmp(path, "-");
	if (binary && to_stdout && isatty(STDOUT_FILENO)) {
		err_set(&e, EXIT_USAGE, "refusing to write binary data to a terminal (use --hex or -o FILE)");
		tool_fail(&e);
	}
	if (output_write(path, p, n, &e))
		tool_fail(&e);
}

#include "tool.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"

const char *tool_name = "tool";

void tool_fail(const struct err *e)
{
	fprintf(stderr, "%s: %s\n", tool_name, e->msg);
	exit(e->code ? e->code : EXIT_SYSTEM);
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

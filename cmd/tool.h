/* tool: what every command-line tool shares - its name in messages, the one
 * error line, usage errors, and output that refuses binary on a terminal.
 * This is the only place (besides cmd/ mains) that prints or exits. */
#ifndef CMD_TOOL_H
#define CMD_TOOL_H

#include <stdbool.h>
#include <stddef.h>

#include "bytes.h"
#include "err.h"
#include "jsonw.h"

extern const char *tool_name;

/* Prints "tool: message" on stderr and exits with e->code; with --json
 * (tool_json_mode) it first prints the failure object on stdout, unless the
 * tool's own object was already written. */
_Noreturn void tool_fail(const struct err *e);

/* --json: every outcome a tool reports is exactly one JSON object on
 * standard output. A failure that tool_fail reports (malformed input, I/O,
 * network) is {"ok":false,"step":STEP,"exit":CODE,"error":MESSAGE}, STEP
 * being what ran (tool_step). Usage errors (exit 2) stay text only.
 * tool_json_mode(true) once the options are parsed (false: stdout is
 * another program's from then on). */
void tool_json_mode(bool on);
/* Names the step that runs now: the input read or parsed, the check. */
void tool_step(const char *step);
/* The members every failure object has, written into the tool's own
 * object (w inside it): "step", "exit", "error". */
void tool_json_failure_members(struct jsonw *w, const char *step, int code, const char *msg);
/* Writes the tool's own JSON object (text, newline-terminated) to stdout;
 * from then on tool_fail prints no second object. */
void tool_write_json(const struct buf *obj);
/* Prints "tool: message" and the usage text on stderr, exits 2. */
_Noreturn void tool_usage_error(const char *usage, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Prints usage on stdout and exits 0 (for --help). */
_Noreturn void tool_help(const char *usage);
/* Prints "tool (phala-tools) VERSION" on stdout and exits 0 (for --version). */
_Noreturn void tool_version(void);

struct option;
/* getopt_long for every tool, so that all of them answer alike: -h/--help
 * prints usage on stdout and exits 0; --version (added to longopts here)
 * prints the suite's version and exits 0; an unknown option or a missing
 * value is one line on stderr ("tool: --bogus: unknown option (see 'tool
 * --help')") and exit 2. getopt's own messages are off. Returns the next
 * option character of the tool's own options, or -1 after the last. */
int tool_getopt(int argc, char *const argv[], const char *shortopts, const struct option *longopts,
		const char *usage);

/* Reads the input file ("-"/NULL for stdin) or fails. */
void tool_read_input(const char *path, struct buf *out);

/* Writes data to path (atomically) or stdout. Binary data is refused on a
 * terminal unless the caller encoded it. Fails the tool on error. */
void tool_write_output(const char *path, const void *p, size_t n, bool binary);

#endif

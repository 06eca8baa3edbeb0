/* err: the error value every library call returns through, and the exit codes. */
#ifndef LIB_ERR_H
#define LIB_ERR_H

#include <stdarg.h>

/* Exit status is part of every tool's interface (DESIGN.md). */
enum exit_code {
	EXIT_OK = 0,
	EXIT_REJECTED = 1,  /* a check ran and said no */
	EXIT_USAGE = 2,     /* bad command line */
	EXIT_MALFORMED = 3, /* input cannot be parsed */
	EXIT_SYSTEM = 4,    /* local system or I/O error */
	EXIT_REMOTE = 5     /* remote or network failure */
};

struct err {
	int code;       /* an exit_code; EXIT_OK when no error */
	char msg[1024]; /* "what failed: why", no tool name, no newline */
};

/* Records code and message; returns code so callers can `return err_set(...)`. */
int err_set(struct err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* err_set with a va_list. */
int err_setv(struct err *e, int code, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));

/* Prepends "context: " to the message already recorded; returns the code. */
int err_wrap(struct err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Appends OpenSSL's last queued reason (if any) and clears its queue. */
int err_ssl(struct err *e, int code, const char *what);

#endif

#include "err.h"

#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int err_setv(struct err *e, int code, const char *fmt, va_list ap)
{
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	e->code = code;
	return code;
}

int err_set(struct err *e, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	err_setv(e, code, fmt, ap);
	va_end(ap);
	return code;
}

int err_wrap(struct err *e, const char *fmt, ...)
{
	char prefix[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	/* Shift the old message right, truncating its end, and put the prefix in front. */
	size_t pl = strlen(prefix) + 2, cap = sizeof e->msg - 1;
	size_t ol = strnlen(e->msg, cap);
	if (ol > cap - pl)
		ol = cap - pl;
	memmove(e->msg + pl, e->msg, ol);
	memcpy(e->msg, prefix, pl - 2);
	memcpy(e->msg + pl - 2, ": ", 2);
	e->msg[pl + ol] = 0;
	return e->code;
}

int err_ssl(struct err *e, int code, const char *what)
{
	unsigned long ssl = ERR_get_error();
	char reason[256] = "unknown reason";
	if (ssl)
		ERR_error_string_n(ssl, reason, sizeof reason);
	ERR_clear_error();
	return err_set(e, code, "%s: %s", what, reason);
}

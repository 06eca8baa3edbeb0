/* timefmt: verification time as an input - UNIX seconds or RFC 3339. */
#ifndef LIB_TIMEFMT_H
#define LIB_TIMEFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Strict RFC 3339 date-time ("2025-06-19T10:16:03Z", optional fractional
 * seconds, "Z" or a +hh:mm/-hh:mm offset; 't'/'z' accepted). Fractions are
 * truncated. False on anything else, including impossible dates. */
bool rfc3339_parse(const char *s, size_t n, time_t *out);

/* A --now argument: decimal UNIX seconds or RFC 3339. */
bool time_arg_parse(const char *s, time_t *out);

/* "YYYY-MM-DDTHH:MM:SSZ" (21 bytes with the NUL). */
void rfc3339_format(time_t t, char out[21]);

#endif

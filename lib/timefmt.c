#include "timefmt.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Reads exactly n decimal digits at *p. */
static bool digits(const char **p, const char *end, int n, int *v)
{
	if (end - *p < n)
		return false;
	int x = 0;
	for (int i = 0; i < n; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9')
			return false;
		x = x * 10 + (c - '0');
	}
	*p += n;
	*v = x;
	return true;
}

static bool expect(const char **p, const char *end, const char *set)
{
	if (*p >= end || !strchr(set, **p) || !**p)
		return false;
	(*p)++;
	return true;
}

static bool leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

bool rfc3339_parse(const char *s, size_t n, time_t *out)
{
	static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	const char *p = s, *end = s + n;
	int Y, M, D, h, m, sec, oh = 0, om = 0, sign = 0;
	if (!digits(&p, end, 4, &Y) || !expect(&p, end, "-") || !digits(&p, end, 2, &M) || !expect(&p, end, "-") ||
	    !digits(&p, end, 2, &D) || !expect(&p, end, "Tt") || !digits(&p, end, 2, &h) || !expect(&p, end, ":") ||
	    !digits(&p, end, 2, &m) || !expect(&p, end, ":") || !digits(&p, end, 2, &sec))
		return false;
	if (p < end && *p == '.') {
		p++;
		const char *f = p;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
		if (p == f)
			return false;
	}
	if (p < end && (*p == 'Z' || *p == 'z')) {
		p++;
	} else if (p < end && (*p == '+' || *p == '-')) {
		sign = *p == '-' ? -1 : 1;
		p++;
		if (!digits(&p, end, 2, &oh) || !expect(&p, end, ":") || !digits(&p, end, 2, &om) || oh > 23 || om > 59)
			return false;
	} else {
		return false;
	}
	if (p != end || M < 1 || M > 12 || D < 1 || h > 23 || m > 59 || sec > 60)
		return false;
	if (D > mdays[M - 1] + (M == 2 && leap(Y)))
		return false;
	if (sec == 60)
		sec = 59; /* a leap second: the instant before the next minute */
	int64_t t = days_from_civil(Y, M, D) * 86400 + h * 3600 + m * 60 + sec - sign * (oh * 3600 + om * 60);
	*out = (time_t)t;
	return true;
}

bool time_arg_parse(const char *s, time_t *out)
{
	size_t n = strlen(s);
	if (n && n <= 12 && strspn(s, "0123456789") == n) {
		int64_t v = 0;
		for (size_t i = 0; i < n; i++)
			v = v * 10 + (s[i] - '0');
		*out = (time_t)v;
		return true;
	}
	return rfc3339_parse(s, n, out);
}

void rfc3339_format(time_t t, char out[21])
{
	struct tm tm;
	if (!gmtime_r(&t, &tm) || !strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, 21, "(unrepresentable)");
}

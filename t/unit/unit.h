/* A tiny TAP unit-test runner: each test_*.c lists its tests in main via RUN. */
#ifndef T_UNIT_H
#define T_UNIT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int unit_failed_checks, unit_tests, unit_failures;

#define CHECK(cond)                                                                        \
	do {                                                                               \
		if (!(cond)) {                                                             \
			printf("# %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			unit_failed_checks++;                                              \
		}                                                                          \
	} while (0)

#define RUN(fn)                                                                   \
	do {                                                                      \
		int before = unit_failed_checks;                                  \
		fn();                                                             \
		unit_tests++;                                                     \
		bool ok_ = unit_failed_checks == before;                          \
		unit_failures += !ok_;                                            \
		printf("%sok %d - %s\n", ok_ ? "" : "not ", unit_tests, #fn);     \
	} while (0)

#define UNIT_DONE() (printf("1..%d\n", unit_tests), unit_failures ? 1 : 0)

/* Test data lives in testdata/ at the repository root (tests run from there). */
static inline char *unit_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		printf("# cannot open %s\n", path);
		exit(1);
	}
	size_t cap = 1 << 16, n = 0;
	char *p = malloc(cap + 1);
	size_t r;
	while ((r = fread(p + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap)
			p = realloc(p, (cap *= 2) + 1);
	}
	fclose(f);
	p[n] = 0;
	*len = n;
	return p;
}

#endif

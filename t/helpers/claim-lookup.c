/* claim-lookup DIR IDENT RUNS: resolves IDENT (app id, lease id or slug) as
 * phala-proxy does, in process, RUNS times; prints the lease found, its
 * gateway_host and the mean microseconds per lookup. With IDENT KEY=VALUE,
 * claim_find instead (indexed keys use the index, others scan every file);
 * prints the number of matches and the microseconds. DIR "-": the configured
 * store (PHALA_CLAIMS_URL or the directory). For t/bench/claim.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "claim.h"

static int count(const struct claim *c, void *arg)
{
	(void)c;
	++*(int *)arg;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: claim-lookup DIR IDENT RUNS\n");
		return 2;
	}
	struct claim_store s;
	struct err e = { 0 };
	if (claim_store_open(&s, strcmp(argv[1], "-") ? argv[1] : NULL, false, &e)) {
		fprintf(stderr, "claim-lookup: %s\n", e.msg);
		return e.code;
	}
	int runs = atoi(argv[3]);
	struct timespec a, b;
	struct claim c;
	const char *host;
	clock_gettime(CLOCK_MONOTONIC, &a);
	char *eq = strchr(argv[2], '=');
	if (eq)
		*eq = 0;
	for (int i = 0; eq && i < runs; i++) {
		int n = 0;
		if (claim_find(&s, argv[2], eq + 1, count, NULL, &n, &e)) {
			fprintf(stderr, "claim-lookup: %s\n", e.msg);
			claim_store_close(&s);
			return e.code;
		}
		if (i == runs - 1)
			printf("%d", n);
	}
	for (int i = 0; !eq && i < runs; i++) {
		if (claim_resolve(&s, argv[2], &c, &e)) {
			fprintf(stderr, "claim-lookup: %s\n", e.msg);
			claim_store_close(&s);
			return e.code;
		}
		if (i == runs - 1) {
			host = claim_get(&c, "gateway_host");
			printf("%s %s", c.lease_id, host ? host : "-");
		}
		claim_free(&c);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	double us = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / 1e3 / runs;
	printf(" %.1f\n", us);
	claim_store_close(&s);
	return 0;
}

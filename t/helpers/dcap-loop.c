/* dcap-loop: in-process loops over the DCAP verifier, for tests and benchmarks.
 *
 *   dcap-loop sweep QUOTE COLLATERAL NOW   flip every byte of the quote proper (one at a
 *                                          time, XOR 0x01) and count the verifications that
 *                                          still pass; exit 1 if any does
 *   dcap-loop bench QUOTE COLLATERAL NOW SECONDS
 *                                          verifications per CPU second (collateral parsed once)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dcap.h"
#include "fileio.h"
#include "quote.h"
#include "timefmt.h"

static void die(const char *what, const struct err *e)
{
	fprintf(stderr, "dcap-loop: %s: %s\n", what, e->msg);
	exit(e->code ? e->code : 4);
}

static int verify_once(struct dcap_verifier *v, const uint8_t *raw, size_t len, time_t now,
		       struct dcap_result *r, struct err *e)
{
	struct tdx_quote q;
	int rc = quote_parse(&q, raw, len, e);
	if (rc)
		return rc;
	rc = dcap_verify(v, &q, now, r, e);
	if (!rc)
		rc = dcap_judge(r, DCAP_ACCEPT_DEFAULT, e);
	dcap_result_free(r);
	return rc;
}

static double seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts); /* CPU time, as openssl speed counts */
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc < 5 || (strcmp(argv[1], "sweep") && strcmp(argv[1], "bench")) || (!strcmp(argv[1], "bench") && argc < 6)) {
		fprintf(stderr, "usage: dcap-loop sweep|bench QUOTE COLLATERAL NOW [SECONDS]\n");
		return 2;
	}
	struct err e = { 0 };
	struct buf quote = { 0 }, col = { 0 };
	time_t now;
	if (file_read_all(argv[2], INPUT_MAX, &quote, &e) || file_read_all(argv[3], INPUT_MAX, &col, &e))
		die("read", &e);
	if (!time_arg_parse(argv[4], &now)) {
		fprintf(stderr, "dcap-loop: bad time %s\n", argv[4]);
		return 2;
	}
	struct dcap_verifier v;
	if (dcap_verifier_init(&v, NULL, 0, &e) || dcap_verifier_set_collateral(&v, (char *)col.data, col.len, &e))
		die("verifier", &e);
	struct dcap_result r;
	struct tdx_quote q;
	if (quote_parse(&q, quote.data, quote.len, &e))
		die("quote", &e);
	size_t len = q.len;
	int status = 0;
	if (verify_once(&v, quote.data, quote.len, now, &r, &e))
		die("the unmodified quote does not verify", &e);

	if (!strcmp(argv[1], "sweep")) {
		size_t rejected = 0, malformed = 0, accepted = 0;
		for (size_t i = 0; i < len; i++) {
			quote.data[i] ^= 1;
			int rc = verify_once(&v, quote.data, quote.len, now, &r, &e);
			quote.data[i] ^= 1;
			if (rc == EXIT_REJECTED)
				rejected++;
			else if (rc == EXIT_MALFORMED)
				malformed++;
			else {
				accepted++;
				printf("# offset %zu: verification %s (exit %d)\n", i, rc ? "errored" : "passed", rc);
			}
		}
		printf("swept %zu bytes: %zu refused (%zu failed a check, %zu malformed), %zu not refused\n", len,
		       rejected + malformed, rejected, malformed, accepted);
		status = accepted ? 1 : 0;
	} else {
		double limit = atof(argv[5]), t0 = seconds(), t;
		unsigned long n = 0;
		unsigned sigs = 0;
		do {
			for (int k = 0; k < 50; k++, n++) {
				struct tdx_quote qq;
				if (quote_parse(&qq, quote.data, quote.len, &e) || dcap_verify(&v, &qq, now, &r, &e))
					die("bench verification", &e);
				sigs = r.ecdsa_verifies;
				dcap_result_free(&r);
			}
			t = seconds() - t0;
		} while (t < limit);
		printf("verifications_per_second=%.0f\necdsa_verifies_per_verification=%u\n", (double)n / t, sigs);
	}
	dcap_verifier_free(&v);
	buf_free(&quote);
	buf_free(&col);
	return status;
}

/* Fuzz target: the whole of dcap_verify - PCK chain, CRLs, profile, QE
 * report, quote signature, TD attributes, TCB evaluation and dcap_judge - on
 * a fuzzed quote against the real Intel collateral of the dcap-qvl sample
 * (parsed once, as tdx-dcap-verify does). The corpus starts from the real
 * quotes; the last byte picks the instant: inside the collateral's validity,
 * before its issue, after its expiry, or years later (CRLs expired). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dcap.h"
#include "fuzz.h"

static struct dcap_verifier verifier;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	size_t n;
	char *json = fuzz_slurp("testdata/dcap-qvl-tdx-collateral.json", &n);
	struct err e = { 0 };
	if (dcap_verifier_init(&verifier, NULL, 0, &e) || dcap_verifier_set_collateral(&verifier, json, n, &e)) {
		fprintf(stderr, "fuzz_dcap_verify: %s\n", e.msg);
		abort();
	}
	free(json);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const time_t instants[] = {
		1751328000, /* 2025-07-01: the sample verifies (OutOfDate) */
		1750327000, /* 2025-06-19T09:56: before the TCB info's issueDate */
		1752969600, /* 2025-07-20: after nextUpdate */
		1893456000, /* 2030-01-01: every CRL expired */
	};
	struct tdx_quote q;
	struct dcap_result r;
	struct err e = { 0 };
	if (quote_parse(&q, data, size, &e) != EXIT_OK) {
		fuzz_check_message(&e);
		return 0;
	}
	time_t now = instants[size ? data[size - 1] % 4 : 0];
	int rc = dcap_verify(&verifier, &q, now, &r, &e);
	if (rc == EXIT_OK) {
		rc = dcap_judge(&r, DCAP_ACCEPT_DEFAULT, &e);
		if (!r.evaluated || (rc == EXIT_OK) != (r.status <= TCB_SW_HARDENING_NEEDED))
			abort(); /* with collateral, the verdict is the status */
	}
	if (rc != EXIT_OK) {
		if (rc == EXIT_REJECTED && r.failed == CHECK_NONE)
			abort(); /* a refusal names its check */
		fuzz_check_message(&e);
	}
	for (size_t i = 0; i < r.adv.n; i++)
		if (!r.adv.id[i] || strnlen(r.adv.id[i], 64) == 64)
			abort();
	if (strnlen(r.tcb_date, sizeof r.tcb_date) == sizeof r.tcb_date)
		abort();
	dcap_result_free(&r);
	return 0;
}

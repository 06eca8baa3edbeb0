/* Fuzz target: CRL handling - the PCS response body (pcs_crl_body: DER or
 * hex), crl_der, crl_check (issuer name and signature, critical extensions
 * in the CRL and its entries, thisUpdate/nextUpdate) and crl_not_revoked,
 * and the verifier's use of both collateral CRLs. The first byte picks:
 *   0  the body as a PCS answer, judged against the real Intel root and the
 *      real PCK platform CA at the sample's instant (mostly: not signed);
 *   1  the DER CRL re-issued by a test CA made at start (issuer name set,
 *      signed with its key), so that its content - entries, extensions,
 *      dates - reaches every later rule; a test leaf of serial 1..4 is then
 *      looked up in it;
 *   2, 3  the DER as the root CA CRL, or the PCK CRL, of the real collateral,
 *      then dcap_verify on the real quote (the collateral JSON around the
 *      CRLs is fuzz_collateral's). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dcap.h"
#include "fuzz.h"
#include "pcs.h"

#define NOW ((time_t)1751328000)

static uint8_t *quote_bytes;
static size_t quote_len;
static struct dcap_verifier real; /* the real collateral: its root and CA certificates */
static X509 *pck_ca;
static EVP_PKEY *test_key;
static X509 *test_ca, *test_leaf[4];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	struct err e = { 0 };
	size_t collateral_len;
	char *collateral_text = fuzz_slurp("testdata/dcap-qvl-tdx-collateral.json", &collateral_len);
	quote_bytes = (uint8_t *)fuzz_slurp("testdata/dcap-qvl-tdx-quote.bin", &quote_len);
	if (dcap_verifier_init(&real, NULL, 0, &e) ||
	    dcap_verifier_set_collateral(&real, collateral_text, collateral_len, &e)) {
		fprintf(stderr, "fuzz_crl: %s\n", e.msg);
		abort();
	}
	free(collateral_text);
	pck_ca = sk_X509_value(real.pck_crl_chain, 0);
	test_key = EVP_EC_gen("P-256");
	if (!test_key)
		abort();
	test_ca = fuzz_cert("fuzz test CA", 1000, test_key, NULL, NULL, true, -3650, 3650, NULL);
	for (int i = 0; i < 4; i++)
		test_leaf[i] = fuzz_cert("fuzz test leaf", i + 1, test_key, test_ca, test_key, false, -3650, 3650, NULL);
	return 0;
}

/* Judges crl as issued by issuer at a few instants, then every cert in it. */
static void judge(X509_CRL *crl, X509 *issuer, X509 *const *certs, int n, time_t base)
{
	static const long offsets[] = { 0, -86400L * 365 * 30, 86400L * 365 * 30 };
	struct err e = { 0 };
	enum cert_rule rule;
	for (size_t i = 0; i < sizeof offsets / sizeof *offsets; i++) {
		int rc = crl_check(crl, issuer, base + offsets[i], &rule, &e);
		if (rc != EXIT_OK && rc != EXIT_REJECTED)
			abort();
		if (rc)
			fuzz_check_message(&e);
		else if (rule != RULE_NONE)
			abort();
	}
	for (int i = 0; i < n; i++) {
		int rc = crl_not_revoked(crl, certs[i], &e);
		if (rc != EXIT_OK && rc != EXIT_REJECTED)
			abort();
		if (rc)
			fuzz_check_message(&e);
	}
}

/* The real collateral with one CRL replaced (what dcap_verifier_set_collateral
 * makes of a collateral carrying it: the CRL member parsed by crl_der), then
 * the whole verification of the real quote. */
static void in_verifier(X509_CRL **slot, X509_CRL *crl)
{
	struct tdx_quote q;
	struct dcap_result r;
	struct err e = { 0 };
	X509_CRL *kept = *slot;
	*slot = crl;
	if (quote_parse(&q, quote_bytes, quote_len, &e))
		abort();
	int rc = dcap_verify(&real, &q, NOW, &r, &e);
	*slot = kept;
	if (rc == EXIT_REJECTED && r.failed == CHECK_NONE)
		abort();
	if (rc)
		fuzz_check_message(&e);
	dcap_result_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	const uint8_t *p = data + 1;
	size_t n = size - 1;
	struct err e = { 0 };
	X509_CRL *crl = NULL;
	switch (data[0] % 4) {
	case 0: {
		struct buf der = { 0 };
		if (pcs_crl_body(p, n, &der, &e) == EXIT_OK && crl_der(der.data, der.len, &crl, &e) == EXIT_OK) {
			X509 *certs[] = { pck_ca, real.root.cert };
			judge(crl, real.root.cert, certs, 2, NOW);
			judge(crl, pck_ca, certs, 2, NOW);
		}
		buf_free(&der);
		break;
	}
	case 1:
		if (crl_der(p, n, &crl, &e) == EXIT_OK) {
			if (!X509_CRL_set_issuer_name(crl, X509_get_subject_name(test_ca)) ||
			    !X509_CRL_sign(crl, test_key, EVP_sha256()))
				break; /* a CRL OpenSSL cannot re-encode */
			judge(crl, test_ca, test_leaf, 4, NOW);
			judge(crl, test_leaf[0], test_leaf, 1, NOW); /* a CRL judged against the wrong issuer */
		}
		break;
	default:
		if (crl_der(p, n, &crl, &e) == EXIT_OK)
			in_verifier(data[0] % 4 == 2 ? &real.root_crl : &real.pck_crl, crl);
	}
	fuzz_check_message(&e);
	X509_CRL_free(crl);
	return 0;
}

/* Fuzz target: dcap_evaluate - QE identity, FMSPC and PCE-ID, TCB level,
 * TDX module identity, merged status - with fuzzed TCB info and QE identity
 * bodies (tcb_info_parse, qe_identity_parse) and a fuzzed platform, then
 * dcap_judge. The signatures over the bodies are dcap_verify's (see
 * fuzz_dcap_verify); dcap_evaluate is the public judgment after them, so
 * nothing is bypassed here.
 *
 * Input: TCB_INFO NUL QE_IDENTITY NUL PATCH. An empty or absent body is the
 * real one of the dcap-qvl sample. PATCH is XORed, byte by byte, over the
 * platform: the PCK's CPUSVN (16), PCESVN (2), FMSPC (6), PCE-ID (2), then
 * the quote's TD report from TEE_TCB_SVN to TD_ATTRIBUTES (136), then the
 * QE report (384). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dcap.h"
#include "fuzz.h"

static struct collateral real;
static uint8_t *quote_bytes;
static size_t quote_len;
static struct sgx_ext real_pck;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	size_t n;
	struct err e = { 0 };
	char *json = fuzz_slurp("testdata/dcap-qvl-tdx-collateral.json", &n);
	quote_bytes = (uint8_t *)fuzz_slurp("testdata/dcap-qvl-tdx-quote.bin", &quote_len);
	struct tdx_quote q;
	STACK_OF(X509) *chain = NULL;
	if (collateral_parse(&real, json, n, &e) || quote_parse(&q, quote_bytes, quote_len, &e) ||
	    certchain_pem(q.pck_chain, q.pck_chain_len, &chain, &e) ||
	    sgx_ext_from_cert(sk_X509_value(chain, 0), &real_pck, &e)) {
		fprintf(stderr, "fuzz_dcap_evaluate: %s\n", e.msg);
		abort();
	}
	sk_X509_pop_free(chain, X509_free);
	free(json);
	return 0;
}

/* The next NUL-terminated part of the input (or the rest). */
static const char *part(const uint8_t **p, const uint8_t *end, size_t *n)
{
	const uint8_t *s = *p, *z = memchr(s, 0, (size_t)(end - s));
	*n = (size_t)((z ? z : end) - s);
	*p = z ? z + 1 : end;
	return (const char *)s;
}

static void xor_into(uint8_t *dst, size_t cap, const uint8_t **p, const uint8_t *end)
{
	for (size_t i = 0; i < cap && *p < end; i++)
		dst[i] ^= *(*p)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	size_t tn, qn;
	const char *tt = part(&p, end, &tn), *qt = part(&p, end, &qn);
	struct collateral c = real; /* shallow: only tcb and qe are replaced (and freed) */
	struct err e = { 0 };
	if (tn && tcb_info_parse(&c.tcb, tt, tn, &e)) {
		fuzz_check_message(&e);
		return 0;
	}
	if (qn && qe_identity_parse(&c.qe, qt, qn, &e)) {
		fuzz_check_message(&e);
		if (tn)
			tcb_info_free(&c.tcb);
		return 0;
	}

	struct dcap_result r;
	memset(&r, 0, sizeof r);
	r.pck = real_pck;
	r.has_pck = true;
	xor_into(r.pck.cpusvn, 16, &p, end);
	uint8_t svn[2] = { (uint8_t)r.pck.pcesvn, (uint8_t)(r.pck.pcesvn >> 8) };
	xor_into(svn, 2, &p, end);
	r.pck.pcesvn = (uint16_t)(svn[0] | svn[1] << 8);
	xor_into(r.pck.fmspc, 6, &p, end);
	xor_into(r.pck.pce_id, 2, &p, end);

	uint8_t *qb = malloc(quote_len);
	if (!qb)
		abort();
	memcpy(qb, quote_bytes, quote_len);
	struct tdx_quote q;
	if (quote_parse(&q, qb, quote_len, &e))
		abort();
	xor_into(qb + QUOTE_HEADER_LEN, 136, &p, end); /* TEE_TCB_SVN .. TD_ATTRIBUTES */
	xor_into((uint8_t *)q.qe_report.raw, SGX_REPORT_LEN, &p, end);
	if (quote_parse(&q, qb, quote_len, &e)) /* the parsed fields again, from the patched bytes */
		abort();

	int rc = dcap_check_td_attributes(&q, &r, &e);
	if (!rc)
		rc = dcap_evaluate(&c, &q, &r, &e);
	if (!rc) {
		enum tcb_status worst = r.platform_status;
		if (r.has_module_status && r.module_status > worst)
			worst = r.module_status;
		if (r.qe_status > worst)
			worst = r.qe_status;
		if (!r.evaluated || r.status != worst || r.status >= TCB_STATUS_COUNT)
			abort(); /* the merged status is the worst of its parts */
		rc = dcap_judge(&r, DCAP_ACCEPT_DEFAULT, &e);
		if ((rc == EXIT_OK) != (r.status <= TCB_SW_HARDENING_NEEDED))
			abort();
		for (size_t i = 0; i < r.adv.n; i++)
			if (!r.adv.id[i] || !r.adv.id[i][0])
				abort();
		for (size_t i = 0; i < r.adv.n; i++) /* first-seen order, each once */
			for (size_t k = i + 1; k < r.adv.n && r.adv.n < 256; k++)
				if (!strcmp(r.adv.id[i], r.adv.id[k]))
					abort();
	}
	if (rc) {
		if (rc == EXIT_REJECTED && r.failed == CHECK_NONE)
			abort();
		fuzz_check_message(&e);
	}
	dcap_result_free(&r);
	free(qb);
	if (tn)
		tcb_info_free(&c.tcb);
	if (qn)
		qe_identity_free(&c.qe);
	return 0;
}

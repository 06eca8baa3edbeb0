/* The TCB judgments of lib/dcap on the real sample with chosen platform,
 * module and QE values (the signatures are the bats suite's business). */
#include <stdbool.h>

#include "certchain.h"
#include "dcap.h"
#include "unit.h"

static struct collateral col;
static struct tdx_quote quote;
static struct sgx_ext pck;
static char *raw_quote, *raw_col;

static void load(void)
{
	size_t n;
	struct err e = { 0 };
	raw_quote = unit_slurp("testdata/dcap-qvl-tdx-quote.bin", &n);
	if (quote_parse(&quote, (uint8_t *)raw_quote, n, &e))
		exit(1);
	raw_col = unit_slurp("testdata/dcap-qvl-tdx-collateral.json", &n);
	if (collateral_parse(&col, raw_col, n, &e))
		exit(1);
	STACK_OF(X509) *chain;
	if (certchain_pem(quote.pck_chain, quote.pck_chain_len, &chain, &e) ||
	    sgx_ext_from_cert(sk_X509_value(chain, 0), &pck, &e))
		exit(1);
	sk_X509_pop_free(chain, X509_free);
}

/* Evaluates the sample with tee_tcb_svn bytes 0 and 1 (module SVN, version)
 * replaced, and the check that failed (CHECK_NONE when it passed). */
static enum dcap_check eval_svn(int isvsvn, int version, struct dcap_result *r)
{
	struct tdx_quote q = quote;
	uint8_t svn[16];
	memcpy(svn, quote.td.tee_tcb_svn, 16);
	if (isvsvn >= 0)
		svn[0] = (uint8_t)isvsvn;
	if (version >= 0)
		svn[1] = (uint8_t)version;
	q.td.tee_tcb_svn = svn;
	struct err e = { 0 };
	memset(r, 0, sizeof *r);
	r->pck = pck;
	int rc = dcap_evaluate(&col, &q, r, &e);
	if (rc && rc != EXIT_REJECTED)
		printf("# unexpected %d: %s\n", rc, e.msg);
	return rc ? r->failed : CHECK_NONE;
}

static void real_sample_is_up_to_date(void)
{
	struct dcap_result r;
	CHECK(eval_svn(-1, -1, &r) == CHECK_NONE);
	CHECK(r.evaluated && r.status == TCB_UP_TO_DATE && r.adv.n == 0);
	CHECK(r.has_module_status && r.module_status == TCB_UP_TO_DATE && r.qe_isvsvn == 6);
	CHECK(!strcmp(r.tcb_date, "2024-03-13T00:00:00Z"));
	dcap_result_free(&r);
}

static void module_identity_decides_module_bytes(void)
{
	struct dcap_result r;
	/* Version 1 -> TDX_01: ISVSVN 3 reaches its OutOfDate level (2); the platform
	 * level skips bytes 0-1 and stays UpToDate; the merge is OutOfDate. */
	CHECK(eval_svn(3, 1, &r) == CHECK_NONE);
	CHECK(r.platform_status == TCB_UP_TO_DATE && r.module_status == TCB_OUT_OF_DATE && r.status == TCB_OUT_OF_DATE);
	dcap_result_free(&r);
	/* Below every TDX_01 level. */
	CHECK(eval_svn(1, 1, &r) == CHECK_TDX_MODULE);
	dcap_result_free(&r);
	/* Version 2: no TDX_02 identity. */
	CHECK(eval_svn(-1, 2, &r) == CHECK_TDX_MODULE);
	dcap_result_free(&r);
	/* Version 3 -> TDX_03 (levels: isvsvn 3 UpToDate). */
	CHECK(eval_svn(3, 3, &r) == CHECK_NONE && r.module_status == TCB_UP_TO_DATE);
	dcap_result_free(&r);
	/* Version 0: the base tdxModule, and all 16 bytes in the platform comparison. */
	CHECK(eval_svn(6, 0, &r) == CHECK_NONE && !r.has_module_status && r.status == TCB_UP_TO_DATE);
	dcap_result_free(&r);
	CHECK(eval_svn(4, 0, &r) == CHECK_TCB_LEVEL);
	dcap_result_free(&r);
}

static void platform_level_selection(void)
{
	struct dcap_result r;
	struct sgx_ext saved = pck;
	pck.pcesvn = 10; /* below level 0 (11), at least level 1 (5): OutOfDate, 14 advisories */
	CHECK(eval_svn(-1, -1, &r) == CHECK_NONE);
	CHECK(r.platform_status == TCB_OUT_OF_DATE && r.status == TCB_OUT_OF_DATE && r.adv.n == 14);
	CHECK(!strcmp(r.adv.id[0], "INTEL-SA-00106") && !strcmp(r.tcb_date, "2018-01-04T00:00:00Z"));
	dcap_result_free(&r);
	pck.pcesvn = 4; /* below every level */
	CHECK(eval_svn(-1, -1, &r) == CHECK_TCB_LEVEL);
	dcap_result_free(&r);
	pck = saved;
	pck.cpusvn[7] = 4; /* SEAMLDR ACM component below 5 everywhere */
	CHECK(eval_svn(-1, -1, &r) == CHECK_TCB_LEVEL);
	dcap_result_free(&r);
	pck = saved;
	pck.fmspc[0] ^= 1;
	CHECK(eval_svn(-1, -1, &r) == CHECK_FMSPC_MISMATCH);
	dcap_result_free(&r);
	pck = saved;
	pck.pce_id[1] = 1;
	CHECK(eval_svn(-1, -1, &r) == CHECK_PCE_ID_MISMATCH);
	dcap_result_free(&r);
	pck = saved;
}

static void qe_identity_policy(void)
{
	struct dcap_result r;
	struct tdx_quote saved = quote;
	uint8_t signer[32];
	quote.qe_report.isv_svn = 3; /* below the only level (4) */
	CHECK(eval_svn(-1, -1, &r) == CHECK_QE_IDENTITY);
	dcap_result_free(&r);
	quote = saved;
	memcpy(signer, quote.qe_report.mr_signer, 32);
	signer[31] ^= 1;
	quote.qe_report.mr_signer = signer;
	CHECK(eval_svn(-1, -1, &r) == CHECK_QE_IDENTITY);
	dcap_result_free(&r);
	quote = saved;
	quote.qe_report.isv_prod_id = 1;
	CHECK(eval_svn(-1, -1, &r) == CHECK_QE_IDENTITY);
	dcap_result_free(&r);
	quote = saved;
	quote.qe_report.misc_select = 1;
	CHECK(eval_svn(-1, -1, &r) == CHECK_QE_IDENTITY);
	dcap_result_free(&r);
	quote = saved;
}

static void tdx_module_identity(void)
{
	struct dcap_result r;
	struct tdx_quote saved = quote;
	uint8_t signer[48] = { 1 }, attrs[8] = { 0, 0, 0, 0, 0, 0, 0, 0x80 };
	quote.td.mr_signer_seam = signer;
	CHECK(eval_svn(-1, -1, &r) == CHECK_TDX_MODULE);
	dcap_result_free(&r);
	quote = saved;
	quote.td.seam_attributes = attrs;
	CHECK(eval_svn(-1, -1, &r) == CHECK_TDX_MODULE);
	dcap_result_free(&r);
	quote = saved;
}

static enum dcap_check td_attrs(const uint8_t a[8], struct dcap_result *r)
{
	struct tdx_quote q = quote;
	struct err e = { 0 };
	memset(r, 0, sizeof *r);
	q.td.td_attributes = a;
	return dcap_check_td_attributes(&q, r, &e) ? r->failed : CHECK_NONE;
}

static void td_attributes_rules(void)
{
	struct dcap_result r;
	const uint8_t ok[8] = { 0, 0, 0, 0x10, 0, 0, 0, 0 }, debug[8] = { 1, 0, 0, 0x10, 0, 0, 0, 0 },
		      tud[8] = { 2, 0, 0, 0x10, 0, 0, 0, 0 }, nosept[8] = { 0 },
		      sec[8] = { 0, 1, 0, 0x10, 0, 0, 0, 0 }, bit29[8] = { 0, 0, 0, 0x30, 0, 0, 0, 0 },
		      other[8] = { 0, 0, 0, 0x10, 0, 0, 0, 0x40 }, pks_kl[8] = { 0, 0, 0, 0xd0, 0, 0, 0, 0 },
		      perfmon[8] = { 0, 0, 0, 0x10, 0, 0, 0, 0x80 };
	CHECK(td_attrs(ok, &r) == CHECK_NONE && !r.perfmon);
	CHECK(td_attrs(pks_kl, &r) == CHECK_NONE);
	CHECK(td_attrs(perfmon, &r) == CHECK_NONE && r.perfmon);
	CHECK(td_attrs(debug, &r) == CHECK_TD_ATTRIBUTES);
	CHECK(td_attrs(tud, &r) == CHECK_TD_ATTRIBUTES);
	CHECK(td_attrs(nosept, &r) == CHECK_TD_ATTRIBUTES);
	CHECK(td_attrs(sec, &r) == CHECK_TD_ATTRIBUTES);
	CHECK(td_attrs(bit29, &r) == CHECK_TD_ATTRIBUTES);
	CHECK(td_attrs(other, &r) == CHECK_TD_ATTRIBUTES);
}

int main(void)
{
	load();
	RUN(real_sample_is_up_to_date);
	RUN(module_identity_decides_module_bytes);
	RUN(platform_level_selection);
	RUN(qe_identity_policy);
	RUN(tdx_module_identity);
	RUN(td_attributes_rules);
	collateral_free(&col);
	free(raw_quote);
	free(raw_col);
	return UNIT_DONE();
}

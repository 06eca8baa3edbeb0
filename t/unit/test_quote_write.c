/* The quote writer is the parser's inverse: parse real quotes, write them
 * back, get the same bytes; and a synthetic v5 TD 1.5 quote round-trips. */
#include <stdbool.h>

#include "quote.h"
#include "unit.h"

static bool rewrite(const struct tdx_quote *q, struct buf *out)
{
	struct err e = { 0 };
	return quote_write_signed(out, q, &e) == EXIT_OK && quote_write_signature_data(out, q, &e) == EXIT_OK;
}

static void real_quotes_round_trip(void)
{
	const char *files[] = { "testdata/phala-quote.bin", "testdata/dstack-ra-tls-quote.bin",
				"testdata/dcap-qvl-tdx-quote.bin" };
	for (int i = 0; i < 3; i++) {
		size_t n;
		char *raw = unit_slurp(files[i], &n);
		struct tdx_quote q;
		struct err e = { 0 };
		struct buf out = { 0 };
		CHECK(quote_parse(&q, (uint8_t *)raw, n, &e) == EXIT_OK);
		CHECK(rewrite(&q, &out));
		CHECK(out.len == q.len && !memcmp(out.data, raw, q.len));
		uint8_t report[SGX_REPORT_LEN];
		sgx_report_write(report, &q.qe_report);
		CHECK(!memcmp(report + 16, q.qe_report.raw + 16, 4) && !memcmp(report + 256, q.qe_report.raw + 256, 4));
		buf_free(&out);
		free(raw);
	}
}

static void v5_td15_round_trips(void)
{
	uint8_t fill[17][64];
	struct tdx_quote q = { .version = 5, .att_key_type = 2, .tee_type = TDX_TEE_TYPE, .qe_svn = 4,
			       .pce_svn = 11, .body_type = 3, .qe_auth_len = 3 };
	for (int i = 0; i < 17; i++)
		memset(fill[i], i + 1, sizeof fill[i]);
	const uint8_t **f[] = { &q.td.tee_tcb_svn, &q.td.mr_seam, &q.td.mr_signer_seam, &q.td.seam_attributes,
				&q.td.td_attributes, &q.td.xfam, &q.td.mr_td, &q.td.mr_config_id, &q.td.mr_owner,
				&q.td.mr_owner_config, &q.td.rtmr[0], &q.td.rtmr[1], &q.td.rtmr[2], &q.td.rtmr[3],
				&q.td.report_data, &q.td.tee_tcb_svn2, &q.td.mr_service_td };
	for (int i = 0; i < 17; i++)
		*f[i] = fill[i];
	uint8_t report[SGX_REPORT_LEN];
	struct sgx_report r = { .isv_prod_id = 2, .isv_svn = 4, .misc_select = 0x01020304, .mr_signer = fill[3] };
	sgx_report_write(report, &r);
	q.qe_report.raw = report;
	q.qe_auth_data = (const uint8_t *)"abc";
	q.pck_chain = (const uint8_t *)"PEM";
	q.pck_chain_len = 3;
	struct buf out = { 0 };
	CHECK(rewrite(&q, &out));
	struct tdx_quote p;
	struct err e = { 0 };
	CHECK(quote_parse(&p, out.data, out.len, &e) == EXIT_OK);
	CHECK(p.version == 5 && p.body_type == 3 && p.body_size == TD15_REPORT_LEN && p.signed_len == 48 + 6 + 648);
	CHECK(p.td.mr_service_td && !memcmp(p.td.mr_service_td, fill[16], 48));
	CHECK(!memcmp(p.td.rtmr[2], fill[12], 48) && !memcmp(p.td.report_data, fill[14], 64));
	CHECK(p.qe_report.isv_svn == 4 && p.qe_report.isv_prod_id == 2 && p.qe_report.misc_select == 0x01020304);
	CHECK(!memcmp(p.qe_report.mr_signer, fill[3], 32) && p.qe_auth_len == 3 && p.pck_chain_len == 3);
	buf_free(&out);
}

static void refuses_unwritable(void)
{
	struct tdx_quote q = { .version = 4, .body_type = 3 };
	struct buf out = { 0 };
	struct err e = { 0 };
	CHECK(quote_write_signed(&out, &q, &e) == EXIT_USAGE);
	q.version = 3;
	CHECK(quote_write_signed(&out, &q, &e) == EXIT_USAGE);
	buf_free(&out);
}

int main(void)
{
	RUN(real_quotes_round_trip);
	RUN(v5_td15_round_trips);
	RUN(refuses_unwritable);
	return UNIT_DONE();
}

#include <stdbool.h>

#include "quote.h"
#include "unit.h"

static void parses_real_phala_quote(void)
{
	size_t n;
	char *raw = unit_slurp("testdata/phala-quote.bin", &n);
	struct tdx_quote q;
	struct err e = { 0 };
	CHECK(n == 5010);
	CHECK(quote_parse(&q, (uint8_t *)raw, n, &e) == EXIT_OK);
	CHECK(q.version == 4 && q.tee_type == TDX_TEE_TYPE && q.att_key_type == 2);
	CHECK(q.sig_data_len == 4304 && q.len == 4940 && q.trailing == 70);
	CHECK(q.signed_len == 632);
	CHECK(q.td.mr_td == (uint8_t *)raw + 184 && q.td.rtmr[3] == (uint8_t *)raw + 520);
	CHECK(q.td.report_data == (uint8_t *)raw + 568);
	CHECK(!memcmp(q.qe_vendor_id, INTEL_QE_VENDOR_ID, 16));
	CHECK(q.qe_auth_len == 32 && q.pck_cert_type == 5);
	CHECK(q.pck_chain_len > 0 && !memcmp(q.pck_chain, "-----BEGIN CERTIFICATE-----", 27));
	free(raw);
}

static void parses_other_real_quotes(void)
{
	const char *files[] = { "testdata/dstack-ra-tls-quote.bin", "testdata/dcap-qvl-tdx-quote.bin" };
	for (int i = 0; i < 2; i++) {
		size_t n;
		char *raw = unit_slurp(files[i], &n);
		struct tdx_quote q;
		struct err e = { 0 };
		CHECK(quote_parse(&q, (uint8_t *)raw, n, &e) == EXIT_OK);
		CHECK(q.len + q.trailing == n);
		free(raw);
	}
}

static void every_truncation_is_malformed(void)
{
	size_t n;
	char *raw = unit_slurp("testdata/phala-quote.bin", &n);
	int accepted = 0;
	for (size_t len = 0; len < 4940; len++) {
		uint8_t *copy = malloc(len ? len : 1); /* exact size: ASan sees any over-read */
		memcpy(copy, raw, len);
		struct tdx_quote q;
		struct err e = { 0 };
		if (quote_parse(&q, copy, len, &e) != EXIT_MALFORMED)
			accepted++;
		free(copy);
	}
	CHECK(accepted == 0);
	free(raw);
}

static void refuses_wrong_version_and_tee(void)
{
	size_t n;
	uint8_t *raw = (uint8_t *)unit_slurp("testdata/phala-quote.bin", &n);
	struct tdx_quote q;
	struct err e = { 0 };
	raw[0] = 3;
	CHECK(quote_parse(&q, raw, n, &e) == EXIT_MALFORMED && strstr(e.msg, "SGX"));
	raw[0] = 6;
	CHECK(quote_parse(&q, raw, n, &e) == EXIT_MALFORMED && strstr(e.msg, "version 6"));
	raw[0] = 4;
	raw[4] = 0x82;
	CHECK(quote_parse(&q, raw, n, &e) == EXIT_MALFORMED && strstr(e.msg, "TEE type"));
	free(raw);
}

static void decodes_hex_input(void)
{
	struct buf out = { 0 };
	struct err e = { 0 };
	const char *hex = "0x0400 0200\n8100";
	CHECK(quote_input_decode((const uint8_t *)hex, strlen(hex), &out, &e) == EXIT_OK);
	CHECK(out.len == 6 && out.data[0] == 4 && out.data[4] == 0x81);
	buf_free(&out);
}

int main(void)
{
	RUN(parses_real_phala_quote);
	RUN(parses_other_real_quotes);
	RUN(every_truncation_is_malformed);
	RUN(refuses_wrong_version_and_tee);
	RUN(decodes_hex_input);
	return UNIT_DONE();
}

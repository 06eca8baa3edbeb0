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

/* A failed take poisons the cursor: every later take fails, cur_left is 0,
 * and a restored copy is usable again. */
static void cursor_poisons_after_a_failed_take(void)
{
	const uint8_t data[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct cursor c = cursor_of(data, sizeof data);
	CHECK(cur_take(&c, 2) == data && cur_ok(&c));
	struct cursor save = c;
	CHECK(cur_take(&c, 7) == NULL && !cur_ok(&c));
	CHECK(cur_take(&c, 1) == NULL && cur_left(&c) == 0);
	uint8_t b = 0;
	uint32_t w = 0;
	CHECK(!cur_u8(&c, &b) && !cur_u32le(&c, &w) && b == 0);
	c = save;
	CHECK(cur_ok(&c) && cur_left(&c) == 6 && cur_u8(&c, &b) && b == 3);
}

/* Certification data shorter than a QE report (66..383 bytes): the report
 * take fails and the parser must say truncated, not read through NULL. */
static void short_certification_data_is_malformed(void)
{
	size_t n;
	uint8_t *raw = (uint8_t *)unit_slurp("testdata/phala-quote.bin", &n);
	const size_t sig_at = 632, cd_len_at = sig_at + 4 + 64 + 64 + 2, cd_at = cd_len_at + 4;
	int refused = 0, tried = 0;
	for (uint32_t cd_len = 0; cd_len < 400; cd_len++) {
		size_t len = cd_at + cd_len;
		uint8_t *copy = malloc(len); /* exact size: ASan sees any over-read */
		memcpy(copy, raw, len);
		uint32_t sig_len = (uint32_t)(len - sig_at - 4);
		for (int i = 0; i < 4; i++) {
			copy[sig_at + i] = (uint8_t)(sig_len >> (8 * i));
			copy[cd_len_at + i] = (uint8_t)(cd_len >> (8 * i));
		}
		struct tdx_quote q;
		struct err e = { 0 };
		tried++;
		if (quote_parse(&q, copy, len, &e) == EXIT_MALFORMED && strstr(e.msg, "truncated"))
			refused++;
		free(copy);
	}
	CHECK(refused == tried);
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
	RUN(cursor_poisons_after_a_failed_take);
	RUN(short_certification_data_is_malformed);
	RUN(refuses_wrong_version_and_tee);
	RUN(decodes_hex_input);
	return UNIT_DONE();
}

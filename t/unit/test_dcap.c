#include <stdbool.h>

#include "certchain.h"
#include "collateral.h"
#include "dcap.h"
#include "sgxext.h"
#include "timefmt.h"
#include "unit.h"

static void rfc3339_strict(void)
{
	time_t t;
	CHECK(rfc3339_parse("2025-07-01T00:00:00Z", 20, &t) && t == 1751328000);
	CHECK(rfc3339_parse("2025-07-01T02:00:00.123+02:00", 29, &t) && t == 1751328000);
	CHECK(rfc3339_parse("2024-02-29T00:00:00Z", 20, &t));
	CHECK(!rfc3339_parse("2025-02-29T00:00:00Z", 20, &t));
	CHECK(!rfc3339_parse("2025-07-01 00:00:00Z", 20, &t));
	CHECK(!rfc3339_parse("2025-07-01T00:00:00", 19, &t));
	CHECK(!rfc3339_parse("2025-13-01T00:00:00Z", 20, &t));
	CHECK(!rfc3339_parse("2025-07-01T00:00:00Zx", 21, &t));
	CHECK(time_arg_parse("1751328000", &t) && t == 1751328000);
	CHECK(!time_arg_parse("17513x", &t) && !time_arg_parse("", &t));
	char s[21];
	rfc3339_format(1751328000, s);
	CHECK(!strcmp(s, "2025-07-01T00:00:00Z"));
}

static void sgx_extension_of_real_pck(void)
{
	size_t n;
	char *pem = unit_slurp("t/fuzz/corpus/fuzz_pckcert/phala-pck-chain.pem", &n);
	STACK_OF(X509) *chain;
	struct err e = { 0 };
	struct sgx_ext x;
	CHECK(certchain_pem((uint8_t *)pem, n, &chain, &e) == EXIT_OK && sk_X509_num(chain) == 3);
	CHECK(sgx_ext_from_cert(sk_X509_value(chain, 0), &x, &e) == EXIT_OK);
	CHECK(!memcmp(x.fmspc, "\x20\xa0\x6f\x00\x00\x00", 6) && !memcmp(x.pce_id, "\0\0", 2));
	CHECK(x.pcesvn == 13 && x.comp_svn[0] == 5 && x.comp_svn[5] == 255 && x.sgx_type == 1);
	CHECK(!memcmp(x.cpusvn, "\x05\x05\x02\x02\x05\xff\x00\x02", 8));
	CHECK(x.has_platform_instance_id);
	/* The root is not a PCK certificate. */
	CHECK(sgx_ext_from_cert(sk_X509_value(chain, 2), &x, &e) == EXIT_MALFORMED);
	sk_X509_pop_free(chain, X509_free);
	/* Every truncation of the extension DER is malformed, never a crash. */
	char *der = unit_slurp("t/fuzz/corpus/fuzz_pckcert/phala-sgx-ext.der", &n);
	CHECK(sgx_ext_parse((uint8_t *)der, n, &x, &e) == EXIT_OK);
	for (size_t k = 0; k < n; k++)
		CHECK(sgx_ext_parse((uint8_t *)der, k, &x, &e) == EXIT_MALFORMED);
	free(der);
	/* PEM text outside the blocks, or non-canonical base64, is malformed. */
	pem[n - 2] ^= 1;
	CHECK(certchain_pem((uint8_t *)pem, n, &chain, &e) == EXIT_MALFORMED);
	free(pem);
}

static void collateral_of_real_sample(void)
{
	size_t n;
	char *text = unit_slurp("testdata/dcap-qvl-tdx-collateral.json", &n);
	struct collateral c;
	struct err e = { 0 };
	CHECK(collateral_parse(&c, text, n, &e) == EXIT_OK);
	CHECK(!strcmp(c.tcb.id, "TDX") && c.tcb.version == 3 && c.tcb.eval_number == 17);
	CHECK(!memcmp(c.tcb.fmspc, "\xb0\xc0\x6f\x00\x00\x00", 6));
	CHECK(c.tcb.nlevels == 2 && c.tcb.levels[0].pcesvn == 11 && c.tcb.levels[0].status == TCB_UP_TO_DATE);
	CHECK(c.tcb.levels[1].status == TCB_OUT_OF_DATE && c.tcb.levels[1].adv.n == 14);
	CHECK(!strcmp(c.tcb.levels[1].adv.id[0], "INTEL-SA-00106"));
	CHECK(c.tcb.has_module && c.tcb.nidentities == 2 && !strcmp(c.tcb.identities[1].id, "TDX_01"));
	CHECK(c.tcb.identities[1].nlevels == 2 && c.tcb.identities[1].levels[1].isvsvn == 2);
	CHECK(!strcmp(c.qe.id, "TD_QE") && c.qe.isvprodid == 2 && c.qe.miscselect_mask == 0xffffffffu);
	CHECK(c.qe.attributes[0] == 0x11 && c.qe.attributes_mask[0] == 0xfb);
	CHECK(c.tcb_info_signature[0] != 0 || c.tcb_info_signature[1] != 0);
	collateral_free(&c);
	free(text);
}

static void statuses_and_accept_lists(void)
{
	enum tcb_status s;
	CHECK(tcb_status_parse("OutOfDateConfigurationNeeded", 28, &s) && s == TCB_OUT_OF_DATE_CONFIGURATION_NEEDED);
	CHECK(!tcb_status_parse("UpToDat", 7, &s));
	unsigned m;
	char bad[32];
	CHECK(dcap_accept_parse("UpToDate,NoCollateral", &m, bad, sizeof bad));
	CHECK(m == ((1u << TCB_UP_TO_DATE) | DCAP_ACCEPT_NO_COLLATERAL));
	CHECK(!dcap_accept_parse("UpToDate,Revoked", &m, bad, sizeof bad) && !strcmp(bad, "Revoked"));
	CHECK(!dcap_accept_parse("UpToDate,", &m, bad, sizeof bad));
	struct advisories a = { 0 };
	CHECK(advisories_add(&a, "X") && advisories_add(&a, "Y") && advisories_add(&a, "X") && a.n == 2);
	/* Repeats found by sorting; the first of each stays where it was seen. */
	struct advisories b = { 0 };
	const char *ids[] = { "Z", "Y", "A", "Z", "X", "A" };
	for (size_t i = 0; i < sizeof ids / sizeof *ids; i++)
		CHECK(advisories_add(&b, ids[i]));
	CHECK(advisories_merge(&a, &b) && a.n == 4);
	CHECK(!strcmp(a.id[0], "X") && !strcmp(a.id[1], "Y") && !strcmp(a.id[2], "Z") && !strcmp(a.id[3], "A"));
	advisories_free(&b);
	advisories_free(&a);
	CHECK(!strcmp(dcap_check_name(CHECK_TCB_INFO_SIGNATURE), "tcb_info_signature"));
	for (int c = 0; c < CHECK_COUNT; c++)
		CHECK(dcap_check_name((enum dcap_check)c) != NULL);
}

int main(void)
{
	RUN(rfc3339_strict);
	RUN(sgx_extension_of_real_pck);
	RUN(collateral_of_real_sample);
	RUN(statuses_and_accept_lists);
	return UNIT_DONE();
}

/* lib/pcs and lib/http response handling: percent-decoding, the exact signed
 * body of a PCS response, CRL bodies, header lookup in the last block. */
#include <stdbool.h>

#include "http.h"
#include "pcs.h"
#include "unit.h"

static void url_decode(void)
{
	struct buf b = { 0 };
	CHECK(pcs_url_decode("-----BEGIN%20CERTIFICATE-----%0AMIIC%2B%2f", 42, &b));
	CHECK(!strcmp((const char *)b.data, "-----BEGIN CERTIFICATE-----\nMIIC+/"));
	buf_reset(&b);
	CHECK(!pcs_url_decode("ab%2", 4, &b));
	buf_reset(&b);
	CHECK(!pcs_url_decode("%zz", 3, &b));
	buf_reset(&b);
	CHECK(!pcs_url_decode("%0x41", 5, &b));
	buf_free(&b);
}

static void signed_body_is_exact(void)
{
	const char *body = "{ \"tcbInfo\" : {\"id\":\"TDX\", \"a\":[1, 2]} ,\"signature\":\""
			   "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
			   "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f\"}";
	struct buf out = { 0 };
	struct err e = { 0 };
	uint8_t sig[64];
	CHECK(pcs_signed_body(body, strlen(body), "tcbInfo", &out, sig, &e) == EXIT_OK);
	CHECK(!strcmp((const char *)out.data, "{\"id\":\"TDX\", \"a\":[1, 2]}"));
	CHECK(sig[0] == 0 && sig[63] == 0x3f);
	CHECK(pcs_signed_body(body, strlen(body), "enclaveIdentity", &out, sig, &e) == EXIT_MALFORMED);
	const char *short_sig = "{\"tcbInfo\":{},\"signature\":\"0011\"}";
	CHECK(pcs_signed_body(short_sig, strlen(short_sig), "tcbInfo", &out, sig, &e) == EXIT_MALFORMED);
	const char *not_obj = "{\"tcbInfo\":[],\"signature\":\"00\"}";
	CHECK(pcs_signed_body(not_obj, strlen(not_obj), "tcbInfo", &out, sig, &e) == EXIT_MALFORMED);
	CHECK(pcs_signed_body("garbage", 7, "tcbInfo", &out, sig, &e) == EXIT_MALFORMED);
	buf_free(&out);
}

static void crl_bodies(void)
{
	size_t n;
	char *json = unit_slurp("testdata/dcap-qvl-tdx-collateral.json", &n);
	const char *hex = strstr(json, "\"root_ca_crl\": \"") + 16;
	size_t hexlen = (size_t)(strchr(hex, '"') - hex);
	struct buf der = { 0 }, out = { 0 };
	struct err e = { 0 };
	CHECK(hex_decode(hex, hexlen, &der));
	CHECK(pcs_crl_body(der.data, der.len, &out, &e) == EXIT_OK && out.len == der.len);
	CHECK(pcs_crl_body((const uint8_t *)hex, hexlen, &out, &e) == EXIT_OK && out.len == der.len);
	CHECK(!memcmp(out.data, der.data, der.len));
	CHECK(pcs_crl_body(der.data, der.len - 1, &out, &e) == EXIT_MALFORMED);
	CHECK(pcs_crl_body((const uint8_t *)"garbage", 7, &out, &e) == EXIT_MALFORMED);
	buf_free(&der);
	buf_free(&out);
	free(json);
}

static void header_lookup(void)
{
	struct http_response r = { 0 };
	const char *h = "HTTP/1.1 100 Continue\r\nX-Chain: old\r\n\r\n"
			"HTTP/1.1 200 OK\r\nx-chain:  new value \r\nOther: 1\r\n\r\n";
	struct buf v = { 0 };
	buf_append_str(&r.headers, h);
	CHECK(http_header(&r, "X-Chain", &v) && !strcmp((const char *)v.data, "new value"));
	CHECK(!http_header(&r, "X-Chai", &v));
	CHECK(!http_header(&r, "Missing", &v));
	buf_free(&v);
	http_response_free(&r);
}

int main(void)
{
	RUN(url_decode);
	RUN(signed_body_is_exact);
	RUN(crl_bodies);
	RUN(header_lookup);
	return UNIT_DONE();
}

/* Fuzz target: what tdx-collateral-fetch reads off the network and out of a
 * quote - PCS response bodies (signed TCB info / QE identity, CRLs),
 * percent-encoded issuer-chain headers, HTTP header blocks - and the PCK
 * chain's platform facts. The first byte picks the parser. */
#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "pcs.h"
#include "quote.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	const uint8_t *p = data + 1;
	size_t n = size - 1;
	struct buf out = { 0 };
	struct err e = { 0 };
	uint8_t sig[64];
	switch (data[0] % 6) {
	case 0: pcs_signed_body((const char *)p, n, "tcbInfo", &out, sig, &e); break;
	case 1: pcs_signed_body((const char *)p, n, "enclaveIdentity", &out, sig, &e); break;
	case 2: pcs_crl_body(p, n, &out, &e); break;
	case 3: pcs_url_decode((const char *)p, n, &out); break;
	case 4: {
		struct http_response r = { 0 };
		if (buf_append(&r.headers, p, n))
			http_header(&r, "SGX-PCK-CRL-Issuer-Chain", &out);
		http_response_free(&r);
		break;
	}
	default: {
		struct tdx_quote q;
		struct pcs_platform pf;
		if (quote_parse(&q, p, n, &e) == EXIT_OK)
			pcs_platform_from_quote(&q, &pf, &e);
	}
	}
	buf_free(&out);
	return 0;
}

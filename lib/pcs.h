/* pcs: the Intel PCS / PCCS API v4 as DCAP collateral comes from it - which
 * collateral a quote needs (FMSPC, PCK CA, root CRL location), fetching the
 * five parts, checking each response, and dcap-qvl's collateral JSON (the
 * QuoteCollateralV3 field names) that they are assembled into. */
#ifndef LIB_PCS_H
#define LIB_PCS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bytes.h"
#include "collateral.h"
#include "err.h"
#include "quote.h"

#define PCS_INTEL_BASE "https://api.trustedservices.intel.com"

/* What a quote's PCK certificate chain says about the collateral it needs. */
struct pcs_platform {
	uint8_t fmspc[6];
	bool processor;          /* PCK issued by the Processor CA (else Platform CA) */
	char root_crl_url[1024]; /* the root certificate's CRL distribution point, "" if none */
};

/* From the quote's PEM PCK chain: the leaf's SGX extension (FMSPC), its
 * issuer's common name (Platform or Processor CA) and the root's CRL
 * distribution point. EXIT_MALFORMED when the chain or extension is bad. */
int pcs_platform_from_quote(const struct tdx_quote *q, struct pcs_platform *p, struct err *e);

struct pcs_source {
	const char *base; /* PCS or PCCS base URL, without the /sgx or /tdx path */
	bool pccs;        /* a PCCS: the root CA CRL from {base}/sgx/certification/v4/rootcacrl,
			     else from the root certificate's CRL distribution point */
	long timeout_s;   /* per request */
};

/* Fetches PCK CRL, TCB info, QE identity and root CA CRL with their issuer
 * chains into c's raw parts (pck_crl_issuer_chain, root_ca_crl, pck_crl,
 * tcb_info_issuer_chain, tcb_info, tcb_info_signature, qe_identity_issuer_chain,
 * qe_identity, qe_identity_signature). EXIT_REMOTE for transfer or HTTP
 * failures, EXIT_MALFORMED when a response is not what the API returns. */
int pcs_fetch(const struct pcs_source *src, const struct pcs_platform *p, struct collateral *c, struct err *e);

/* Writes c's raw parts as dcap-qvl collateral JSON (one object and a newline;
 * pck_certificate_chain only when c->has_pck_certificate_chain). */
int collateral_json(const struct collateral *c, struct buf *out, struct err *e);

/* Response pieces, exposed for the fuzz target and tests. */
/* Percent-decoding of an issuer-chain header; false on a bad escape. */
bool pcs_url_decode(const char *s, size_t n, struct buf *out);
/* A {"<key>": <body>, "signature": "<hex r||s>"} response: body is the exact
 * JSON text of the member's value. */
int pcs_signed_body(const char *text, size_t len, const char *key, struct buf *body, uint8_t sig[64],
		    struct err *e);
/* A CRL response body: DER, or hex of DER (some PCCS); must parse as one CRL. */
int pcs_crl_body(const uint8_t *p, size_t n, struct buf *der, struct err *e);

#endif

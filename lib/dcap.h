/* dcap: Intel DCAP verification of a TDX quote - PCK chain to the pinned
 * root, CRLs, collateral signatures and validity, QE report and its binding,
 * quote signature, QE identity, TCB level (with the TDX module identity
 * rules) and the merged status. Collateral is optional: without it every
 * collateral-free check runs and the status is "NoCollateral".
 *
 * The verifier keeps the root and the parsed collateral (certificates, CRLs,
 * TCB info, QE identity), so repeated verifications parse nothing twice;
 * every signature and every check still runs on every call. A verifier is
 * not safe to share between threads (dcap_verify updates its PCK chain cache). */
#ifndef LIB_DCAP_H
#define LIB_DCAP_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "certchain.h"
#include "collateral.h"
#include "err.h"
#include "quote.h"
#include "sgxext.h"

/* The checks, each with a stable name (dcap_check_name) that --json reports
 * as "failed_check" and the man page lists. Order is not significant. */
enum dcap_check {
	CHECK_NONE = 0,
	CHECK_QE_VENDOR_ID,          /* qe_vendor_id: header's QE vendor is not Intel */
	CHECK_ROOT_CRL,              /* root_crl: root CA CRL not from the root, bad signature, or not current */
	CHECK_PCK_CRL,               /* pck_crl: PCK CRL missing, not from the PCK's issuer, bad signature, not current */
	CHECK_CERT_REVOKED,          /* cert_revoked: a certificate in a chain is listed in its issuer's CRL */
	CHECK_PCK_CHAIN,             /* pck_chain: PCK chain does not verify to the root at the time */
	CHECK_TCB_INFO_CHAIN,        /* tcb_info_chain: TCB info issuer chain does not verify to the root */
	CHECK_TCB_INFO_SIGNATURE,    /* tcb_info_signature: signature over the tcbInfo body */
	CHECK_QE_IDENTITY_CHAIN,     /* qe_identity_chain: QE identity issuer chain */
	CHECK_QE_IDENTITY_SIGNATURE, /* qe_identity_signature: signature over the enclaveIdentity body */
	CHECK_COLLATERAL_EXPIRED,    /* collateral_expired: now outside [issueDate, nextUpdate] */
	CHECK_TCB_INFO_TYPE,         /* tcb_info_type: TCB info not "TDX" version >= 3 */
	CHECK_QE_IDENTITY_TYPE,      /* qe_identity_type: QE identity not "TD_QE" version 2 or 3 */
	CHECK_QE_REPORT_SIGNATURE,   /* qe_report_signature: QE report not signed by the PCK key */
	CHECK_QE_REPORT_DATA,        /* qe_report_data: report data != SHA-256(att key || auth data) || 0^32 */
	CHECK_QUOTE_SIGNATURE,       /* quote_signature: quote not signed by the attestation key */
	CHECK_QE_IDENTITY,           /* qe_identity: QE MRSIGNER/ISVPRODID/MISCSELECT/ATTRIBUTES/ISVSVN */
	CHECK_FMSPC_MISMATCH,        /* fmspc_mismatch: PCK FMSPC != TCB info fmspc */
	CHECK_PCE_ID_MISMATCH,       /* pce_id_mismatch: PCK PCE-ID != TCB info pceId */
	CHECK_TCB_LEVEL,             /* tcb_level: no TCB level matches the platform */
	CHECK_TDX_MODULE,            /* tdx_module: TDX module identity/attributes/level */
	CHECK_TD_ATTRIBUTES,         /* td_attributes: DEBUG, reserved bits, SEPT_VE_DISABLE, MR_SERVICETD */
	CHECK_TCB_STATUS,            /* tcb_status: status Revoked, or not in the accepted set */
	CHECK_NO_COLLATERAL,         /* no_collateral: no collateral, and NoCollateral not accepted */
	/* The certificate profile (certchain_profile, crl_check), on every chain. */
	CHECK_LEAF_BASIC_CONSTRAINTS, /* leaf_basic_constraints: a chain's end entity is a CA */
	CHECK_LEAF_KEY_USAGE,         /* leaf_key_usage: end entity not allowed digitalSignature (or keyCertSign) */
	CHECK_CA_BASIC_CONSTRAINTS,   /* ca_basic_constraints: an issuer is not a CA (critical CA:TRUE) */
	CHECK_CA_KEY_USAGE,           /* ca_key_usage: an issuer not allowed keyCertSign and cRLSign */
	CHECK_PATH_LENGTH,            /* path_length: a pathLenConstraint exceeded */
	CHECK_CRITICAL_EXTENSION,     /* critical_extension: a critical extension the profile does not define */
	CHECK_CRL_ISSUER,             /* crl_issuer: a certificate's revocation judged by a CRL not from its issuer */
	CHECK_COUNT
};
const char *dcap_check_name(enum dcap_check c);

/* Status word of the reduced mode (no collateral). */
#define DCAP_NO_COLLATERAL "NoCollateral"
/* Accepted-status bitmask: bit (1 << tcb_status), plus DCAP_ACCEPT_NO_COLLATERAL. */
#define DCAP_ACCEPT_NO_COLLATERAL (1u << TCB_STATUS_COUNT)
#define DCAP_ACCEPT_DEFAULT ((1u << TCB_UP_TO_DATE) | (1u << TCB_SW_HARDENING_NEEDED))
/* Parses "UpToDate,SWHardeningNeeded,..."; Revoked is never acceptable. */
bool dcap_accept_parse(const char *list, unsigned *mask, char *bad, size_t badlen);

struct dcap_verifier {
	struct trust_root root;
	bool has_collateral;
	struct collateral col;
	/* Parsed once from the collateral. */
	X509_CRL *root_crl, *pck_crl;
	STACK_OF(X509) *pck_crl_chain, *tcb_chain, *qe_chain, *pck_chain;
	EVP_PKEY *tcb_key, *qe_key; /* leaf keys of tcb_chain and qe_chain */
	/* The PCK chain of the last quote, parsed, reused while the next quote
	 * carries the same bytes (the same platform): OpenSSL 3's certificate
	 * decoding costs more than the signature checks. */
	struct buf quote_chain_pem;
	STACK_OF(X509) *quote_chain;
};

/* root_pem NULL: the pinned Intel root. */
int dcap_verifier_init(struct dcap_verifier *v, const uint8_t *root_pem, size_t root_len, struct err *e);
/* Takes collateral JSON text; EXIT_MALFORMED when it or a certificate/CRL in
 * it does not parse. */
int dcap_verifier_set_collateral(struct dcap_verifier *v, const char *json, size_t len, struct err *e);
void dcap_verifier_free(struct dcap_verifier *v);

struct dcap_result {
	enum dcap_check failed; /* CHECK_NONE when every check passed */
	bool evaluated;         /* TCB status was evaluated (collateral given) */
	enum tcb_status status; /* merged, when evaluated */
	enum tcb_status platform_status, qe_status, module_status;
	bool has_module_status;
	struct advisories adv;
	char tcb_date[40];
	bool has_pck; /* the PCK SGX extension was read */
	struct sgx_ext pck;
	uint16_t qe_isvsvn;
	bool perfmon; /* TD_ATTRIBUTES.PERFMON (bit 63) set: reported, allowed */
	unsigned ecdsa_verifies; /* signatures checked (for the benchmark) */
};
void dcap_result_free(struct dcap_result *r);

/* Runs every check at now. Returns EXIT_OK when all passed (r->status then
 * holds the status if evaluated); EXIT_REJECTED with r->failed and e's
 * message naming the check when one failed; EXIT_MALFORMED when a part of
 * the quote (PCK chain, SGX extension) cannot be parsed; EXIT_SYSTEM on
 * OpenSSL/memory failure. The accepted-status policy is dcap_judge's. */
int dcap_verify(struct dcap_verifier *v, const struct tdx_quote *q, time_t now, struct dcap_result *r,
		struct err *e);
/* The parts of dcap_verify after the signatures, exposed for tests: the TD
 * attributes (collateral-free), and the collateral's judgments - QE identity,
 * FMSPC and PCE-ID (from r->pck, which must be filled), TCB level, TDX
 * module identity, merged status. Same returns as dcap_verify. */
int dcap_check_td_attributes(const struct tdx_quote *q, struct dcap_result *r, struct err *e);
int dcap_evaluate(const struct collateral *c, const struct tdx_quote *q, struct dcap_result *r, struct err *e);

/* After dcap_verify returned EXIT_OK: EXIT_REJECTED (r->failed set to
 * CHECK_TCB_STATUS or CHECK_NO_COLLATERAL) when the status is not in accept. */
int dcap_judge(struct dcap_result *r, unsigned accept, struct err *e);

#endif

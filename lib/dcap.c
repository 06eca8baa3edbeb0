#include "dcap.h"

#include <ctype.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"

static const char *const check_names[CHECK_COUNT] = {
	[CHECK_NONE] = "none",
	[CHECK_QE_VENDOR_ID] = "qe_vendor_id",
	[CHECK_ROOT_CRL] = "root_crl",
	[CHECK_PCK_CRL] = "pck_crl",
	[CHECK_CERT_REVOKED] = "cert_revoked",
	[CHECK_PCK_CHAIN] = "pck_chain",
	[CHECK_TCB_INFO_CHAIN] = "tcb_info_chain",
	[CHECK_TCB_INFO_SIGNATURE] = "tcb_info_signature",
	[CHECK_QE_IDENTITY_CHAIN] = "qe_identity_chain",
	[CHECK_QE_IDENTITY_SIGNATURE] = "qe_identity_signature",
	[CHECK_COLLATERAL_EXPIRED] = "collateral_expired",
	[CHECK_TCB_INFO_TYPE] = "tcb_info_type",
	[CHECK_QE_IDENTITY_TYPE] = "qe_identity_type",
	[CHECK_QE_REPORT_SIGNATURE] = "qe_report_signature",
	[CHECK_QE_REPORT_DATA] = "qe_report_data",
	[CHECK_QUOTE_SIGNATURE] = "quote_signature",
	[CHECK_QE_IDENTITY] = "qe_identity",
	[CHECK_FMSPC_MISMATCH] = "fmspc_mismatch",
	[CHECK_PCE_ID_MISMATCH] = "pce_id_mismatch",
	[CHECK_TCB_LEVEL] = "tcb_level",
	[CHECK_TDX_MODULE] = "tdx_module",
	[CHECK_TD_ATTRIBUTES] = "td_attributes",
	[CHECK_TCB_STATUS] = "tcb_status",
	[CHECK_NO_COLLATERAL] = "no_collateral",
	[CHECK_LEAF_BASIC_CONSTRAINTS] = "leaf_basic_constraints",
	[CHECK_LEAF_KEY_USAGE] = "leaf_key_usage",
	[CHECK_CA_BASIC_CONSTRAINTS] = "ca_basic_constraints",
	[CHECK_CA_KEY_USAGE] = "ca_key_usage",
	[CHECK_PATH_LENGTH] = "path_length",
	[CHECK_CRITICAL_EXTENSION] = "critical_extension",
	[CHECK_CRL_ISSUER] = "crl_issuer",
};

const char *dcap_check_name(enum dcap_check c)
{
	return (unsigned)c < CHECK_COUNT ? check_names[c] : "?";
}

bool dcap_accept_parse(const char *list, unsigned *mask, char *bad, size_t badlen)
{
	*mask = 0;
	const char *p = list;
	for (;;) {
		size_t n = strcspn(p, ",");
		enum tcb_status s;
		if (n == strlen(DCAP_NO_COLLATERAL) && !memcmp(p, DCAP_NO_COLLATERAL, n))
			*mask |= DCAP_ACCEPT_NO_COLLATERAL;
		else if (tcb_status_parse(p, n, &s) && s != TCB_REVOKED)
			*mask |= 1u << s;
		else {
			snprintf(bad, badlen, "%.*s", (int)n, p);
			return false;
		}
		if (!p[n])
			return true;
		p += n + 1;
	}
}

/* --- the verifier ------------------------------------------------------- */

int dcap_verifier_init(struct dcap_verifier *v, const uint8_t *root_pem, size_t root_len, struct err *e)
{
	memset(v, 0, sizeof *v);
	return trust_root_init(&v->root, root_pem, root_len, e);
}

static int chain_field(const struct buf *pem, const char *name, STACK_OF(X509) **out, struct err *e)
{
	if (certchain_pem(pem->data, pem->len, out, e))
		return err_wrap(e, "collateral: %s", name);
	return EXIT_OK;
}

static int crl_field(const struct buf *der, const char *name, X509_CRL **out, struct err *e)
{
	if (crl_der(der->data, der->len, out, e))
		return err_wrap(e, "collateral: %s", name);
	return EXIT_OK;
}

/* Intel signs TCB info and QE identity with the same certificate: when the
 * two issuer chains are the same text, it is parsed once. */
static int qe_chain_field(struct dcap_verifier *v, struct err *e)
{
	const struct buf *a = &v->col.tcb_info_issuer_chain, *b = &v->col.qe_identity_issuer_chain;
	if (a->len != b->len || memcmp(a->data, b->data, a->len))
		return chain_field(b, "qe_identity_issuer_chain", &v->qe_chain, e);
	v->qe_chain = X509_chain_up_ref(v->tcb_chain);
	return v->qe_chain ? EXIT_OK : err_set(e, EXIT_SYSTEM, "out of memory");
}

int dcap_verifier_set_collateral(struct dcap_verifier *v, const char *json, size_t len, struct err *e)
{
	struct collateral *c = &v->col;
	if (collateral_parse(c, json, len, e))
		return e->code;
	v->has_collateral = true;
	if (crl_field(&c->root_ca_crl, "root_ca_crl", &v->root_crl, e) ||
	    crl_field(&c->pck_crl, "pck_crl", &v->pck_crl, e) ||
	    chain_field(&c->pck_crl_issuer_chain, "pck_crl_issuer_chain", &v->pck_crl_chain, e) ||
	    chain_field(&c->tcb_info_issuer_chain, "tcb_info_issuer_chain", &v->tcb_chain, e) ||
	    qe_chain_field(v, e) ||
	    (c->has_pck_certificate_chain &&
	     chain_field(&c->pck_certificate_chain, "pck_certificate_chain", &v->pck_chain, e)))
		return e->code;
	v->tcb_key = X509_get0_pubkey(sk_X509_value(v->tcb_chain, 0));
	v->qe_key = X509_get0_pubkey(sk_X509_value(v->qe_chain, 0));
	ERR_clear_error();
	if (!v->tcb_key || !v->qe_key)
		return err_set(e, EXIT_MALFORMED, "collateral: signing certificate without a usable public key");
	return EXIT_OK;
}

void dcap_verifier_free(struct dcap_verifier *v)
{
	X509_CRL_free(v->root_crl);
	X509_CRL_free(v->pck_crl);
	sk_X509_pop_free(v->pck_crl_chain, X509_free);
	sk_X509_pop_free(v->tcb_chain, X509_free);
	sk_X509_pop_free(v->qe_chain, X509_free);
	sk_X509_pop_free(v->pck_chain, X509_free);
	sk_X509_pop_free(v->quote_chain, X509_free);
	buf_free(&v->quote_chain_pem);
	if (v->has_collateral)
		collateral_free(&v->col);
	trust_root_free(&v->root);
	memset(v, 0, sizeof *v);
}

void dcap_result_free(struct dcap_result *r)
{
	advisories_free(&r->adv);
}

/* --- helpers ------------------------------------------------------------ */

/* Records the failed check; the message starts with its name. */
__attribute__((format(printf, 4, 5))) static int fail(struct dcap_result *r, struct err *e, enum dcap_check c,
						      const char *fmt, ...)
{
	char msg[900];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	r->failed = c;
	return err_set(e, EXIT_REJECTED, "%s: %s", dcap_check_name(c), msg);
}

/* Wraps a REJECTED error from a helper as check c. */
static int fail_wrap(struct dcap_result *r, struct err *e, enum dcap_check c)
{
	if (e->code != EXIT_REJECTED)
		return e->code;
	r->failed = c;
	return err_wrap(e, "%s", dcap_check_name(c));
}

/* ECDSA P-256 / SHA-256 over msg, signature r || s. 1 good, 0 bad, -1 error. */
static int ecdsa_verify(EVP_PKEY *key, const uint8_t *msg, size_t n, const uint8_t rs[64], struct dcap_result *r)
{
	uint8_t md[SHA256_LEN], der[80];
	if (sha256_spans(md, SPANS({ msg, n })))
		return -1;
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *br = BN_bin2bn(rs, 32, NULL), *bs = BN_bin2bn(rs + 32, 32, NULL);
	if (!sig || !br || !bs || !ECDSA_SIG_set0(sig, br, bs)) {
		ECDSA_SIG_free(sig);
		BN_free(br);
		BN_free(bs);
		return -1;
	}
	unsigned char *p = der;
	int dlen = i2d_ECDSA_SIG(sig, NULL) <= (int)sizeof der ? i2d_ECDSA_SIG(sig, &p) : -1;
	ECDSA_SIG_free(sig);
	EVP_PKEY_CTX *ctx = dlen > 0 ? EVP_PKEY_CTX_new(key, NULL) : NULL;
	if (!ctx || EVP_PKEY_verify_init(ctx) != 1) {
		EVP_PKEY_CTX_free(ctx);
		ERR_clear_error();
		return -1;
	}
	int ok = EVP_PKEY_verify(ctx, der, (size_t)dlen, md, sizeof md);
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	r->ecdsa_verifies++;
	return ok == 1; /* 0 or an error: a signature that does not verify */
}

/* The attestation key (x || y) as a P-256 public key (from raw parameters:
 * OpenSSL 3's DER decoders cost several times a signature check). */
static EVP_PKEY *p256_key(const uint8_t xy[64])
{
	uint8_t point[65] = { 0x04 };
	memcpy(point + 1, xy, 64);
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"P-256", 0),
		OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point),
		OSSL_PARAM_construct_end(),
	};
	EVP_PKEY *k = NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1 || EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params) != 1)
		k = NULL;
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	return k;
}

/* The check that reports a broken rule of the certificate profile. */
static enum dcap_check rule_check(enum cert_rule rule)
{
	static const enum dcap_check checks[] = {
		[RULE_LEAF_BASIC_CONSTRAINTS] = CHECK_LEAF_BASIC_CONSTRAINTS,
		[RULE_LEAF_KEY_USAGE] = CHECK_LEAF_KEY_USAGE,
		[RULE_CA_BASIC_CONSTRAINTS] = CHECK_CA_BASIC_CONSTRAINTS,
		[RULE_CA_KEY_USAGE] = CHECK_CA_KEY_USAGE,
		[RULE_PATH_LENGTH] = CHECK_PATH_LENGTH,
		[RULE_CRITICAL_EXTENSION] = CHECK_CRITICAL_EXTENSION,
		[RULE_CRL_ISSUER] = CHECK_CRL_ISSUER,
	};
	return (unsigned)rule < sizeof checks / sizeof *checks ? checks[rule] : CHECK_NONE;
}

static const char *chain_name(enum dcap_check which)
{
	return which == CHECK_PCK_CHAIN ? "PCK chain"
	       : which == CHECK_TCB_INFO_CHAIN ? "TCB info issuer chain"
					       : "QE identity issuer chain";
}

/* A CRL of the collateral checked before use (crl_check) against the
 * issuer it must come from: a critical extension is named as such; a wrong
 * issuer or signature, or a CRL not current, as check which (root_crl,
 * pck_crl), which says whose CRL it is. */
static int crl_use(X509_CRL *crl, X509 *issuer, time_t now, enum dcap_check which, struct dcap_result *r,
		   struct err *e)
{
	enum cert_rule rule;
	if (!crl_check(crl, issuer, now, &rule, e))
		return EXIT_OK;
	return fail_wrap(r, e, rule == RULE_CRITICAL_EXTENSION ? CHECK_CRITICAL_EXTENSION : which);
}

/* The PCK CRL must come from the PCK's issuer (its intermediate CA), which
 * the collateral's pck_crl_issuer_chain must name. */
static int check_pck_crl(const struct dcap_verifier *v, STACK_OF(X509) *pck, time_t now, struct dcap_result *r,
			 struct err *e)
{
	X509 *ca = sk_X509_value(pck, 1);
	if (X509_cmp(sk_X509_value(v->pck_crl_chain, 0), ca))
		return fail(r, e, CHECK_PCK_CRL, "pck_crl_issuer_chain does not start with the PCK's issuing CA");
	if (crl_use(v->pck_crl, ca, now, CHECK_PCK_CRL, r, e))
		return e->code;
	r->ecdsa_verifies++;
	return EXIT_OK;
}

/* A chain to the root: each position as the certificate profile requires,
 * then (PCK chain) the PCK CRL, the path, and every certificate's
 * revocation status established by a CRL of the collateral that its own
 * issuer signed (none assumed). */
static int chain_check(const struct dcap_verifier *v, STACK_OF(X509) *chain, time_t now, enum dcap_check which,
		       struct dcap_result *r, struct err *e)
{
	enum cert_rule rule;
	if (certchain_profile(chain, v->root.cert, &rule, e)) {
		r->failed = rule_check(rule);
		return err_wrap(e, "%s: %s", dcap_check_name(r->failed), chain_name(which));
	}
	if (which == CHECK_PCK_CHAIN && v->has_collateral && check_pck_crl(v, chain, now, r, e))
		return e->code;
	if (certchain_verify(&v->root, chain, now, e))
		return fail_wrap(r, e, which);
	/* certchain_verify made sure that the chain is the path's start, in
	 * order, and that the path ends at the root: each certificate's issuer
	 * is the next one, or the root. */
	int n = sk_X509_num(chain);
	for (int i = 0; i < n; i++) {
		X509 *c = sk_X509_value(chain, i);
		if (!X509_cmp(c, v->root.cert))
			continue;
		r->ecdsa_verifies++; /* its issuer's signature, checked by certchain_verify */
		if (!v->has_collateral)
			continue;
		/* The root CRL was checked against the root, the PCK CRL against
		 * the PCK's issuer (check_pck_crl): a CRL vouches only for the
		 * certificates that issuer issued - the same certificate, not a
		 * namesake. Collateral signers hang off the root. */
		X509 *issuer = i + 1 < n ? sk_X509_value(chain, i + 1) : v->root.cert;
		X509_CRL *crl = NULL;
		if (!X509_cmp(issuer, v->root.cert))
			crl = v->root_crl;
		else if (which == CHECK_PCK_CHAIN && !X509_cmp(issuer, sk_X509_value(chain, 1)))
			crl = v->pck_crl;
		if (!crl) {
			char who[256], by[256];
			cert_subject(c, who, sizeof who);
			cert_subject(issuer, by, sizeof by);
			return fail(r, e, CHECK_CRL_ISSUER, "%s: no CRL in the collateral from the issuer of %s (%s%s)",
				    chain_name(which), who, by,
				    X509_NAME_cmp(X509_get_subject_name(issuer), X509_get_subject_name(v->root.cert)) ? ""
					: ", a certificate with the root's name that is not the root");
		}
		if (crl_not_revoked(crl, c, e))
			return fail_wrap(r, e, CHECK_CERT_REVOKED);
	}
	return EXIT_OK;
}

static int collateral_window(time_t issue, time_t next, time_t now, const char *what, struct dcap_result *r,
			     struct err *e)
{
	if (now < issue)
		return fail(r, e, CHECK_COLLATERAL_EXPIRED, "%s is not yet valid (issueDate after the verification time)",
			    what);
	if (now > next)
		return fail(r, e, CHECK_COLLATERAL_EXPIRED, "%s has expired (nextUpdate before the verification time)",
			    what);
	return EXIT_OK;
}

/* Root CRL, TCB info and QE identity: everything the collateral asserts by itself. */
static int check_collateral(const struct dcap_verifier *v, time_t now, struct dcap_result *r, struct err *e)
{
	const struct collateral *c = &v->col;
	if (crl_use(v->root_crl, v->root.cert, now, CHECK_ROOT_CRL, r, e))
		return e->code;
	r->ecdsa_verifies++;
	if (crl_not_revoked(v->root_crl, v->root.cert, e))
		return fail_wrap(r, e, CHECK_CERT_REVOKED);

	if (chain_check(v, v->tcb_chain, now, CHECK_TCB_INFO_CHAIN, r, e))
		return e->code;
	int ok = ecdsa_verify(v->tcb_key, c->tcb_info.data, c->tcb_info.len, c->tcb_info_signature, r);
	if (ok < 0)
		return err_set(e, EXIT_SYSTEM, "tcb_info_signature: OpenSSL failure");
	if (!ok)
		return fail(r, e, CHECK_TCB_INFO_SIGNATURE, "the signature over tcbInfo does not verify with the key of the TCB signing certificate");
	if (collateral_window(c->tcb.issue_date, c->tcb.next_update, now, "TCB info", r, e))
		return e->code;
	if (strcmp(c->tcb.id, "TDX") || c->tcb.version < 3)
		return fail(r, e, CHECK_TCB_INFO_TYPE, "TCB info is id \"%s\" version %u, a TDX quote needs \"TDX\" version 3 or later",
			    c->tcb.id, c->tcb.version);

	if (chain_check(v, v->qe_chain, now, CHECK_QE_IDENTITY_CHAIN, r, e))
		return e->code;
	ok = ecdsa_verify(v->qe_key, c->qe_identity.data, c->qe_identity.len, c->qe_identity_signature, r);
	if (ok < 0)
		return err_set(e, EXIT_SYSTEM, "qe_identity_signature: OpenSSL failure");
	if (!ok)
		return fail(r, e, CHECK_QE_IDENTITY_SIGNATURE, "the signature over enclaveIdentity does not verify with the key of its signing certificate");
	if (collateral_window(c->qe.issue_date, c->qe.next_update, now, "QE identity", r, e))
		return e->code;
	if (strcmp(c->qe.id, "TD_QE") || (c->qe.version != 2 && c->qe.version != 3))
		return fail(r, e, CHECK_QE_IDENTITY_TYPE, "QE identity is id \"%s\" version %u, a TDX quote needs \"TD_QE\" version 2 or 3",
			    c->qe.id, c->qe.version);
	return EXIT_OK;
}

int dcap_check_td_attributes(const struct tdx_quote *q, struct dcap_result *r, struct err *e)
{
	const uint8_t *a = q->td.td_attributes;
	if (a[0] & 1)
		return fail(r, e, CHECK_TD_ATTRIBUTES, "the TD is in DEBUG mode (TD_ATTRIBUTES bit 0)");
	if (a[0] || a[1] || a[2] || (a[3] & 0x0f) || (a[3] & 0x20) || a[4] || a[5] || a[6] || (a[7] & 0x7f))
		return fail(r, e, CHECK_TD_ATTRIBUTES, "reserved TD_ATTRIBUTES bits are set");
	if (!(a[3] & 0x10))
		return fail(r, e, CHECK_TD_ATTRIBUTES, "SEPT_VE_DISABLE (TD_ATTRIBUTES bit 28) is not set");
	if (q->td.mr_service_td && !all_zero(q->td.mr_service_td, 48))
		return fail(r, e, CHECK_TD_ATTRIBUTES, "MR_SERVICETD is not zero");
	r->perfmon = (a[7] & 0x80) != 0;
	return EXIT_OK;
}

static int check_qe_identity(const struct qe_identity *id, const struct sgx_report *qe,
			     const struct tcb_level **level, struct dcap_result *r, struct err *e)
{
	if (!ct_equal(qe->mr_signer, id->mrsigner, 32))
		return fail(r, e, CHECK_QE_IDENTITY, "QE MRSIGNER differs from the QE identity's");
	if (qe->attributes[0] & 0x02)
		return fail(r, e, CHECK_QE_IDENTITY, "the QE is in debug mode");
	if (qe->isv_prod_id != id->isvprodid)
		return fail(r, e, CHECK_QE_IDENTITY, "QE ISVPRODID %u, expected %u", qe->isv_prod_id, id->isvprodid);
	if ((qe->misc_select & id->miscselect_mask) != (id->miscselect & id->miscselect_mask))
		return fail(r, e, CHECK_QE_IDENTITY, "QE MISCSELECT differs under the mask");
	for (int i = 0; i < 16; i++)
		if ((qe->attributes[i] & id->attributes_mask[i]) != (id->attributes[i] & id->attributes_mask[i]))
			return fail(r, e, CHECK_QE_IDENTITY, "QE ATTRIBUTES differ under the mask at byte %d", i);
	r->qe_isvsvn = qe->isv_svn;
	for (size_t i = 0; i < id->nlevels; i++) {
		if (id->levels[i].isvsvn <= qe->isv_svn) {
			*level = &id->levels[i];
			r->qe_status = id->levels[i].status;
			return EXIT_OK;
		}
	}
	return fail(r, e, CHECK_QE_IDENTITY, "QE ISVSVN %u is below every QE identity TCB level", qe->isv_svn);
}

/* The module identity for tee_tcb_svn, NULL (with *bad) when none applies. */
static const struct tdx_module *module_identity(const struct tcb_info *t, uint8_t version, bool *identity)
{
	*identity = false;
	if (version == 0 || !t->nidentities)
		return &t->module;
	char want[8];
	snprintf(want, sizeof want, "TDX_%02X", version);
	for (size_t i = 0; i < t->nidentities; i++) {
		if (!strcasecmp(t->identities[i].id, want)) {
			*identity = true;
			return &t->identities[i];
		}
	}
	return NULL;
}

static int check_tdx_module(const struct tcb_info *t, const struct tdx_quote *q, struct dcap_result *r,
			    struct err *e)
{
	if (!t->has_module)
		return fail(r, e, CHECK_TDX_MODULE, "TCB info has no tdxModule");
	uint8_t isvsvn = q->td.tee_tcb_svn[0], version = q->td.tee_tcb_svn[1];
	bool identity;
	const struct tdx_module *m = module_identity(t, version, &identity);
	if (!m)
		return fail(r, e, CHECK_TDX_MODULE, "no tdxModuleIdentities entry TDX_%02X for module version %u", version,
			    version);
	if (!ct_equal(q->td.mr_signer_seam, m->mrsigner, 48))
		return fail(r, e, CHECK_TDX_MODULE, "MRSIGNERSEAM differs from the TDX module identity's");
	for (int i = 0; i < 8; i++) {
		uint8_t a = q->td.seam_attributes[i], mask = m->attributes_mask[i];
		if ((a & mask) != (m->attributes[i] & mask) || (a & ~mask))
			return fail(r, e, CHECK_TDX_MODULE, "SEAMATTRIBUTES differ from the TDX module identity's");
	}
	if (!identity)
		return EXIT_OK;
	for (size_t i = 0; i < m->nlevels; i++) {
		if (m->levels[i].isvsvn <= isvsvn) {
			r->has_module_status = true;
			r->module_status = m->levels[i].status;
			if (!advisories_merge(&r->adv, &m->levels[i].adv))
				return err_set(e, EXIT_SYSTEM, "out of memory");
			return EXIT_OK;
		}
	}
	return fail(r, e, CHECK_TDX_MODULE, "TDX module ISVSVN %u is below every level of %s", isvsvn, m->id);
}

static int check_platform(const struct tcb_info *t, const struct tdx_quote *q, struct dcap_result *r,
			  struct err *e)
{
	if (memcmp(r->pck.fmspc, t->fmspc, 6)) {
		char a[13], b[13];
		hex_encode(r->pck.fmspc, 6, a);
		hex_encode(t->fmspc, 6, b);
		return fail(r, e, CHECK_FMSPC_MISMATCH, "PCK FMSPC %s, TCB info FMSPC %s", a, b);
	}
	if (memcmp(r->pck.pce_id, t->pce_id, 2))
		return fail(r, e, CHECK_PCE_ID_MISMATCH, "PCK PCE-ID %02x%02x, TCB info pceId %02x%02x", r->pck.pce_id[0],
			    r->pck.pce_id[1], t->pce_id[0], t->pce_id[1]);
	/* With a module version and module identities, the module bytes are judged by the identity's levels. */
	int from = q->td.tee_tcb_svn[1] > 0 && t->nidentities ? 2 : 0;
	const struct tcb_level *hit = NULL;
	for (size_t i = 0; i < t->nlevels && !hit; i++) {
		const struct tcb_level *l = &t->levels[i];
		bool ge = r->pck.pcesvn >= l->pcesvn;
		for (int k = 0; k < 16 && ge; k++)
			ge = r->pck.cpusvn[k] >= l->sgx[k];
		for (int k = from; k < 16 && ge; k++)
			ge = q->td.tee_tcb_svn[k] >= l->tdx[k];
		if (ge)
			hit = l;
	}
	if (!hit)
		return fail(r, e, CHECK_TCB_LEVEL, "no TCB level matches the platform (CPUSVN, PCESVN %u, TEE_TCB_SVN)",
			    r->pck.pcesvn);
	r->platform_status = hit->status;
	snprintf(r->tcb_date, sizeof r->tcb_date, "%s", hit->date);
	return advisories_merge(&r->adv, &hit->adv) ? EXIT_OK : err_set(e, EXIT_SYSTEM, "out of memory");
}

static enum tcb_status worse(enum tcb_status a, enum tcb_status b)
{
	return a > b ? a : b;
}

/* --- the verification --------------------------------------------------- */

static int verify_quote(const struct dcap_verifier *v, const struct tdx_quote *q, STACK_OF(X509) *pck, time_t now,
			struct dcap_result *r, struct err *e)
{
	if (!ct_equal(q->qe_vendor_id, INTEL_QE_VENDOR_ID, 16))
		return fail(r, e, CHECK_QE_VENDOR_ID, "QE vendor ID is not Intel's");
	if (v->has_collateral && check_collateral(v, now, r, e))
		return e->code;
	if (sk_X509_num(pck) < 2)
		return fail(r, e, CHECK_PCK_CHAIN, "the PCK chain needs the PCK certificate and its issuing CA");
	if (chain_check(v, pck, now, CHECK_PCK_CHAIN, r, e))
		return e->code;
	X509 *leaf = sk_X509_value(pck, 0);
	if (sgx_ext_from_cert(leaf, &r->pck, e))
		return e->code;
	r->has_pck = true;

	EVP_PKEY *pck_key = X509_get0_pubkey(leaf);
	ERR_clear_error();
	int ok = pck_key ? ecdsa_verify(pck_key, q->qe_report.raw, SGX_REPORT_LEN, q->qe_report_signature, r) : 0;
	if (ok < 0)
		return err_set(e, EXIT_SYSTEM, "qe_report_signature: OpenSSL failure");
	if (!ok)
		return fail(r, e, CHECK_QE_REPORT_SIGNATURE, "the QE report is not signed by the PCK certificate's key");

	uint8_t want[SHA256_LEN];
	if (sha256_spans(want, SPANS({ q->attestation_key, 64 }, { q->qe_auth_data, q->qe_auth_len })))
		return err_set(e, EXIT_SYSTEM, "qe_report_data: SHA-256 failed");
	if (!ct_equal(want, q->qe_report.report_data, 32))
		return fail(r, e, CHECK_QE_REPORT_DATA, "QE report data is not SHA-256(attestation key || QE authentication data)");
	if (!all_zero(q->qe_report.report_data + 32, 32))
		return fail(r, e, CHECK_QE_REPORT_DATA, "the upper 32 bytes of the QE report data are not zero");

	EVP_PKEY *ak = p256_key(q->attestation_key);
	if (!ak)
		return fail(r, e, CHECK_QUOTE_SIGNATURE, "the attestation key is not a P-256 point");
	ok = ecdsa_verify(ak, q->raw, q->signed_len, q->signature, r);
	EVP_PKEY_free(ak);
	if (ok < 0)
		return err_set(e, EXIT_SYSTEM, "quote_signature: OpenSSL failure");
	if (!ok)
		return fail(r, e, CHECK_QUOTE_SIGNATURE, "the quote is not signed by its attestation key");

	if (dcap_check_td_attributes(q, r, e))
		return e->code;
	return v->has_collateral ? dcap_evaluate(&v->col, q, r, e) : EXIT_OK;
}

int dcap_evaluate(const struct collateral *c, const struct tdx_quote *q, struct dcap_result *r, struct err *e)
{
	/* Advisory IDs in first-seen order: platform, TDX module, QE. */
	const struct tcb_level *qe_level = NULL;
	if (check_qe_identity(&c->qe, &q->qe_report, &qe_level, r, e) || check_platform(&c->tcb, q, r, e) ||
	    check_tdx_module(&c->tcb, q, r, e))
		return e->code;
	if (!advisories_merge(&r->adv, &qe_level->adv))
		return err_set(e, EXIT_SYSTEM, "out of memory");
	enum tcb_status s = r->platform_status;
	if (r->has_module_status)
		s = worse(s, r->module_status);
	r->status = worse(s, r->qe_status);
	r->evaluated = true;
	return EXIT_OK;
}

int dcap_verify(struct dcap_verifier *v, const struct tdx_quote *q, time_t now, struct dcap_result *r,
		struct err *e)
{
	memset(r, 0, sizeof *r);
	STACK_OF(X509) *pck = v->pck_chain;
	if (!pck) {
		struct buf *seen = &v->quote_chain_pem;
		if (!v->quote_chain || seen->len != q->pck_chain_len || memcmp(seen->data, q->pck_chain, seen->len)) {
			sk_X509_pop_free(v->quote_chain, X509_free);
			v->quote_chain = NULL;
			buf_reset(seen);
			if (certchain_pem(q->pck_chain, q->pck_chain_len, &v->quote_chain, e))
				return err_wrap(e, "quote: PCK certificate chain");
			if (!buf_append(seen, q->pck_chain, q->pck_chain_len))
				return err_set(e, EXIT_SYSTEM, "out of memory");
		}
		pck = v->quote_chain;
	}
	return verify_quote(v, q, pck, now, r, e);
}

int dcap_judge(struct dcap_result *r, unsigned accept, struct err *e)
{
	if (!r->evaluated) {
		if (accept & DCAP_ACCEPT_NO_COLLATERAL)
			return EXIT_OK;
		return fail(r, e, CHECK_NO_COLLATERAL,
			    "every collateral-free check passed, but without --collateral the TCB status, CRLs and QE identity were not evaluated (--accept %s allows this)",
			    DCAP_NO_COLLATERAL);
	}
	if (r->status == TCB_REVOKED)
		return fail(r, e, CHECK_TCB_STATUS, "TCB status is Revoked");
	if (!(accept & (1u << r->status)))
		return fail(r, e, CHECK_TCB_STATUS, "TCB status %s is not accepted", tcb_status_name(r->status));
	return EXIT_OK;
}

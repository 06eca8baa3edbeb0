#include "certchain.h"

#include <limits.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sgxroot.h"

static size_t skip_space(const uint8_t *p, size_t n, size_t i)
{
	while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n' || p[i] == 0))
		i++;
	return i;
}

/* One DER certificate, nothing after it. */
static X509 *cert_der(const uint8_t *der, long len)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, len);
	if (x && p != der + len) {
		X509_free(x);
		x = NULL;
	}
	return x;
}

static bool b64_char(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/' ||
	       c == '=';
}

/* One PEM certificate at pem[*at]: the BEGIN line, base64 lines (LF or CRLF
 * line ends only) in canonical encoding, the END line. Strict, so that any
 * change to the text changes the certificate or fails. */
static X509 *pem_block(const uint8_t *pem, size_t len, size_t *at)
{
	static const char begin[] = "-----BEGIN CERTIFICATE-----", end[] = "-----END CERTIFICATE-----";
	size_t i = *at, bl = sizeof begin - 1, el = sizeof end - 1;
	if (len - i < bl || memcmp(pem + i, begin, bl))
		return NULL;
	i += bl;
	size_t cap = len - i, n = 0;
	uint8_t *b64 = malloc(cap + 1);
	if (!b64)
		return NULL;
	X509 *x = NULL;
	for (; i < len; i++) {
		if (pem[i] == '\n' || (pem[i] == '\r' && i + 1 < len && pem[i + 1] == '\n'))
			continue;
		if (!b64_char(pem[i]))
			break;
		b64[n++] = pem[i];
	}
	if (n && n % 4 == 0 && n <= INT_MAX && len - i >= el && !memcmp(pem + i, end, el) && pem[i - 1] == '\n') {
		uint8_t *der = malloc(n / 4 * 3 + 1), *back = malloc(n + 1);
		int dlen = der && back ? EVP_DecodeBlock(der, b64, (int)n) : -1;
		if (dlen > 0) {
			/* EVP_DecodeBlock counts the padding as zero bytes. */
			dlen -= (b64[n - 1] == '=') + (b64[n - 2] == '=');
			if (EVP_EncodeBlock(back, der, dlen) == (int)n && !memcmp(back, b64, n))
				x = cert_der(der, dlen);
		}
		free(der);
		free(back);
	}
	free(b64);
	ERR_clear_error();
	*at = i + el;
	return x;
}

int certchain_pem(const uint8_t *pem, size_t len, STACK_OF(X509) **out, struct err *e)
{
	*out = NULL;
	if (len > INT_MAX)
		return err_set(e, EXIT_MALFORMED, "certificate chain too large");
	STACK_OF(X509) *chain = sk_X509_new_null();
	if (!chain)
		return err_set(e, EXIT_SYSTEM, "out of memory");
	int rc = EXIT_OK;
	for (size_t at = skip_space(pem, len, 0); at < len; at = skip_space(pem, len, at)) {
		X509 *x = pem_block(pem, len, &at);
		if (!x) {
			rc = err_set(e, EXIT_MALFORMED, "certificate chain: certificate %d is not a well-formed PEM certificate",
				     sk_X509_num(chain) + 1);
			break;
		}
		if (!sk_X509_push(chain, x)) {
			X509_free(x);
			rc = err_set(e, EXIT_SYSTEM, "out of memory");
			break;
		}
		if (sk_X509_num(chain) > CERTCHAIN_MAX) {
			rc = err_set(e, EXIT_MALFORMED, "certificate chain: more than %d certificates", CERTCHAIN_MAX);
			break;
		}
	}
	if (!rc && !sk_X509_num(chain))
		rc = err_set(e, EXIT_MALFORMED, "certificate chain: no certificate");
	if (rc) {
		sk_X509_pop_free(chain, X509_free);
		return rc;
	}
	*out = chain;
	return EXIT_OK;
}

int cert_pem(const uint8_t *pem, size_t len, X509 **out, struct err *e)
{
	STACK_OF(X509) *chain;
	if (certchain_pem(pem, len, &chain, e))
		return e->code;
	*out = sk_X509_shift(chain);
	sk_X509_pop_free(chain, X509_free);
	return EXIT_OK;
}

int crl_der(const uint8_t *der, size_t len, X509_CRL **out, struct err *e)
{
	const unsigned char *p = der;
	*out = NULL;
	if (len > INT_MAX)
		return err_set(e, EXIT_MALFORMED, "CRL too large");
	X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)len);
	ERR_clear_error();
	if (!crl || p != der + len) {
		X509_CRL_free(crl);
		return err_set(e, EXIT_MALFORMED, "not one DER CRL");
	}
	*out = crl;
	return EXIT_OK;
}

void cert_subject(X509 *cert, char *out, size_t n)
{
	out[0] = 0;
	BIO *b = BIO_new(BIO_s_mem());
	if (!b)
		return;
	X509_NAME_print_ex(b, X509_get_subject_name(cert), 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB);
	int r = BIO_read(b, out, (int)n - 1);
	out[r > 0 ? r : 0] = 0;
	BIO_free(b);
}

int trust_root_init(struct trust_root *r, const uint8_t *pem, size_t len, struct err *e)
{
	memset(r, 0, sizeof *r);
	r->pinned = !pem;
	if (!pem) {
		pem = (const uint8_t *)INTEL_SGX_ROOT_CA_PEM;
		len = strlen(INTEL_SGX_ROOT_CA_PEM);
	}
	if (cert_pem(pem, len, &r->cert, e))
		return err_wrap(e, "root CA");
	unsigned int n = 0;
	if (!X509_digest(r->cert, EVP_sha256(), r->sha256, &n) || n != 32) {
		trust_root_free(r);
		return err_ssl(e, EXIT_SYSTEM, "root CA digest");
	}
	if (r->pinned && memcmp(r->sha256, INTEL_SGX_ROOT_CA_SHA256, 32)) {
		trust_root_free(r);
		return err_set(e, EXIT_SYSTEM, "pinned Intel SGX Root CA does not match its fingerprint");
	}
	cert_subject(r->cert, r->subject, sizeof r->subject);
	r->store = X509_STORE_new();
	if (!r->store || !X509_STORE_add_cert(r->store, r->cert)) {
		trust_root_free(r);
		return err_ssl(e, EXIT_SYSTEM, "root CA store");
	}
	return EXIT_OK;
}

void trust_root_free(struct trust_root *r)
{
	X509_STORE_free(r->store);
	X509_free(r->cert);
	r->store = NULL;
	r->cert = NULL;
}

int certchain_verify(const struct trust_root *root, STACK_OF(X509) *chain, time_t now, struct err *e)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	if (!ctx || !X509_STORE_CTX_init(ctx, root->store, sk_X509_value(chain, 0), chain)) {
		X509_STORE_CTX_free(ctx);
		return err_ssl(e, EXIT_SYSTEM, "certificate store");
	}
	X509_STORE_CTX_set_time(ctx, 0, now);
	X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_X509_STRICT);
	int ok = X509_verify_cert(ctx);
	int rc = EXIT_OK;
	char who[256] = "";
	if (ok != 1) {
		X509 *bad = X509_STORE_CTX_get_current_cert(ctx);
		if (bad)
			cert_subject(bad, who, sizeof who);
		rc = err_set(e, EXIT_REJECTED, "%s%s%s", X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)),
			     *who ? " at " : "", who);
	} else {
		/* Every certificate given must be on the path, in order: a root in
		 * the input is the trusted root itself, not a look-alike. */
		STACK_OF(X509) *built = X509_STORE_CTX_get0_chain(ctx);
		int n = sk_X509_num(chain), m = sk_X509_num(built);
		if (X509_cmp(sk_X509_value(built, m - 1), root->cert))
			rc = err_set(e, EXIT_REJECTED, "chain does not end at the root CA");
		for (int i = 0; i < n && !rc; i++)
			if (i >= m || X509_cmp(sk_X509_value(chain, i), sk_X509_value(built, i)))
				rc = err_set(e, EXIT_REJECTED, "certificate %d of the chain is not on the path to the root CA", i + 1);
	}
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	return rc;
}

/* --- the certificate profile --------------------------------------------- */

/* Records the reason of a broken rule; returns the rule. */
__attribute__((format(printf, 3, 4))) static enum cert_rule broken(enum cert_rule rule, struct err *e, const char *fmt,
								   ...)
{
	va_list ap;
	va_start(ap, fmt);
	err_setv(e, EXIT_REJECTED, fmt, ap);
	va_end(ap);
	return rule;
}

/* Whether exts hold a critical extension not listed in allowed (NIDs, 0
 * ends); its OID into oid. */
static bool unknown_critical(const STACK_OF(X509_EXTENSION) *exts, const int *allowed, char *oid, size_t n)
{
	for (int i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
		X509_EXTENSION *x = sk_X509_EXTENSION_value(exts, i);
		if (!X509_EXTENSION_get_critical(x))
			continue;
		int nid = OBJ_obj2nid(X509_EXTENSION_get_object(x));
		const int *a = allowed;
		while (*a && *a != nid)
			a++;
		if (!*a) {
			if (OBJ_obj2txt(oid, (int)n, X509_EXTENSION_get_object(x), 1) <= 0)
				snprintf(oid, n, "?");
			return true;
		}
	}
	return false;
}

/* Position i of the path (0: the leaf); below: the CAs between it and the
 * leaf that are not self-issued (RFC 5280 6.1.4 (l)). */
static enum cert_rule profile_one(X509 *c, int i, int below, struct err *e)
{
	static const int critical_ok[] = { NID_basic_constraints, NID_key_usage, 0 };
	char who[256], oid[128];
	cert_subject(c, who, sizeof who);
	uint32_t flags = X509_get_extension_flags(c), ku = X509_get_key_usage(c);
	bool has_ku = flags & EXFLAG_KUSAGE;
	if (i == 0) {
		if (flags & EXFLAG_CA)
			return broken(RULE_LEAF_BASIC_CONSTRAINTS, e,
				      "%s is a CA (basic constraints CA:TRUE) but is the end entity", who);
		if (!has_ku)
			return broken(RULE_LEAF_KEY_USAGE, e, "%s (the end entity) has no key usage", who);
		if (!(ku & KU_DIGITAL_SIGNATURE))
			return broken(RULE_LEAF_KEY_USAGE, e,
				      "the key usage of %s (the end entity) does not allow digitalSignature", who);
		if (ku & KU_KEY_CERT_SIGN)
			return broken(RULE_LEAF_KEY_USAGE, e,
				      "the key usage of %s (the end entity, not a CA) allows keyCertSign", who);
	} else {
		if (!(flags & EXFLAG_CA))
			return broken(RULE_CA_BASIC_CONSTRAINTS, e,
				      "%s issues certificates but its basic constraints are %s", who,
				      flags & EXFLAG_BCONS ? "CA:FALSE" : "absent");
		if (!(flags & EXFLAG_BCONS_CRITICAL))
			return broken(RULE_CA_BASIC_CONSTRAINTS, e, "the basic constraints of %s are not critical",
				      who);
		if (!has_ku || (ku & (KU_KEY_CERT_SIGN | KU_CRL_SIGN)) != (KU_KEY_CERT_SIGN | KU_CRL_SIGN))
			return broken(RULE_CA_KEY_USAGE, e, "the key usage of %s does not allow %s", who,
				      !has_ku ? "anything (it is absent)"
				      : !(ku & KU_KEY_CERT_SIGN) ? "keyCertSign"
								  : "cRLSign");
		long pathlen = X509_get_pathlen(c);
		if (pathlen >= 0 && below > pathlen)
			return broken(RULE_PATH_LENGTH, e,
				      "%s allows %ld CA certificate%s below it (pathLenConstraint), the chain has %d", who,
				      pathlen, pathlen == 1 ? "" : "s", below);
	}
	if (unknown_critical(X509_get0_extensions(c), critical_ok, oid, sizeof oid))
		return broken(RULE_CRITICAL_EXTENSION, e, "%s has a critical extension %s the profile does not define",
			      who, oid);
	return RULE_NONE;
}

int certchain_profile(STACK_OF(X509) *chain, X509 *root, enum cert_rule *rule, struct err *e)
{
	int n = sk_X509_num(chain), below = 0;
	*rule = RULE_NONE;
	for (int i = 0; i <= n; i++) {
		X509 *c = i < n ? sk_X509_value(chain, i) : root;
		if (i == n && n && !X509_cmp(sk_X509_value(chain, n - 1), root))
			break; /* the chain ends with the root: checked already */
		if ((*rule = profile_one(c, i, below, e)))
			return e->code;
		if (i > 0 && X509_NAME_cmp(X509_get_subject_name(c), X509_get_issuer_name(c)))
			below++;
	}
	ERR_clear_error();
	return EXIT_OK;
}

/* The rules a CRL breaks: issuer (name and key), critical extensions. */
static enum cert_rule crl_rules(X509_CRL *crl, X509 *issuer, const char *who, struct err *e)
{
	static const int critical_ok[] = { 0 };
	char oid[128];
	if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(issuer)))
		return broken(RULE_CRL_ISSUER, e, "CRL is not issued by %s", who);
	EVP_PKEY *key = X509_get0_pubkey(issuer);
	int ok = key ? X509_CRL_verify(crl, key) : -1;
	ERR_clear_error();
	if (ok != 1)
		return broken(RULE_CRL_ISSUER, e, "CRL signature does not verify with the key of %s", who);
	if (unknown_critical(X509_CRL_get0_extensions(crl), critical_ok, oid, sizeof oid))
		return broken(RULE_CRITICAL_EXTENSION, e, "CRL of %s has a critical extension %s", who, oid);
	STACK_OF(X509_REVOKED) *revoked = X509_CRL_get_REVOKED(crl);
	for (int i = 0; i < sk_X509_REVOKED_num(revoked); i++)
		if (unknown_critical(X509_REVOKED_get0_extensions(sk_X509_REVOKED_value(revoked, i)), critical_ok, oid,
				     sizeof oid))
			return broken(RULE_CRITICAL_EXTENSION, e, "CRL of %s has an entry with a critical extension %s",
				      who, oid);
	return RULE_NONE;
}

int crl_check(X509_CRL *crl, X509 *issuer, time_t now, enum cert_rule *rule, struct err *e)
{
	char who[256];
	cert_subject(issuer, who, sizeof who);
	if ((*rule = crl_rules(crl, issuer, who, e)))
		return e->code;
	const ASN1_TIME *last = X509_CRL_get0_lastUpdate(crl), *next = X509_CRL_get0_nextUpdate(crl);
	if (!last || X509_cmp_time(last, &now) != -1)
		return err_set(e, EXIT_REJECTED, "CRL of %s is not yet valid at the verification time", who);
	if (!next || X509_cmp_time(next, &now) != 1)
		return err_set(e, EXIT_REJECTED, "CRL of %s has expired (nextUpdate before the verification time)", who);
	return EXIT_OK;
}

int crl_not_revoked(X509_CRL *crl, X509 *cert, struct err *e)
{
	char who[256];
	cert_subject(cert, who, sizeof who);
	if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_issuer_name(cert)))
		return err_set(e, EXIT_REJECTED, "no CRL from the issuer of %s", who);
	X509_REVOKED *rev = NULL;
	if (X509_CRL_get0_by_cert(crl, &rev, cert) == 1)
		return err_set(e, EXIT_REJECTED, "%s is revoked", who);
	return EXIT_OK;
}

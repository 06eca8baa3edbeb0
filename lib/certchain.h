/* certchain: X.509 certificate chains and CRLs as DCAP carries them - PEM
 * chains (leaf first), DER CRLs - and the path check to a pinned root at a
 * given time. */
#ifndef LIB_CERTCHAIN_H
#define LIB_CERTCHAIN_H

#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "err.h"

/* Certificates a chain may hold: Intel's have 3 (leaf, intermediate, root),
 * dstack's RA-TLS chains 2 or 3; more is refused before any is checked. */
#define CERTCHAIN_MAX 16

/* Parses a PEM certificate chain: one or more CERTIFICATE blocks and nothing
 * else but whitespace (and trailing NULs), at most CERTCHAIN_MAX.
 * EXIT_MALFORMED otherwise. */
int certchain_pem(const uint8_t *pem, size_t len, STACK_OF(X509) **out, struct err *e);
/* Parses exactly one DER CRL. */
int crl_der(const uint8_t *der, size_t len, X509_CRL **out, struct err *e);
/* The first certificate of a PEM text (for roots). */
int cert_pem(const uint8_t *pem, size_t len, X509 **out, struct err *e);

/* A trust anchor, ready for repeated path checks. */
struct trust_root {
	X509 *cert;
	X509_STORE *store;
	bool pinned; /* the Intel SGX Root CA compiled into the binary */
	char subject[256];
	uint8_t sha256[32];
};
/* NULL/0: the pinned Intel SGX Root CA; else PEM text of another root. */
int trust_root_init(struct trust_root *r, const uint8_t *pem, size_t len, struct err *e);
void trust_root_free(struct trust_root *r);

/* Checks that chain (leaf first; the root in it optional) leads from its
 * first certificate to root: issuer signatures, CA constraints, every
 * certificate valid at now, the path ending at root. Revocation is not
 * judged here (see crl_check). EXIT_REJECTED with the reason. */
int certchain_verify(const struct trust_root *root, STACK_OF(X509) *chain, time_t now, struct err *e);

/* The rules of Intel's PCK certificate profile (RFC 5280 as Intel applies
 * it) that a DCAP chain's certificates and CRLs must follow, each with its
 * own verdict so that callers can name the one that failed. */
enum cert_rule {
	RULE_NONE = 0,
	RULE_LEAF_BASIC_CONSTRAINTS, /* the end entity is a CA */
	RULE_LEAF_KEY_USAGE,         /* end entity: no key usage, no digitalSignature, or keyCertSign */
	RULE_CA_BASIC_CONSTRAINTS,   /* an issuer without critical basic constraints CA:TRUE */
	RULE_CA_KEY_USAGE,           /* an issuer without keyCertSign and cRLSign */
	RULE_PATH_LENGTH,            /* more CAs below an issuer than its pathLenConstraint allows */
	RULE_CRITICAL_EXTENSION,     /* a critical extension the profile does not define as critical */
	RULE_CRL_ISSUER,             /* a CRL not issued (name) and signed (key) by the certificate's issuer */
};

/* Checks every position of chain (leaf first) and of root, which ends it
 * (appended when the chain does not end with it): the leaf is not a CA and
 * may sign (digitalSignature, not keyCertSign); every other certificate is
 * a CA (critical basic constraints, CA:TRUE) that may sign certificates and
 * CRLs, and no more CAs that are not self-issued lie between it and the
 * leaf than its pathLenConstraint allows; no certificate has a critical
 * extension other than basic constraints and key usage. Signatures and
 * validity are certchain_verify's. EXIT_REJECTED with *rule and the reason. */
int certchain_profile(STACK_OF(X509) *chain, X509 *root, enum cert_rule *rule, struct err *e);

/* Checks a CRL before use: issued by issuer (name and signature; else
 * RULE_CRL_ISSUER), no critical extension in it or in an entry (this
 * verifier implements no CRL extension that may be critical: delta CRLs,
 * issuing distribution points, indirect CRLs; RULE_CRITICAL_EXTENSION), and
 * thisUpdate <= now <= nextUpdate (RULE_NONE). EXIT_REJECTED with *rule and
 * the reason. */
int crl_check(X509_CRL *crl, X509 *issuer, time_t now, enum cert_rule *rule, struct err *e);
/* EXIT_REJECTED when cert is listed in crl (which must be its issuer's CRL,
 * already checked by crl_check); EXIT_REJECTED too when crl is not from
 * cert's issuer - revocation status is never assumed. */
int crl_not_revoked(X509_CRL *crl, X509 *cert, struct err *e);

/* One-line subject of a certificate, for messages. */
void cert_subject(X509 *cert, char *out, size_t n);

#endif

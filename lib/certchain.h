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

/* Parses a PEM certificate chain: one or more CERTIFICATE blocks and nothing
 * else but whitespace (and trailing NULs). EXIT_MALFORMED otherwise. */
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

/* Checks a CRL before use: issued by issuer (name and signature), and
 * thisUpdate <= now <= nextUpdate. EXIT_REJECTED with the reason. */
int crl_check(X509_CRL *crl, X509 *issuer, time_t now, struct err *e);
/* EXIT_REJECTED when cert is listed in crl (which must be its issuer's CRL,
 * already checked by crl_check); EXIT_REJECTED too when crl is not from
 * cert's issuer - revocation status is never assumed. */
int crl_not_revoked(X509_CRL *crl, X509 *cert, struct err *e);

/* One-line subject of a certificate, for messages. */
void cert_subject(X509 *cert, char *out, size_t n);

#endif

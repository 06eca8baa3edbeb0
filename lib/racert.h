/* racert: dstack RA-TLS certificates - loading a chain (PEM, DER, or a guest
 * agent Info JSON's app_cert), reading the dstack X.509 extensions through
 * OpenSSL, the REPORTDATA binding and the chain's signatures. */
#ifndef LIB_RACERT_H
#define LIB_RACERT_H

#include <openssl/x509.h>
#include <stdbool.h>

#include "bytes.h"
#include "err.h"

/* The last arc of 1.3.6.1.4.1.62397.1.<arc>. */
enum dstack_ext {
	EXT_QUOTE = 1,       /* raw TDX quote (legacy issuers) */
	EXT_EVENT_LOG = 2,   /* event log JSON (legacy issuers) */
	EXT_APP_ID = 3,      /* 20 raw bytes */
	EXT_USAGE = 4,       /* UTF-8, e.g. app:custom */
	EXT_ATTESTATION = 8, /* VersionedAttestation */
	EXT_APP_INFO = 9     /* msgpack AppInfo */
};

struct racert {
	STACK_OF(X509) *certs; /* in input order, leaf first in dstack's chains */
	X509 *leaf;            /* the certificate carrying the quote (or any dstack extension) */
	int leaf_index;
};

/* Loads certificates from PEM (one or more), DER, or Info JSON (app_cert).
 * EXIT_MALFORMED when nothing parses or no certificate has a dstack extension. */
int racert_load(struct racert *rc, const uint8_t *data, size_t len, struct err *e);
void racert_free(struct racert *rc);

/* The payload of extension arc in cert: the contents of the single DER OCTET
 * STRING that is the extnValue. Sets *found; malformed (EXIT_MALFORMED) when
 * the value is not exactly one OCTET STRING or the extension repeats. */
int racert_ext(X509 *cert, enum dstack_ext arc, struct buf *out, bool *found, struct err *e);

/* DER SubjectPublicKeyInfo of cert, verbatim. */
int racert_spki(X509 *cert, struct buf *out, struct err *e);

/* SHA-512("ratls-cert:" || leaf SPKI) - the REPORTDATA an RA-TLS quote must carry. */
int racert_expected_report_data(const struct racert *rc, uint8_t out[64], struct err *e);

/* Verifies each certificate's signature with its issuer's key, from the
 * leaf up to a self-signed root present in the input; describes the path in
 * path ("CN=a <- CN=b <- CN=c (self-signed)"). EXIT_REJECTED on a bad
 * signature or a missing issuer. Validity dates are not judged here. */
int racert_verify_chain(const struct racert *rc, struct buf *path, struct err *e);

/* One-line subject of cert for messages. */
void racert_subject(X509 *cert, char *out, size_t n);

#endif

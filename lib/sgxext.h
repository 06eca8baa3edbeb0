/* sgxext: the SGX extension (OID 1.2.840.113741.1.13.1) of an Intel PCK
 * certificate - PPID, TCB (16 component SVNs, PCESVN, CPUSVN), PCE-ID, FMSPC,
 * SGX type - parsed with OpenSSL's ASN.1 decoder, every length exact. */
#ifndef LIB_SGXEXT_H
#define LIB_SGXEXT_H

#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define SGX_EXT_OID "1.2.840.113741.1.13.1"

struct sgx_ext {
	uint8_t ppid[16];
	uint8_t comp_svn[16]; /* .2.1 .. .2.16 */
	uint16_t pcesvn;      /* .2.17 */
	uint8_t cpusvn[16];   /* .2.18 */
	uint8_t pce_id[2];    /* .3 */
	uint8_t fmspc[6];     /* .4 */
	int sgx_type;         /* .5: 0 standard, 1 scalable, 2 scalable with integrity */
	bool has_platform_instance_id;
	uint8_t platform_instance_id[16]; /* .6, multi-package platforms only */
};

/* Parses the DER contents of the extension's extnValue (the SEQUENCE).
 * EXIT_MALFORMED on any structural or length deviation, a missing or
 * repeated mandatory member. */
int sgx_ext_parse(const uint8_t *der, size_t len, struct sgx_ext *x, struct err *e);
/* Finds the (single) SGX extension in cert and parses it. */
int sgx_ext_from_cert(X509 *cert, struct sgx_ext *x, struct err *e);

#endif

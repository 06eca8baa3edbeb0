/* sgxroot: the Intel SGX Root CA, pinned into the binary (the trust anchor of
 * every DCAP verification). share/intel-sgx-root-ca.pem is the same
 * certificate, installed for reference. */
#ifndef LIB_SGXROOT_H
#define LIB_SGXROOT_H

#include <stdint.h>

/* PEM text of CN=Intel SGX Root CA, O=Intel Corporation, L=Santa Clara, ST=CA, C=US. */
extern const char INTEL_SGX_ROOT_CA_PEM[];
/* Its SHA-256 fingerprint (over the DER certificate). */
extern const uint8_t INTEL_SGX_ROOT_CA_SHA256[32];

#endif

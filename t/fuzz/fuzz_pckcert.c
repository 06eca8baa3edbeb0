/* Fuzz target: the strict PEM certificate-chain parser, and the PCK
 * certificate's SGX extension parser (on the leaf when the input is a PEM
 * chain, else on the raw bytes as the extension's DER value). */
#include <stddef.h>
#include <stdint.h>

#include "certchain.h"
#include "sgxext.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct err e = { 0 };
	struct sgx_ext x;
	STACK_OF(X509) *chain;
	if (certchain_pem(data, size, &chain, &e) == EXIT_OK) {
		sgx_ext_from_cert(sk_X509_value(chain, 0), &x, &e);
		sk_X509_pop_free(chain, X509_free);
	}
	sgx_ext_parse(data, size, &x, &e);
	return 0;
}

/* Fuzz target: the collateral JSON parser (and the TCB info / QE identity
 * bodies it carries), then the verifier's parse of its certificates and CRLs. */
#include <stddef.h>
#include <stdint.h>

#include "dcap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dcap_verifier v;
	struct err e = { 0 };
	if (dcap_verifier_init(&v, NULL, 0, &e) == EXIT_OK)
		dcap_verifier_set_collateral(&v, (const char *)data, size, &e);
	dcap_verifier_free(&v);
	return 0;
}

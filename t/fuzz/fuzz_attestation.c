/* Fuzz target: the dstack VersionedAttestation decoder, SCALE V0 and msgpack V1. */
#include <stddef.h>
#include <stdint.h>

#include "attestation.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dstack_attestation a;
	struct err e = { 0 };
	attestation_decode(&a, data, size, &e);
	attestation_free(&a);
	return 0;
}

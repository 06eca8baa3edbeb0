/* Fuzz target: PE/COFF Authenticode and QEMU's setup-header patch. */
#include <stddef.h>
#include <stdint.h>

#include "authenticode.h"
#include "kernel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct err e = { 0 };
	uint8_t d[SHA384_LEN];
	authenticode_digest(DIGEST_SHA384, data, size, d, &e);
	kernel_measured_digest(data, size, size / 3, 0x80000000u, d, &e);
	kernel_measured_digest(data, size, 1, 0x40000000u, d, &e);
	return 0;
}

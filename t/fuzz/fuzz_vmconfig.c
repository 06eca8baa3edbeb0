/* Fuzz target: vm_config and its ACPI key. */
#include <stddef.h>
#include <stdint.h>

#include "vmconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vm_config c;
	struct err e = { 0 };
	if (vmconfig_parse(&c, (const char *)data, size, &e) == EXIT_OK) {
		struct buf key = { 0 };
		vmconfig_acpi_key(&c, &key);
		buf_free(&key);
		vmconfig_free(&c);
	}
	return 0;
}

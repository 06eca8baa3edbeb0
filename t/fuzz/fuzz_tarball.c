/* Fuzz target: the OS image archive reader (ustar, gzip'd or not). */
#include <stddef.h>
#include <stdint.h>

#include "tarball.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tarball t;
	struct err e = { 0 };
	if (tarball_read_mem(&t, data, size, &e) == EXIT_OK)
		tarball_free(&t);
	return 0;
}

/* Fuzz target: the `phala cvms get --json` output reader (progress lines,
 * embedded object, both key spellings, gateway domain with port) and the
 * TARGET classifier. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gateway_host g;
	struct err e = { 0 };
	gateway_from_cvm_json((const char *)data, size, &g, &e);
	if (size < 512) {
		char *s = malloc(size + 1);
		if (!s)
			return 0;
		memcpy(s, data, size);
		s[size] = 0;
		struct target t;
		gateway_target(s, &t, &e);
		gateway_host_for("3f2a9c4d8e7b6a5f4c3d2e1f0a9b8c7d6e5f4a3b", s, &g, &e);
		free(s);
	}
	return 0;
}

/* Fuzz target: dstack's lite measurement CBOR (libcbor) and its TD HOB witness. */
#include <stddef.h>
#include <stdint.h>

#include "lite.h"
#include "tdhob.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lite_material m;
	struct tdhob_layout l;
	struct err e = { 0 };
	uint8_t d[SHA384_LEN];
	if (lite_decode(&m, data, size, &e) == EXIT_OK) {
		struct buf out = { 0 };
		lite_encode(&m, &out, &e);
		buf_free(&out);
		if (tdhob_from_witness(&l, m.td_hob, m.td_hob_len, &e) == EXIT_OK)
			tdhob_digest(&l, 0xB0000000u, d, &e);
	}
	return 0;
}

/* Fuzz target: TDVF metadata, MRTD (both orders), the CFV digest and the TD HOB. */
#include <stddef.h>
#include <stdint.h>

#include "tdhob.h"
#include "tdvf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tdvf t;
	struct tdhob_layout l;
	struct err e = { 0 };
	uint8_t d[SHA384_LEN];
	if (tdvf_parse(&t, data, size, &e))
		return 0;
	tdvf_mrtd(&t, PAGES_SINGLE_PASS, d, &e);
	tdvf_mrtd(&t, PAGES_TWO_PASS, d, &e);
	tdvf_cfv_digest(&t, d, &e);
	if (tdhob_from_tdvf(&l, &t, &e) == EXIT_OK) {
		tdhob_digest(&l, 0x80000000u, d, &e);
		tdhob_digest(&l, 0x200000000ull, d, &e);
	}
	return 0;
}

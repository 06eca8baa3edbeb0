/* Fuzz target: RA-TLS certificate loading and dstack extension decoding. */
#include <stddef.h>
#include <stdint.h>

#include "evidence.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evidence ev;
	struct err e = { 0 };
	if (evidence_from_cert(&ev, data, size, &e) == EXIT_OK) {
		uint8_t rd[64];
		struct buf path = { 0 };
		racert_expected_report_data(&ev.cert, rd, &e);
		racert_verify_chain(&ev.cert, &path, &e);
		buf_free(&path);
	}
	evidence_free(&ev);
	return 0;
}

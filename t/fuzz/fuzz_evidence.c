/* Fuzz target: evidence input detection (Info, tcb_info, GetQuote, attestation, logs) and replay. */
#include <stddef.h>
#include <stdint.h>

#include "evidence.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evidence ev;
	struct err e = { 0 };
	if (evidence_load(&ev, data, size, &e) == EXIT_OK && ev.has_log) {
		struct replay r;
		eventlog_replay(&ev.log, &r, &e);
		eventlog_named(&ev.log, "app-id");
	}
	evidence_free(&ev);
	return 0;
}

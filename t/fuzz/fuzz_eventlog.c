/* Fuzz target: event-log JSON parsing, runtime digests and replay. */
#include <stddef.h>
#include <stdint.h>

#include "eventlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct event_log log = { 0 };
	struct err e = { 0 };
	if (eventlog_from_text(&log, (const char *)data, size, &e) == EXIT_OK) {
		struct replay r;
		struct buf out = { 0 };
		struct jsonw w;
		eventlog_replay(&log, &r, &e);
		jw_init(&w, &out);
		eventlog_write_json(&log, &w);
		buf_free(&out);
	}
	eventlog_free(&log);
	return 0;
}

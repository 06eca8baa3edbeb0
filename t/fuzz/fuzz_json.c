/* Fuzz target: the strict JSON reader and its typed getters. */
#include <stddef.h>
#include <stdint.h>

#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json j;
	struct err e = { 0 };
	if (json_parse(&j, (const char *)data, size, &e) == EXIT_OK) {
		struct buf b = { 0 };
		uint64_t v;
		for (int t = 0; t < j.ntok; t++) {
			json_string(&j, t, "x", &b, &e);
			json_u64(&j, t, "x", UINT64_MAX, &v, &e);
			json_hex(&j, t, "x", &b, &e);
			buf_reset(&b);
		}
		json_get(&j, 0, "tcb_info");
		for (int t = json_first(&j, 0); t >= 0 && j.ntok > 0; t = json_next(&j, t))
			;
		buf_free(&b);
		json_free(&j);
	}
	return 0;
}

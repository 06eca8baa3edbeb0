/* Fuzz target: JSON found inside other CLI output (json_locate_object, as
 * phala-json --embedded uses it) and member paths over it (json_path). */
#include <stddef.h>
#include <stdint.h>

#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *paths[] = { "success", "app_id", "gateway.base_domain", "items", "a.b.c", "", "." };
	const char *text = (const char *)data;
	size_t from = 0, start, end;
	struct err e = { 0 };
	for (int tries = 0; tries < 16; tries++) {
		if (json_locate_object(text, size, from, &start, &end, &e))
			break;
		if (start >= end || end > size)
			__builtin_trap();
		struct json j;
		if (json_parse(&j, text + start, end - start, &e) == EXIT_OK) {
			struct buf b = { 0 };
			for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
				int t = json_path(&j, 0, paths[i]);
				if (t >= 0)
					json_string(&j, t, "x", &b, &e);
			}
			buf_free(&b);
			json_free(&j);
			break;
		}
		from = start + 1;
	}
	return 0;
}

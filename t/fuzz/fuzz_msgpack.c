/* Fuzz target: the msgpack reader on its own - whole values skipped one after
 * another, and every typed reader tried at the start. */
#include <stddef.h>
#include <stdint.h>

#include "msgpack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct err e = { 0 };
	struct cursor c = cursor_of(data, size);
	while (cur_left(&c) && mp_skip(&c, "value", &e) == EXIT_OK)
		;
	struct buf b = { 0 };
	uint64_t n;
	c = cursor_of(data, size);
	mp_bytes(&c, "bytes", MP_BYTES_ARRAY | MP_BYTES_BIN | MP_BYTES_STR, &b, &e);
	c = cursor_of(data, size);
	mp_text(&c, "text", &b, NULL, NULL, &e);
	c = cursor_of(data, size);
	mp_uint(&c, "uint", UINT32_MAX, &n, &e);
	c = cursor_of(data, size);
	if (mp_map(&c, "map", &n, &e) == EXIT_OK)
		mp_skip(&c, "rest", &e);
	buf_free(&b);
	return 0;
}

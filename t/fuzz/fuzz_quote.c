/* Fuzz target: the TDX quote parser (raw and hex input). */
#include <stddef.h>
#include <stdint.h>

#include "quote.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf raw = { 0 };
	struct err e = { 0 };
	struct tdx_quote q;
	if (quote_input_decode(data, size, &raw, &e) == EXIT_OK)
		quote_parse(&q, raw.data, raw.len, &e);
	buf_free(&raw);
	return 0;
}

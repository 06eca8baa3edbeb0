/* Fuzz target: the claim file parser. Anything it accepts must serialise and
 * parse back to the same claim (the writer's output is the reader's input). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "claim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct claim c, d;
	struct err e = { 0 };
	if (claim_parse(&c, (const char *)data, size, &e) != EXIT_OK)
		return 0;
	struct buf out = { 0 };
	if (!claim_serialise(&c, &out) || claim_parse(&d, (const char *)out.data, out.len, &e) != EXIT_OK)
		abort();
	if (strcmp(c.lease_id, d.lease_id) || strcmp(c.revision, d.revision) || c.nfields != d.nfields)
		abort();
	for (size_t i = 0; i < c.nfields; i++)
		if (strcmp(c.field[i].key, d.field[i].key) || strcmp(c.field[i].value, d.field[i].value))
			abort();
	claim_free(&c);
	claim_free(&d);
	buf_free(&out);
	return 0;
}

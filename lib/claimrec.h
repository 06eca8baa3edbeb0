/* claimrec: a claim record in memory and its file format (one line of JSON,
 * doc/phala-claim.1 FILES); the public entry points (claim_get, claim_set,
 * claim_free, claim_parse, claim_serialise) are in claim.h. Part of
 * lib/claim, shared by its logic and its stores. */
#ifndef LIB_CLAIMREC_H
#define LIB_CLAIMREC_H

#include <stdbool.h>
#include <stddef.h>

#include "claim.h"

/* Stores an already validated value (stored form); "" removes. */
int claim_put_field(struct claim *c, const char *key, const char *value, struct err *e);

/* Deep copy; false (dst empty) when memory runs out. */
bool claim_copy(struct claim *dst, const struct claim *src);

/* Applies n "KEY=VALUE" strings, each validated (claim_set). */
int claim_apply_kv(struct claim *c, char *const *kv, size_t n, struct err *e);

/* A new random revision into c->revision. */
int claim_new_revision(struct claim *c, struct err *e);

#endif

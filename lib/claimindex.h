/* claimindex: the lookup index of the directory store (part of lib/claim).
 * DIR/.index/KEY/VALUE/LEASE, an empty file per indexed field value, so that
 * a lookup by app id (what phala-proxy does) opens one small directory
 * instead of every claim. It is a hint, never trusted: every candidate claim
 * is read and compared. Writers, holding the lease's lock, add the entry of a
 * new value before the claim carries it and remove the entry of an old value
 * after the claim no longer does, so every claim's values have their entry
 * (crashes leave only stale entries, which lookups ignore). DIR/.index/v1
 * marks an index that covers every claim; without it, lookups scan. */
#ifndef LIB_CLAIMINDEX_H
#define LIB_CLAIMINDEX_H

#include <stdbool.h>

#include "claim.h"

/* The index answers lookups by key in store s (the key is indexed and the
 * index covers every claim). */
bool claimindex_covers(const struct claim_store *s, const char *key);

/* Before a write, lock held: entries for the values new has and old (NULL:
 * none) had not. */
int claimindex_before(const struct claim_store *s, const struct claim *old, const struct claim *new, struct err *e);

/* After a write (new NULL: after a removal): drops the entries of old values. */
void claimindex_after(const struct claim_store *s, const struct claim *old, const struct claim *new);

/* Once per store (until .index/v1 exists): entries for every claim, then the
 * mark. Writers maintain entries whether or not the mark exists, so claims
 * written meanwhile are covered too. */
int claimindex_build(const struct claim_store *s, struct err *e);

#endif

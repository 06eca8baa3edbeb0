/* claimdir: the directory store of lib/claim (claimstore.h) - one file
 * DIR/LEASE.json per claim, written atomically (temporary file, fsync,
 * rename, fsync of the directory), the per-lease lock a flock on
 * DIR/.LEASE.lock, lookups through the index (claimindex.h). */
#ifndef LIB_CLAIMDIR_H
#define LIB_CLAIMDIR_H

#include <stdbool.h>

#include "claim.h"

extern const struct claim_store_ops claimdir_ops;

/* Opens the directory store (see claim_store_open for dir and create). */
int claimdir_open(struct claim_store *s, const char *dir, bool create, struct err *e);

/* The store's scan (claimstore.h), for the index build. */
int claimdir_scan(const struct claim_store *s, const char *key, const char *value, claim_visit_fn visit,
		  claim_skip_fn skip, void *arg, struct err *e);

#endif

/* claimstore: the interface between the claim logic (lib/claim.c) and a
 * storage of claims: the directory (lib/claimdir.c) or PostgreSQL
 * (lib/claimpg.c). The logic validates, checks revisions and holds the
 * per-lease lock around every read-modify-write; a store keeps records,
 * locks and lists. Every function returns EXIT_OK or an exit code (claim.h)
 * and fills struct err. */
#ifndef LIB_CLAIMSTORE_H
#define LIB_CLAIMSTORE_H

#include <stdbool.h>

#include "claim.h"

struct claim_store_ops {
	const char *name; /* "directory", "postgresql" */
	void (*close)(struct claim_store *s);
	/* LEASE's claim (valid lease id), without locking. Absent: EXIT_REJECTED
	 * with the message "LEASE: no claim". */
	int (*read)(const struct claim_store *s, const char *lease, struct claim *c, struct err *e);
	/* The per-lease lock, waiting until held; an inherited one (handed down
	 * by `phala-claim lock` to this process) is recognised and used. */
	int (*lock)(const struct claim_store *s, const char *lease, bool for_child, struct claim_lock *l,
		    struct err *e);
	/* Releases l (an inherited lock is left to its holder); gone: the caller
	 * may have removed the claim (the store may tidy up after it). */
	void (*unlock)(struct claim_lock *l, bool gone);
	/* Makes l known to a child process about to be run under it (its
	 * environment), so that the child's own calls are recognised as under it. */
	int (*hand_down)(struct claim_lock *l, struct err *e);
	/* Lock held: stores c (with its new revision) in place of old, the claim
	 * as last read (NULL: none; then a claim already there is EXIT_REJECTED
	 * "LEASE: claim exists"). */
	int (*write)(const struct claim_store *s, const struct claim *old, const struct claim *c, struct err *e);
	/* Lock held: removes old, the claim as last read. */
	int (*remove)(const struct claim_store *s, const struct claim *old, struct err *e);
	/* Visits claims in lease-id order: all of them (key NULL), or at least
	 * those whose field key equals value (stored form); the caller compares.
	 * skip sees records that are not valid claims, with the reason. */
	int (*scan)(const struct claim_store *s, const char *key, const char *value, claim_visit_fn visit,
		    claim_skip_fn skip, void *arg, struct err *e);
};

#endif

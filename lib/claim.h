/* claim: the ownership ledger - one claim per lease, serialised by a
 * per-lease lock, with a random revision as compare-and-swap token, kept in
 * a store (claimstore.h): by default one JSON file per lease in a private
 * directory, written atomically (lib/claimdir.c). The file format is
 * documented in doc/phala-claim.1 (FILES); other tools rely on it. The field
 * table is lib/claimfield.c, the record format lib/claimrec.c.
 *
 * Every function returns EXIT_OK or an exit code and fills struct err:
 * EXIT_REJECTED (1): the claim is absent (read/update/remove), already exists
 *   (create), or changed since the expected revision (CLAIM_CONFLICT message);
 * EXIT_USAGE (2): an invalid lease id, key or value given by the caller;
 * EXIT_MALFORMED (3): a corrupt or foreign claim file, a symlinked claim
 *   file, an unsafe directory;
 * EXIT_SYSTEM (4): I/O (full disk, permissions). */
#ifndef LIB_CLAIM_H
#define LIB_CLAIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bytes.h"
#include "err.h"

#define CLAIM_LEASE_MAX 64     /* lease id and slug: [a-z0-9][a-z0-9_-]* */
#define CLAIM_KEY_MAX 64       /* field names: [a-z][a-z0-9_]* */
#define CLAIM_VALUE_MAX 4096   /* any one value, in bytes */
#define CLAIM_FIELDS_MAX 128   /* fields per claim */
#define CLAIM_FILE_MAX 65536   /* a claim file larger than this is corrupt */
#define CLAIM_REVISION_LEN 32  /* revision: 128 random bits as lowercase hex */
#define CLAIM_VERSION 1        /* "version" member of the file format */

/* Environment of a command run by `phala-claim lock`: the lease whose lock is
 * held and the inherited descriptor holding it (see claim_lock). */
#define CLAIM_ENV_LOCK_LEASE "PHALA_CLAIM_LOCK_LEASE"
#define CLAIM_ENV_LOCK_FD "PHALA_CLAIM_LOCK_FD"       /* the directory store */
#define CLAIM_ENV_LOCK_TOKEN "PHALA_CLAIM_LOCK_TOKEN" /* the PostgreSQL store */

/* Start of the message of a failed compare-and-swap (EXIT_REJECTED). */
#define CLAIM_CONFLICT "claim changed; retry"

struct claim_store_ops;

/* A store: its implementation and state. */
struct claim_store {
	const struct claim_store_ops *ops;
	char *dir;  /* the directory store: the resolved, checked directory */
	void *impl; /* other stores' state */
};

/* One field, as text: integers in decimal, booleans "true"/"false". */
struct claim_field {
	char *key;
	char *value;
};

/* A claim in memory. lease_id, revision and version are held apart; fields
 * are the rest, sorted by key, unique. */
struct claim {
	char lease_id[CLAIM_LEASE_MAX + 1];
	char revision[CLAIM_REVISION_LEN + 1];
	size_t nfields;
	struct claim_field field[CLAIM_FIELDS_MAX];
};

/* A held per-lease lock. */
struct claim_lock {
	const struct claim_store *store; /* NULL when not held */
	char lease[CLAIM_LEASE_MAX + 1];
	int fd;         /* the directory store: the lock file, -1 when not held */
	bool inherited; /* handed down by `phala-claim lock`; never released here */
	char token[CLAIM_REVISION_LEN + 1]; /* PostgreSQL store: the hand-down token given out, or "" */
};

/* Directory: dir if non-NULL, else $PHALA_CLAIMS_DIR, else
 * ${XDG_STATE_HOME:-$HOME/.local/state}/phala-lease/claims. Created 0700 (with
 * missing parents) when create is true; refused (EXIT_MALFORMED) when it is a
 * symlink, not a directory, not owned by the effective user, or group/world
 * writable. An absent directory with create false is not an error: reads
 * then see no claims. */
int claim_store_open(struct claim_store *s, const char *dir, bool create, struct err *e);
void claim_store_close(struct claim_store *s);

/* Validation. Lease ids and slugs: 1..64 of [a-z0-9_-], first [a-z0-9]. */
bool claim_valid_lease(const char *s);
/* Field names: 1..64 of [a-z0-9_], first a letter. */
bool claim_valid_key(const char *key);
/* Checks one KEY=VALUE against the field table (doc/phala-claim.1) and appends
 * the stored form of value to out (app ids etc. lowercased). EXIT_USAGE with
 * "KEY: why" when invalid. lease_id, revision and version cannot be set. */
int claim_check_field(const char *key, const char *value, struct buf *out, struct err *e);

/* Field access. claim_get also answers "lease_id" and "revision"; NULL when
 * absent. claim_set validates; an empty value removes the field. */
const char *claim_get(const struct claim *c, const char *key);
int claim_set(struct claim *c, const char *key, const char *value, struct err *e);
void claim_free(struct claim *c);

/* The file format: parse (strict: every member typed and validated, as a
 * file written by another process is untrusted) and serialise (one line of
 * JSON, keys in order: version, lease_id, revision, then fields sorted). */
int claim_parse(struct claim *c, const char *text, size_t len, struct err *e);
bool claim_serialise(const struct claim *c, struct buf *out);

/* Reads LEASE's claim without locking (readers never block). */
int claim_read(const struct claim_store *s, const char *lease, struct claim *c, struct err *e);

/* Per-lease lock (flock on DIR/.LEASE.lock, created 0600; removed only by
 * claim_unlock_gone, once the claim is gone).
 * Blocks until held. When the environment names this lease and an inherited
 * descriptor that is this lease's lock file (same device and inode), that
 * descriptor is used: the lock is already ours. The fd is not close-on-exec
 * only when the caller asks (for handing down). */
int claim_lock(const struct claim_store *s, const char *lease, bool for_child, struct claim_lock *l,
	       struct err *e);
void claim_unlock(struct claim_lock *l);
/* Before running a child under the held lock l: makes it known to the child
 * (its environment), whose own calls then use it (see claim_lock). */
int claim_lock_hand_down(struct claim_lock *l, struct err *e);
/* Releases the lock; first, when LEASE has no claim (it was removed under
 * this lock, or never existed), removes the lease's lock file, so that the
 * lock files of leases long gone do not pile up. Safe: claim_lock, once it
 * holds a lock, checks that the file it locked is still the one at the path,
 * else it starts over. An inherited lock is left to its holder. The writes
 * below release their lock this way. */
void claim_unlock_gone(const struct claim_store *s, const char *lease, struct claim_lock *l);

/* Writes, each under the lease's lock and each giving a new revision.
 * kv: n strings "KEY=VALUE". if_revision NULL: unconditional; otherwise the
 * claim must exist at that revision, else EXIT_REJECTED with CLAIM_CONFLICT.
 * out (may be NULL) receives the claim as written. */
int claim_create(const struct claim_store *s, const char *lease, char *const *kv, size_t n, struct claim *out,
		 struct err *e);
int claim_update(const struct claim_store *s, const char *lease, const char *if_revision, char *const *kv,
		 size_t n, struct claim *out, struct err *e);
int claim_remove(const struct claim_store *s, const char *lease, const char *if_revision, struct err *e);

/* Scans: visit is called for every valid claim in lease-id order (a non-zero
 * return stops the scan and is returned); skip for every file that is not a
 * valid claim (corrupt, foreign, symlink), with the reason. The lock files
 * (.LEASE.lock) and temporary files (.LEASE.tmp) are ignored. */
typedef int (*claim_visit_fn)(const struct claim *c, void *arg);
typedef void (*claim_skip_fn)(const char *file, const struct err *why, void *arg);
int claim_list(const struct claim_store *s, claim_visit_fn visit, claim_skip_fn skip, void *arg, struct err *e);
/* The claims whose field key equals value (compared in stored form). For
 * app_id, slug, vm_uuid, name and gateway_host the index (DIR/.index) names
 * the candidates, each read and compared; skip then sees only corrupt
 * candidates. Other keys scan like claim_list. */
int claim_find(const struct claim_store *s, const char *key, const char *value, claim_visit_fn visit,
	       claim_skip_fn skip, void *arg, struct err *e);

/* Import: c (a parsed claim, revision kept) created under its lock, never
 * over an existing claim (EXIT_REJECTED "LEASE: claim exists"). */
int claim_import(const struct claim_store *s, const struct claim *c, struct err *e);

/* Resolves an identifier to one claim (for phala-proxy and the glue): a
 * 40-hex app id, else a lease id, else a slug. EXIT_REJECTED when none
 * matches, EXIT_USAGE when more than one claim carries that app id or slug. */
int claim_resolve(const struct claim_store *s, const char *ident, struct claim *c, struct err *e);

/* A touch of a ready lease in use (phala-proxy: every connection): sets
 * last_touched_at to now and expires_at to min(now + idle_secs, created_at +
 * ttl_secs), by compare-and-swap against the claim as read, under its lock.
 * Never creates or resurrects a claim: absent, not state=ready, carrying a
 * recovery label, lacking lifetime fields, or changed meanwhile:
 * EXIT_REJECTED and nothing written. Touched less than min_interval seconds
 * ago: EXIT_OK and nothing written (a burst of connections costs one write).
 * Waits for the lock like every write: callers that must not wait (a
 * connection) run it apart. */
int claim_touch(const struct claim_store *s, const char *lease, long long now, long long min_interval,
		struct err *e);

#endif

/* claimpg: the PostgreSQL store of lib/claim (claimstore.h), on libpq.
 *
 * Chosen by trusted configuration only: PHALA_CLAIMS_URL (a libpq connection
 * string or URI; libpq's PG* variables, ~/.pgpass, sslmode and sslrootcert
 * apply as libpq defines them), else the key claims_url of the user config
 * ($PHALA_LEASE_CONFIG, else ${XDG_CONFIG_HOME:-$HOME/.config}/phala-lease/config),
 * never a project file. The schema ($PHALA_CLAIMS_SCHEMA, default
 * phala_claims) is created on first use and versioned: a newer one is
 * refused, an older one migrated in a transaction.
 *
 * One row a claim, its revision checked in the WHERE of every write; the
 * per-lease lock a session-level advisory lock keyed (hash(schema),
 * hash(schema/lease)), released by the server when its holder dies; a lock
 * handed down to a child is recognised by a token the child presents,
 * checked against the locks the holder's backend holds (pg_locks).
 * Serialisation failures and deadlocks are retried (5 times). The database
 * unreachable, authentication refused or the connection lost: EXIT_REMOTE,
 * nothing half-written (one statement a write). The connection string is
 * never put in a message. */
#ifndef LIB_CLAIMPG_H
#define LIB_CLAIMPG_H

#include <stdbool.h>

#include "claim.h"

/* The configured connection string (malloc'd) in *url, or NULL when the
 * directory store applies. EXIT_USAGE for an unreadable user config. */
int claimpg_configured(char **url, struct err *e);

/* Connects, checks (creates, migrates) the schema. */
int claimpg_open(struct claim_store *s, const char *url, struct err *e);

#endif

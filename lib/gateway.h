/* gateway: which dstack TLS gateway host and port a proxy TARGET means.
 *
 * A TARGET is a full host name (used as is), a name under the `.phala`
 * pseudo-domain (the suffix removed, then resolved as below), a lease id or
 * slug (the cached gateway host of its claim), or a CVM app id (40 hex,
 * optional `app_` or `0x` prefix: the cached host of the claim recording it,
 * else one `phala cvms get app_<id> --json`). The SSH host of a CVM is
 * `<app_id>-22.<gateway domain>`, TLS port 443 unless the domain ends in
 * `:PORT` (phala-cli.md §11). */
#ifndef LIB_GATEWAY_H
#define LIB_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define APP_ID_HEX 40

enum target_kind { TARGET_HOST, TARGET_APP_ID, TARGET_LEASE };

struct target {
	enum target_kind kind;
	char id[256]; /* host name, bare lowercase app id, or lease id/slug */
};

struct gateway_host {
	char host[256];
	uint16_t port; /* 0: not given (443 applies) */
};

/* Classifies a command-line TARGET. EXIT_USAGE when it is none of the forms. */
int gateway_target(const char *arg, struct target *t, struct err *e);

/* `<app_id>-22.<domain>`, with a trailing `:PORT` of domain split off. */
int gateway_host_for(const char *app_id, const char *domain, struct gateway_host *g, struct err *e);

/* Reads `phala cvms get --json` output: progress lines before the object and
 * noise after it are tolerated; `success` must be true (false: EXIT_REMOTE
 * with the CLI's error text); app id from `app_id`/`appId`, domain from
 * `gateway.base_domain`/`gateway.baseDomain` (2026-01-21) or
 * `gateway_domain`/`gatewayDomain` (2025-10-28). A top-level status other
 * than "running", or no domain: EXIT_REMOTE (not reachable through a
 * gateway); no JSON or wrong types: EXIT_MALFORMED. */
int gateway_from_cvm_json(const char *text, size_t len, struct gateway_host *g, struct err *e);

/* Runs `PHALA cvms get app_<id> --json` once, in a private empty directory,
 * stdin /dev/null, DEBUG unset, PHALA_DISABLE_UPDATE_CHECK=1, and reads its
 * answer. A CLI that cannot run, fails, is killed or has not answered within
 * timeout_ms (then it and its process group are killed): EXIT_REMOTE. */
int gateway_ask_cli(const char *phala, const char *app_id, int timeout_ms, struct gateway_host *g, struct err *e);

/* What the claim ledger (lib/claim, phala-claim(1)) caches for a target. */
struct cached_host {
	bool found;                    /* a claim matches the lease id, slug or app id */
	struct gateway_host g;         /* its gateway_host/gateway_port; host "" if none yet */
	char app_id[APP_ID_HEX + 1];   /* its app_id, "" if none */
	char lease_id[65];
	char dir[4096];                /* the ledger directory consulted */
};

/* Looks the target up in the claim ledger in dir (NULL: $PHALA_CLAIMS_DIR,
 * else ${XDG_STATE_HOME:-~/.local/state}/phala-lease/claims). No claim is
 * not an error (out->found false). An unsafe directory or a corrupt matching
 * claim: EXIT_MALFORMED; several claims with that slug or app id: EXIT_USAGE. */
int gateway_cached(const char *dir, const struct target *t, struct cached_host *out, struct err *e);

/* Records a use of the lease reached through this gateway host: the claim of
 * lease (a lease id) when given, else the one claim whose gateway_host is
 * host, gets claim_touch (lib/claim.h: never created, lock respected,
 * compare-and-swap). No claim, several, or a claim not ready: EXIT_REJECTED. */
int gateway_touch(const char *dir, const char *lease, const char *host, long long now, long long min_interval,
		  struct err *e);

#endif

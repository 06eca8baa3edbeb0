#!/bin/sh
# An orchestrator's acquire/run/release around phala-lease, crabbox-style:
#   crabbox-run.sh COMMAND...
# leases an attested TDX CVM, runs COMMAND in it over the verified tunnel,
# and releases it whatever happened; a release that fails leaves the claim,
# and the periodic sweep (contrib/systemd) retries it.
set -eu
[ $# -ge 1 ] || { echo "usage: crabbox-run.sh COMMAND..." >&2; exit 2; }
out=$(phala-lease acquire --ttl "${LEASE_TTL:-30m}" --json) || exit $?
lease=$(printf '%s\n' "$out" | phala-json get - lease_id) || exit 5
# shellcheck disable=SC2317 # run by the EXIT trap
release() {
	trap - EXIT INT TERM
	phala-lease release "$lease" >&2 || echo "crabbox-run: release of $lease failed; the sweep will retry" >&2
}
trap release EXIT
trap 'exit 130' INT TERM
rc=0
phala-lease ssh "$lease" "$@" || rc=$?
exit "$rc"

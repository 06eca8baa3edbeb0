#!/bin/sh
# Opt-in live smoke test of phala-lease against the real Phala Cloud
# (lease-contract.md §9 scenario 65). Never runs without
# PHALA_LEASE_LIVE=1 and PHALA_CLOUD_API_KEY; prints exactly one verdict
# line: passed, environment_blocked (not opted in, no login) or quota_blocked
# (the account cannot create a CVM), or failed. Its own cleanup is the
# tool's release, never a raw delete.
set -u
BIN=${BIN:-$(cd "$(dirname "$0")/../.." && pwd)/bin}
verdict() { echo "$1"; exit "${2:-0}"; }
[ "${PHALA_LEASE_LIVE:-0}" = 1 ] || verdict environment_blocked
[ -n "${PHALA_CLOUD_API_KEY:-}" ] || verdict environment_blocked
log=$(mktemp -d "${TMPDIR:-/tmp}/phala-lease-live.XXXXXX") || verdict failed 1
classify() { # the output of a failed step => a verdict
	if grep -qi -E 'not authenticated|invalid api key|login|unauthori[sz]ed|401' "$1"; then verdict environment_blocked
	elif grep -qi -E 'quota|balance|insufficient|credit|no available resources' "$1"; then verdict quota_blocked
	else sed 's/^/# /' "$1" >&2; verdict failed 1; fi
}
"$BIN/phala-lease" doctor >"$log/doctor" 2>&1 || classify "$log/doctor"
"$BIN/phala-lease" acquire --ttl 20m --json >"$log/acquire" 2>"$log/acquire.err" || classify "$log/acquire.err"
lease=$("$BIN/phala-json" get "$log/acquire" lease_id) || verdict failed 1
rc=0
"$BIN/phala-lease" status "$lease" >"$log/status" 2>&1 || rc=1
"$BIN/phala-lease" list >"$log/list" 2>&1 || rc=1
grep -q "^$lease" "$log/list" || rc=1
"$BIN/phala-lease" release "$lease" >"$log/release" 2>&1 || { cat "$log/release" >&2; verdict failed 1; }
[ "$rc" = 0 ] || verdict failed 1
verdict passed

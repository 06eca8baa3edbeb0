#!/bin/sh
# crabbox-style "run the job in a leased box" around phala-lease run:
#   crabbox-run.sh COMMAND [ARG...]
# leases an attested TDX CVM, sends the current directory (a git work tree:
# tracked and untracked-not-ignored files), runs COMMAND there in
# /var/volatile/phala-lease/LEASE, copies $CRABBOX_FETCH back if set, and
# releases the CVM whatever happened - also on Ctrl-C or SIGTERM. The exit
# status is COMMAND's; a failure of the box itself says which phase failed.
# A release that fails leaves the claim, and the sweep (contrib/systemd)
# retries it.
set -eu
[ $# -ge 1 ] || { echo "usage: crabbox-run.sh COMMAND [ARG...]" >&2; exit 2; }
set -- --ttl "${LEASE_TTL:-30m}" -- "$@"
[ -z "${CRABBOX_FETCH:-}" ] || set -- --fetch "$CRABBOX_FETCH" "$@"
exec phala-lease run "$@"

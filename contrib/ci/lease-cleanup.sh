#!/bin/sh
# lease-cleanup.sh SUMMARY: the cleanup step of a CI job that ran
# "phala-lease run --summary SUMMARY ...". run releases the lease it acquired
# itself, also when the job is cancelled (SIGINT, SIGTERM, SIGHUP); this step
# covers the rest: run killed outright (SIGKILL after the CI's grace, the OOM
# killer, a lost runner) leaves a summary that names a lease run acquired,
# did not keep and did not release. Then that lease is released through the
# ownership gate; otherwise nothing is done. Safe to run always, and twice.
# Exit: 0 nothing left to release (or released), else phala-lease's status.
set -eu
[ $# -eq 1 ] || { echo "usage: lease-cleanup.sh SUMMARY" >&2; exit 2; }
s=$1
[ -s "$s" ] || { echo "lease-cleanup: no summary $s: run never got a lease" >&2; exit 0; }
{ read -r lease; read -r acquired; read -r kept; read -r released; } <<EOT
$(phala-json get "$s" lease acquired kept released)
EOT
if [ -z "$lease" ] || [ "$acquired" != true ] || [ "$kept" = true ] || [ "$released" = true ]; then
	echo "lease-cleanup: nothing to release (lease ${lease:-none}, acquired $acquired, kept $kept, released $released)" >&2
	exit 0
fi
if ! phala-claim get "$lease" lease_id >/dev/null 2>&1; then
	echo "lease-cleanup: lease $lease has no claim any more: already released" >&2
	exit 0
fi
echo "lease-cleanup: releasing lease $lease (run did not finish)" >&2
phala-lease release "$lease" >&2

#!/bin/sh
# Bench: 20 leases acquired and released concurrently against the local
# simulator (t/sim/load.sh), cleanup looping beside them. Prints the wall time
# and the per-lease overhead the suite adds on top of the simulator. Figures
# only: the run fails on a broken invariant (lost claim, leaked CVM), never on time.
cd "$(dirname "$0")/../.." || exit 4
n=${E2E_LEASES:-20}
sh t/sim/load.sh "$n" && exit 0
rc=$?
[ "$rc" -ne 4 ] || { echo "e2e: skipped: the simulator cannot run on this machine (see above)"; exit 0; }
exit "$rc"

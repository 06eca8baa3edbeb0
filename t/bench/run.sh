#!/bin/sh
# make bench: runs every t/bench/*.sh (one per area) and prints their figures.
# Benchmarks are not tests: they print numbers and ratios, they never fail on time.
set -u
cd "$(dirname "$0")/../.." || exit 4
status=0
for b in t/bench/*.sh; do
	[ "$b" = t/bench/run.sh ] && continue
	printf '== %s\n' "$(basename "$b" .sh)"
	sh "$b" || { echo "bench $b failed" >&2; status=1; }
done
exit $status

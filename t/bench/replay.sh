#!/bin/sh
# Replay throughput: tdx-rtmr-replay over a generated 100,000-event log, against
# this machine's `openssl dgst -sha384` over the same bytes (one pass of SHA-384
# over the file is a floor no replay can beat: the replay parses the JSON and
# hashes every event twice, once for its digest and once to extend).
set -eu
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
perl t/bench/gen-eventlog.pl 100000 > "$tmp/log.json"
bytes=$(wc -c < "$tmp/log.json")

# shellcheck source=t/helpers/timing.sh
. t/helpers/timing.sh
replay=$(median_ms bin/tdx-rtmr-replay "$tmp/log.json")
dgst=$(median_ms openssl dgst -sha384 "$tmp/log.json")
awk -v b="$bytes" -v r="$replay" -v d="$dgst" 'BEGIN {
	printf "replay: 100000 events, %.1f MB of JSON\n", b / 1e6
	printf "  tdx-rtmr-replay            %8.1f ms  %7.1f MB/s  %9.0f events/s\n", r, b / r / 1e3, 100000 / r * 1e3
	printf "  openssl dgst -sha384       %8.1f ms  %7.1f MB/s\n", d, b / d / 1e3
	printf "  ratio replay/sha384 time   %8.2f  (1.00 = as fast as one SHA-384 pass over the bytes)\n", r / d
}'

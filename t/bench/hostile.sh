#!/bin/sh
# Hostile input (issue 15 item 3): time and peak memory for the worst inputs
# of t/helpers/mk-hostile.pl at 1, 16 and 64 MiB (63 MiB: the input cap is
# 64 MiB), so that growth with the size shows: linear work grows 16 and 4
# times between the columns, refusals at a limit stay flat. phala-proxy reads
# at most 4 MiB of the CLI's answer, so its rows stop there. One run each:
# CPU time (user + system) is the figure to read on a busy machine.
set -eu
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
Q=testdata/dcap-qvl-tdx-quote.bin
NOW=2025-07-01T00:00:00Z
APP=3f2a9c4d8e7b6a5f4c3d2e1f0a9b8c7d6e5f4a3b

# row KIND SIZE CMD...: builds the input ($in), runs CMD on it, prints a row.
row() {
	kind=$1 size=$2
	shift 2
	in=$tmp/$kind.json
	perl t/helpers/mk-hostile.pl "$kind" "$size" "$in"
	set +e
	FAKE_PHALA_STDOUT=$in FAKE_PHALA_LOG=$tmp/log /usr/bin/time -o "$tmp/cost" -f '%e %U %S %M' \
		"$@" >/dev/null 2>"$tmp/err"
	rc=$?
	set -e
	tail -n 1 "$tmp/cost" | awk -v k="$kind" -v s="$size" -v t="$(basename "$1")" -v rc="$rc" \
		-v b="$(wc -c <"$in")" '{
		printf "  %-12s %-18s %5s %8.1f MB  exit %d  wall %6.0f ms  cpu %6.0f ms  rss %6.1f MiB\n",
			k, t, s, b / 1e6, rc, $1 * 1000, ($2 + $3) * 1000, $4 / 1024 }'
	rm -f "$in"
}

echo "hostile input: exit, wall and CPU time, peak RSS"
for s in ${HOSTILE_SIZES:-1M 16M 63M}; do
	row nested "$s" bin/tdx-rtmr-replay "$tmp/nested.json"
	row advisories "$s" bin/tdx-dcap-verify --collateral "$tmp/advisories.json" --now "$NOW" "$Q"
	row pem-chain "$s" bin/tdx-dcap-verify --collateral "$tmp/pem-chain.json" --now "$NOW" "$Q"
	row racert-pem "$s" bin/tdx-quote-extract "$tmp/racert-pem.json"
	row brace-lines "$s" bin/phala-json --embedded get "$tmp/brace-lines.json" success
	row array "$s" bin/phala-json get "$tmp/array.json" x
	row strings "$s" bin/phala-json get "$tmp/strings.json" x
done
for s in 1M 4M; do
	for k in cli-nested brace-lines; do
		row "$k" "$s" bin/phala-proxy --print-host --connect-timeout 5 --phala "$PWD/t/helpers/fake-phala.sh" "$APP"
	done
done

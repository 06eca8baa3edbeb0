#!/bin/sh
# DCAP verification: whole-process time of one verification of the real sample
# (quote + collateral, at a time the collateral is valid) against the npm peers
# @phala/dcap-qvl (pure JS) and @phala/dcap-qvl-web (wasm), both under node;
# and in-process verifications per second (collateral parsed once, every check
# and signature run per verification) against the floor of the ECDSA P-256
# verifications each one performs, from `openssl speed ecdsap256`.
set -eu
cd "$(dirname "$0")/../.."
q=testdata/dcap-qvl-tdx-quote.bin
c=testdata/dcap-qvl-tdx-collateral.json
now=1751328000
peers=build/peers
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "whole process, one verification (hyperfine, mean of >= 20 runs):"
have_peers=no
parity=0
sh t/peers/dcap-qvl.sh > "$tmp/parity" 2>&1 || parity=$?
if [ "$parity" -ne 77 ]; then
	have_peers=yes
	printf '  peer parity (t/peers/dcap-qvl.sh): %s fields agree, %s disagree\n' \
		"$(grep -c '^agree' "$tmp/parity")" "$(grep -c '^DISAGREE' "$tmp/parity")"
fi
if ! command -v hyperfine >/dev/null 2>&1; then
	echo "  hyperfine not installed - not measured"
else
	set -- "bin/tdx-dcap-verify --collateral $c --now $now $q"
	if [ "$have_peers" = yes ]; then
		set -- "$@" "node $peers/peer.js js $q $c $now" "node $peers/peer.js wasm $q $c $now"
	fi
	hyperfine -N --warmup 3 --min-runs 20 --export-json "$tmp/h.json" "$@" >/dev/null 2>&1 ||
		hyperfine --warmup 3 --min-runs 20 --export-json "$tmp/h.json" "$@" >/dev/null 2>&1
	perl -MJSON::PP -e '
		local $/; my $r = decode_json(<STDIN>)->{results};
		my @name = ("tdx-dcap-verify", q{@phala/dcap-qvl (JS, node)}, q{@phala/dcap-qvl-web (wasm, node)});
		my $ours = $r->[0]{mean};
		for my $i (0 .. $#$r) {
			printf "  %-34s %8.2f ms wall %8.2f ms CPU", $name[$i], $r->[$i]{mean} * 1e3,
				($r->[$i]{user} + $r->[$i]{system}) * 1e3;
			printf "   %6.1fx our wall time", $r->[$i]{mean} / $ours if $i;
			print "\n";
		}' < "$tmp/h.json"
	[ "$have_peers" = yes ] || echo "  npm peers: not measured (node/npm or the registry unavailable)"
fi

echo "in process (dcap-loop bench, 3 s):"
build/helpers/dcap-loop bench "$q" "$c" "$now" 3 > "$tmp/loop"
vps=$(sed -n 's/^verifications_per_second=//p' "$tmp/loop")
sigs=$(sed -n 's/^ecdsa_verifies_per_verification=//p' "$tmp/loop")
ecdsa=$(openssl speed -seconds 1 ecdsap256 2>/dev/null | awk '/nistp256/ { print $NF; exit }')
awk -v v="$vps" -v s="$sigs" -v e="$ecdsa" 'BEGIN {
	floor = e / s
	printf "  verifications/s            %9.0f\n", v
	printf "  ECDSA P-256 verifies each  %9d\n", s
	printf "  openssl speed verify/s     %9.0f  (floor: %.0f verifications/s)\n", e, floor
	printf "  cost ratio ours/floor      %9.2f  (1.00 = nothing but the signature checks)\n", floor / v
}'

#!/bin/sh
# Peer parity for tdx-dcap-verify: installs @phala/dcap-qvl (JS) and
# @phala/dcap-qvl-web (wasm) from npm into build/peers/ and compares their
# verdict, advisory IDs and TD report fields with ours on the real sample, at a
# time the collateral is valid and at one past its expiry.
# Not part of make check (needs the npm registry): run `sh t/peers/dcap-qvl.sh`.
# Exit 0 when all agree, 1 on a disagreement, 77 when node/npm is unavailable.
set -eu
cd "$(dirname "$0")/../.." || exit 4
BIN=${BIN:-bin}
peers=build/peers
q=testdata/dcap-qvl-tdx-quote.bin
c=testdata/dcap-qvl-tdx-collateral.json

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	echo "peers: node/npm not available - not compared"
	exit 77
fi
if [ ! -d "$peers/node_modules/@phala/dcap-qvl-web" ] || [ ! -d "$peers/node_modules/@phala/dcap-qvl" ]; then
	mkdir -p "$peers"
	npm install --silent --no-audit --no-fund --prefix "$peers" @phala/dcap-qvl @phala/dcap-qvl-web >/dev/null 2>&1 || {
		echo "peers: npm install failed - not compared"
		exit 77
	}
fi
cp t/peers/dcap-qvl-peer.js "$peers/peer.js"

# field NAME JSON: the value of a top-level or report string field, or of status/advisory_ids.
field() {
	printf '%s' "$2" | perl -MJSON::PP -e '
		my ($k) = @ARGV; local $/; my $j = decode_json(<STDIN>);
		my %alias = (mr_td => [qw(mrTd mr_td)], rtmr0 => [qw(rtMr0 rt_mr0 rtmr0)], rtmr1 => [qw(rtMr1 rt_mr1 rtmr1)],
			rtmr2 => [qw(rtMr2 rt_mr2 rtmr2)], rtmr3 => [qw(rtMr3 rt_mr3 rtmr3)], report_data => [qw(reportData report_data)],
			tee_tcb_svn => [qw(teeTcbSvn tee_tcb_svn)], mr_seam => [qw(mrSeam mr_seam)], td_attributes => [qw(tdAttributes td_attributes)],
			xfam => [qw(xfam)], mr_config_id => [qw(mrConfigId mr_config_id)]);
		if ($k eq "advisory_ids") { print join(",", @{$j->{advisory_ids} || []}); exit }
		if ($k eq "verdict") { print(defined $j->{error} || ($j->{ok} // 1) == JSON::PP::false ? "refused" : $j->{status}); exit }
		my $r = $j->{report} ? ($j->{report}{data} || $j->{report}{TD10} || $j->{report}{TD15} || {}) : $j;
		for my $n (@{$alias{$k}}) { if (defined $r->{$n}) { print $r->{$n}; exit } }' "$1"
}

status=0
for now in 1751328000 1761264000; do
	ours=$("$BIN/tdx-dcap-verify" --json --collateral "$c" --now "$now" "$q" 2>/dev/null || true)
	for peer in js wasm; do
		theirs=$(cd "$peers" || exit 4; node peer.js "$peer" "../../$q" "../../$c" "$now" 2>/dev/null) || true
		for f in verdict advisory_ids mr_td rtmr0 rtmr1 rtmr2 rtmr3 report_data tee_tcb_svn mr_seam td_attributes xfam mr_config_id; do
			a=$(field "$f" "$ours")
			b=$(field "$f" "$theirs")
			[ "$f" != verdict ] && [ "$(field verdict "$ours")" = refused ] && continue
			if [ "$a" = "$b" ]; then
				printf 'agree    now=%s %-5s %-13s %s\n' "$now" "$peer" "$f" "${a:-(empty)}"
			else
				printf 'DISAGREE now=%s %-5s %-13s ours=%s theirs=%s\n' "$now" "$peer" "$f" "$a" "$b"
				status=1
			fi
		done
	done
done
exit $status

#!/bin/sh
# make demo: the suite's main job on the built-in real sample - evidence
# captured off live Phala TDX hardware (testdata/phala-info.json) is taken
# apart and checked offline: quote out of the RA-TLS certificate, its binding
# to the certificate key, the event-log replay against the quote's RTMRs, and
# the app id and compose that the box attests.
set -eu
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
DATA=testdata
APP_ID=944edab771280ede410e7b9e66fcaee6b2c4a12c
work=$(mktemp -d "${TMPDIR:-/tmp}/demo.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

now_ms() { date +%s%3N; }
start=$(now_ms)
# step TITLE CMD...: runs CMD, prints its output indented and the elapsed time.
step() {
	title=$1; shift
	t0=$(now_ms)
	printf '\n== %s\n$ %s\n' "$title" "$*"
	if "$@" >"$work/out" 2>&1; then
		sed 's/^/  /' "$work/out"
		printf '  -> ok (%s ms)\n' "$(($(now_ms) - t0))"
	else
		rc=$?
		sed 's/^/  /' "$work/out"
		printf '  -> FAILED, exit %s\n' "$rc"
		exit 1
	fi
}

step "Quote out of the RA-TLS certificate in a guest-agent Info, bound to the certificate key" \
	"$BIN/tdx-quote-extract" --check-binding -o "$work/quote.bin" "$DATA/phala-info.json"
step "The extracted quote is byte-identical to the one captured from the box" \
	cmp "$work/quote.bin" "$DATA/phala-quote.bin"
step "App id the certificate's issuer asserts" \
	"$BIN/tdx-quote-extract" --what app-id "$DATA/phala-info.json"
step "Event-log replay: RTMR0-3 against tcb_info and the quote; app id and compose attested" \
	"$BIN/tdx-rtmr-replay" --quote "$work/quote.bin" --app-id "$APP_ID" \
	--compose "$DATA/phala-compose.yml" "$DATA/phala-info.json"

# The same checks must say no when the evidence lies: a compose one byte off.
sed 's/image:/imagE:/' "$DATA/phala-compose.yml" >"$work/other-compose.yml"
printf '\n== A compose file that differs by one byte is refused\n'
if "$BIN/tdx-rtmr-replay" --compose "$work/other-compose.yml" "$DATA/phala-info.json" >"$work/out" 2>&1; then
	echo "  -> FAILED: a foreign compose was accepted"
	exit 1
else
	rc=$?
	grep 'tdx-rtmr-replay:' "$work/out" | sed 's/^/  /'
	printf '  -> refused as it must be (exit %s)\n' "$rc"
fi

printf '\ndemo: all checks passed in %s ms\n' "$(($(now_ms) - start))"

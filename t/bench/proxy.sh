#!/bin/sh
# phala-proxy bench (make bench): against one local TLS server
# (t/helpers/tls-server, certificate for *.test-gateway.example from a CA made
# here), in the same run:
#   1. set-up to first byte (process start, connect, handshake, verification,
#      until the server's first byte is on stdout; t/helpers/first-byte):
#      phala-proxy with a cached host (claim lookup by
#      slug) vs openssl s_client -verify_return_error -verify_hostname, and the
#      uncached path (phala-proxy running the real phala CLI against the mock
#      API) when both are installed;
#   2. bulk throughput, BYTES (default 1 GiB) from stdin to the server:
#      phala-proxy vs openssl s_client -quiet -no_ign_eof vs socat.
# Every figure is a median over repeated runs, printed with its ratio.
# Benchmarks are not tests: nothing here fails on a time.
#
# Environment: PROXY_BENCH_RUNS (set-up runs, default 21),
# PROXY_BENCH_BULK_RUNS (default 3), PROXY_BENCH_BYTES (default 1073741824),
# PHALA_CLI (the real CLI; default build/phala-cli/node_modules/.bin/phala),
# MOCK_API (the mock API's control script; default t/sim/mock-api.sh).
set -eu
cd "$(dirname "$0")/../.."
ROOT=$PWD
BIN=${BIN:-$ROOT/bin}
HELPERS=${HELPERS:-$ROOT/build/helpers}
RUNS=${PROXY_BENCH_RUNS:-21}
BULK_RUNS=${PROXY_BENCH_BULK_RUNS:-3}
BYTES=${PROXY_BENCH_BYTES:-1073741824}
PHALA_CLI=${PHALA_CLI:-$ROOT/build/phala-cli/node_modules/.bin/phala}
MOCK_API=${MOCK_API:-$ROOT/t/sim/mock-api.sh}
APP=3f2a9c4d8e7b6a5f4c3d2e1f0a9b8c7d6e5f4a3b
H=$APP-22.test-gateway.example

for t in "$BIN/phala-proxy" "$BIN/phala-claim" "$HELPERS/tls-server" "$HELPERS/first-byte"; do
	[ -x "$t" ] || { echo "proxy bench: $t missing (make all helpers)" >&2; exit 4; }
done
for t in openssl socat; do
	command -v "$t" >/dev/null 2>&1 || { echo "proxy bench: $t not installed" >&2; exit 4; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/proxy-bench.XXXXXX")
pids=
mock_dir=
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	if [ -n "$mock_dir" ]; then sh "$MOCK_API" stop "$mock_dir" >/dev/null 2>&1 || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

sh t/helpers/proxy-pki.sh "$tmp/pki"
CA=$tmp/pki/ca.pem

# server MODE: starts tls-server (hello or sink) and prints its port.
server() {
	"$HELPERS/tls-server" "$tmp/pki/gw.pem" "$1" >"$tmp/$1.port" 2>"$tmp/$1.log" &
	pids="$pids $!"
	i=0
	while [ ! -s "$tmp/$1.port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	[ -s "$tmp/$1.port" ] || { echo "proxy bench: tls-server $1 did not start" >&2; exit 4; }
	cat "$tmp/$1.port"
}

now_us() { echo $(($(date +%s%N) / 1000)); }

# median_us N CMD: runs the shell command CMD N times, prints the median in µs.
median_us() {
	n=$1 cmd=$2 i=0
	: >"$tmp/times"
	while [ $i -lt "$n" ]; do
		s=$(now_us)
		eval "$cmd" || { echo "proxy bench: failed: $cmd" >&2; exit 4; }
		e=$(now_us)
		echo $((e - s)) >>"$tmp/times"
		i=$((i + 1))
	done
	sort -n "$tmp/times" | sed -n "$(((n + 1) / 2))p"
}

# median_fb N CMD...: median over N runs of the time from starting CMD to the
# first byte on its stdout (t/helpers/first-byte), in µs.
median_fb() {
	n=$1 i=0
	shift
	: >"$tmp/times"
	while [ $i -lt "$n" ]; do
		"$HELPERS/first-byte" "$@" >>"$tmp/times" 2>"$tmp/fb.err" ||
			{ echo "proxy bench: failed: $*" >&2; cat "$tmp/fb.err" >&2; exit 4; }
		i=$((i + 1))
	done
	sort -n "$tmp/times" | sed -n "$(((n + 1) / 2))p"
}

ms() { awk -v u="$1" 'BEGIN { printf "%.2f ms", u / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
mbps() { awk -v b="$BYTES" -v u="$1" 'BEGIN { printf "%.0f MB/s", b / u }'; }

# check NAME CMD: CMD must print exactly "hello" (it connected and verified).
check() {
	out=$(eval "$2") || true
	[ "$out" = hello ] || { echo "proxy bench: $1 did not get the server's line (got '$out')" >&2; exit 4; }
}

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown) on $(nproc) cores (a busy machine makes every figure noisy)"

# ---- 1. set-up to first byte ----
hp=$(server hello)
mkdir -p "$tmp/claims"
chmod 700 "$tmp/claims"
"$BIN/phala-claim" --dir "$tmp/claims" create 0123456789ab slug=bench-box app_id=$APP gateway_host="$H" \
	state=ready >/dev/null
proxy_cached="'$BIN/phala-proxy' --claims '$tmp/claims' --connect-to 127.0.0.1:$hp --cafile '$CA' bench-box </dev/null"
s_client="openssl s_client -quiet -verify_return_error -verify_hostname $H -servername $H -CAfile '$CA' \
	-connect 127.0.0.1:$hp </dev/null 2>/dev/null"
check "phala-proxy (cached)" "$proxy_cached"
check "openssl s_client" "$s_client"
t_proxy=$(median_fb "$RUNS" "$BIN/phala-proxy" --claims "$tmp/claims" --connect-to "127.0.0.1:$hp" --cafile "$CA" \
	bench-box)
t_sclient=$(median_fb "$RUNS" openssl s_client -quiet -verify_return_error -verify_hostname "$H" -servername "$H" \
	-CAfile "$CA" -connect "127.0.0.1:$hp")
echo "set-up to first byte (process start to the server's first byte on stdout), median of $RUNS:"
echo "  phala-proxy (cached host)           $(ms "$t_proxy")"
echo "  openssl s_client (verifying)        $(ms "$t_sclient")"
echo "  s_client / phala-proxy              $(ratio "$t_sclient" "$t_proxy")  (target: >= 1.00x)"

uncached_line() { echo "  phala-proxy (uncached: phala cvms get against the mock API${2:+, median of $2})  $1"; }
if command -v node >/dev/null 2>&1 && [ -x "$PHALA_CLI" ] && [ -f "$MOCK_API" ]; then
	mock_dir=$tmp/mock
	mkdir -p "$tmp/phala-cloud" "$tmp/noclaims"
	chmod 700 "$tmp/noclaims"
	out=
	if prefix=$(sh "$MOCK_API" start "$mock_dir" --domain test-gateway.example) &&
		sh "$MOCK_API" add "$mock_dir" app_id=$APP name=bench-box status=running >/dev/null; then
		uncached="PHALA_CLOUD_API_PREFIX='$prefix' PHALA_CLOUD_API_KEY='$(cat "$mock_dir/api-key")' \
			PHALA_CLOUD_DIR='$tmp/phala-cloud' '$BIN/phala-proxy' --claims '$tmp/noclaims' \
			--phala '$PHALA_CLI' --connect-to 127.0.0.1:$hp --cafile '$CA' $APP </dev/null"
		out=$(eval "$uncached" 2>&1) || true
	fi
	if [ "$out" = hello ]; then
		n=$(((RUNS + 3) / 4))
		t_uncached=$(median_fb "$n" env PHALA_CLOUD_API_PREFIX="$prefix" \
			PHALA_CLOUD_API_KEY="$(cat "$mock_dir/api-key")" PHALA_CLOUD_DIR="$tmp/phala-cloud" \
			"$BIN/phala-proxy" --claims "$tmp/noclaims" --phala "$PHALA_CLI" --connect-to "127.0.0.1:$hp" \
			--cafile "$CA" "$APP")
		uncached_line "$(ms "$t_uncached")" "$n"
		echo "  uncached / cached                   $(ratio "$t_uncached" "$t_proxy")"
	else
		uncached_line "not measured - the real CLI against the mock API did not answer: $out"
	fi
else
	uncached_line "not measured - needs node, the real phala CLI at $PHALA_CLI (t/sim/install-phala-cli.sh) and the mock API at $MOCK_API"
fi

# ---- 2. bulk throughput ----
sp=$(server sink)
feed="head -c $BYTES /dev/zero"
b_proxy=$(median_us "$BULK_RUNS" \
	"$feed | '$BIN/phala-proxy' --connect-to 127.0.0.1:$sp --cafile '$CA' $H >/dev/null")
b_sclient=$(median_us "$BULK_RUNS" "$feed | openssl s_client -quiet -no_ign_eof -verify_return_error \
	-verify_hostname $H -servername $H -CAfile '$CA' -connect 127.0.0.1:$sp >/dev/null 2>&1")
b_socat=$(median_us "$BULK_RUNS" \
	"$feed | socat -u - 'OPENSSL:127.0.0.1:$sp,cafile=$CA,snihost=$H,commonname=$H' >/dev/null")
echo "bulk throughput, $BYTES bytes stdin -> server, median of $BULK_RUNS:"
echo "  phala-proxy                         $(mbps "$b_proxy")  ($(ms "$b_proxy"))"
echo "  openssl s_client -quiet -no_ign_eof $(mbps "$b_sclient")  ($(ms "$b_sclient"))"
echo "  socat                               $(mbps "$b_socat")  ($(ms "$b_socat"))"
echo "  phala-proxy / s_client              $(ratio "$b_sclient" "$b_proxy")  (target: >= 1.50x)"
echo "  phala-proxy / socat                 $(ratio "$b_socat" "$b_proxy")"

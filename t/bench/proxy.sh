#!/bin/sh
# phala-proxy bench (make bench): against one local TLS server
# (t/helpers/tls-server, certificate for *.test-gateway.example from a CA made
# here), in the same run:
#   1. set-up to first byte (process start, connect, handshake, verification,
#      until the server's first byte is on stdout; t/helpers/first-byte):
#      phala-proxy with a cached host (claim lookup by
#      slug) vs openssl s_client -verify_return_error -verify_hostname, and the
#      uncached path (phala-proxy running the real phala CLI against the mock
#      API) when both are installed; the first two again with the system
#      trust store instead of a CA file;
#   2. bulk throughput of BYTES (default 1 GiB) in each direction, server to
#      stdout and stdin to server: phala-proxy vs openssl s_client -quiet
#      -no_ign_eof vs socat. The server, the client and the feeding `head`
#      share the machine's cores, so the server must cost less per byte than
#      the clients it compares (t/helpers/tls-server.c: why its read-ahead
#      buffer is 64 KiB).
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
mock_dir=
cleanup() {
	# Servers are started in command substitutions: their pids are in a file.
	[ ! -f "$tmp/pids" ] || while read -r p; do kill "$p" 2>/dev/null || true; done <"$tmp/pids"
	if [ -n "$mock_dir" ]; then sh "$MOCK_API" stop "$mock_dir" >/dev/null 2>&1 || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE

sh t/helpers/proxy-pki.sh "$tmp/pki"
CA=$tmp/pki/ca.pem

# server MODE [BYTES]: starts tls-server (hello, sink, source BYTES) and prints its port.
server() {
	"$HELPERS/tls-server" "$tmp/pki/gw.pem" "$@" >"$tmp/$1.port" 2>"$tmp/$1.log" &
	echo $! >>"$tmp/pids"
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
# $in_store, when set, is a command prefix that first-byte runs under (not timed).
in_store=
median_fb() {
	n=$1 i=0
	shift
	: >"$tmp/times"
	while [ $i -lt "$n" ]; do
		# shellcheck disable=SC2086 # in_store is a word list
		$in_store "$HELPERS/first-byte" "$@" >>"$tmp/times" 2>"$tmp/fb.err" ||
			{ echo "proxy bench: failed: $*" >&2; cat "$tmp/fb.err" >&2; exit 4; }
		i=$((i + 1))
	done
	sort -n "$tmp/times" | sed -n "$(((n + 1) / 2))p"
}

ms() { awk -v u="$1" 'BEGIN { printf "%.2f ms", u / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
mbps() { awk -v b="$BYTES" -v u="$1" 'BEGIN { printf "%.0f MB/s", b / u }'; }

# check NAME CMD...: CMD must get the server's first byte (it connected and verified).
check() {
	name=$1
	shift
	# shellcheck disable=SC2086 # in_store is a word list
	$in_store "$HELPERS/first-byte" "$@" >/dev/null 2>"$tmp/fb.err" ||
		{ echo "proxy bench: $name got nothing from the server" >&2; cat "$tmp/fb.err" >&2; exit 4; }
}

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown) on $(nproc) cores (a busy machine makes every figure noisy)"

# ---- 1. set-up to first byte ----
hp=$(server hello)
mkdir -p "$tmp/claims"
chmod 700 "$tmp/claims"
"$BIN/phala-claim" --dir "$tmp/claims" create 0123456789ab slug=bench-box app_id=$APP gateway_host="$H" \
	state=ready >/dev/null
check "phala-proxy (cached)" "$BIN/phala-proxy" --claims "$tmp/claims" --connect-to "127.0.0.1:$hp" --cafile "$CA" \
	bench-box
check "openssl s_client" openssl s_client -quiet -verify_return_error -verify_hostname "$H" -servername "$H" \
	-CAfile "$CA" -connect "127.0.0.1:$hp"
t_proxy=$(median_fb "$RUNS" "$BIN/phala-proxy" --claims "$tmp/claims" --connect-to "127.0.0.1:$hp" --cafile "$CA" \
	bench-box)
t_sclient=$(median_fb "$RUNS" openssl s_client -quiet -verify_return_error -verify_hostname "$H" -servername "$H" \
	-CAfile "$CA" -connect "127.0.0.1:$hp")
echo "set-up to first byte (process start to the server's first byte on stdout), median of $RUNS:"
echo "  phala-proxy (cached host)           $(ms "$t_proxy")"
echo "  openssl s_client (verifying)        $(ms "$t_sclient")"
echo "  s_client / phala-proxy              $(ratio "$t_sclient" "$t_proxy")  (target: >= 1.00x)"

# The same with the system trust store (no --cafile / -CAfile), the way users
# reach the real gateway. In a mount namespace of its own, a copy of this
# system's store plus the test CA stands in for the default certificate
# directory: the same indexed certificates, and the bundle with the test CA
# appended; SSL_CERT_FILE and SSL_CERT_DIR unset. s_client (OpenSSL's
# defaults) parses the bundle on every start; phala-proxy reads the indexed
# directory on demand (doc/phala-proxy.1, ENVIRONMENT).
odir=$(openssl version -d | sed 's/^OPENSSLDIR: "\(.*\)"$/\1/')
sysdir=$(readlink -f "$odir/certs")
bundle=$(readlink -f "$odir/cert.pem")
mkdir "$tmp/certs"
n=0
for f in "$sysdir"/[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f].0; do
	[ -e "$f" ] || continue
	ln -s "$(readlink -f "$f")" "$tmp/certs/"
	n=$((n + 1))
done
why=
if [ "$n" -eq 0 ]; then
	why="$sysdir is not indexed by subject hash"
elif [ "$(dirname "$bundle")" != "$sysdir" ]; then
	why="the default bundle $bundle is not in $sysdir"
elif ! sh t/helpers/in-mount-ns.sh "$sysdir" "$sysdir" true 2>/dev/null; then
	why="no mount namespace for a private trust store"
fi
if [ -z "$why" ]; then
	cp "$CA" "$tmp/certs/bench-ca.pem"
	openssl rehash "$tmp/certs"
	cat "$bundle" "$CA" >"$tmp/certs/$(basename "$bundle")"
	in_store="env -u SSL_CERT_FILE -u SSL_CERT_DIR sh $ROOT/t/helpers/in-mount-ns.sh $tmp/certs $sysdir"
	check "phala-proxy (system store)" "$BIN/phala-proxy" --claims "$tmp/claims" --connect-to "127.0.0.1:$hp" bench-box
	check "openssl s_client (system store)" openssl s_client -quiet -verify_return_error -verify_hostname "$H" \
		-servername "$H" -connect "127.0.0.1:$hp"
	t_proxy_sys=$(median_fb "$RUNS" "$BIN/phala-proxy" --claims "$tmp/claims" --connect-to "127.0.0.1:$hp" bench-box)
	t_sclient_sys=$(median_fb "$RUNS" openssl s_client -quiet -verify_return_error -verify_hostname "$H" \
		-servername "$H" -connect "127.0.0.1:$hp")
	in_store=
	echo "  with the system trust store ($n CAs and the test CA, no SSL_CERT_* variables), median of $RUNS:"
	echo "  phala-proxy (cached host)           $(ms "$t_proxy_sys")"
	echo "  openssl s_client (verifying)        $(ms "$t_sclient_sys")"
	echo "  s_client / phala-proxy              $(ratio "$t_sclient_sys" "$t_proxy_sys")  (target: >= 1.00x)"
else
	echo "  with the system trust store: not measured - $why"
fi

uncached_line() { echo "  phala-proxy (uncached: phala cvms get against the mock API${2:+, median of $2})  $1"; }
if command -v node >/dev/null 2>&1 && [ -x "$PHALA_CLI" ] && [ -f "$MOCK_API" ]; then
	mock_dir=$tmp/mock
	mkdir -p "$tmp/phala-cloud" "$tmp/noclaims"
	chmod 700 "$tmp/noclaims"
	out=
	ok=false
	if prefix=$(sh "$MOCK_API" start "$mock_dir" --domain test-gateway.example --watch-pid $$) &&
		sh "$MOCK_API" add "$mock_dir" app_id=$APP name=bench-box status=running >/dev/null; then
		set -- env PHALA_CLOUD_API_PREFIX="$prefix" PHALA_CLOUD_API_KEY="$(cat "$mock_dir/api-key")" \
			PHALA_CLOUD_DIR="$tmp/phala-cloud" "$BIN/phala-proxy" --claims "$tmp/noclaims" --phala "$PHALA_CLI" \
			--connect-to "127.0.0.1:$hp" --cafile "$CA" "$APP"
		out=$("$HELPERS/first-byte" "$@" 2>&1) && ok=true
	fi
	if $ok; then
		n=$(((RUNS + 3) / 4))
		t_uncached=$(median_fb "$n" "$@")
		uncached_line "$(ms "$t_uncached")" "$n"
		echo "  uncached / cached                   $(ratio "$t_uncached" "$t_proxy")"
	else
		uncached_line "not measured - the real CLI against the mock API did not answer: $out"
	fi
else
	uncached_line "not measured - needs node, the real phala CLI at $PHALA_CLI (t/sim/install-phala-cli.sh) and the mock API at $MOCK_API"
fi

# bulk_report TITLE PROXY_US SCLIENT_US SOCAT_US: one direction's figures and ratios.
bulk_report() {
	echo "$1, median of $BULK_RUNS:"
	echo "  phala-proxy                         $(mbps "$2")  ($(ms "$2"))"
	echo "  openssl s_client -quiet -no_ign_eof $(mbps "$3")  ($(ms "$3"))"
	echo "  socat                               $(mbps "$4")  ($(ms "$4"))"
	echo "  phala-proxy / s_client              $(ratio "$3" "$2")  (target: >= 1.50x)"
	echo "  phala-proxy / socat                 $(ratio "$4" "$2")"
}

# ---- 2. bulk throughput, both directions ----
# Download: the server sends BYTES; each client's stdin is a FIFO opened
# read-write, so it never reaches EOF (s_client -no_ign_eof would quit at once
# on /dev/null) and the server's close ends every client.
mkfifo "$tmp/never"
dp=$(server source "$BYTES")
d_proxy=$(median_us "$BULK_RUNS" \
	"'$BIN/phala-proxy' --connect-to 127.0.0.1:$dp --cafile '$CA' $H 0<>'$tmp/never' >/dev/null")
d_sclient=$(median_us "$BULK_RUNS" "openssl s_client -quiet -no_ign_eof -verify_return_error \
	-verify_hostname $H -servername $H -CAfile '$CA' -connect 127.0.0.1:$dp 0<>'$tmp/never' >/dev/null 2>&1")
d_socat=$(median_us "$BULK_RUNS" \
	"socat -u 'OPENSSL:127.0.0.1:$dp,cafile=$CA,snihost=$H,commonname=$H' - >/dev/null")
bulk_report "bulk download, $BYTES bytes server -> stdout" "$d_proxy" "$d_sclient" "$d_socat"

# Upload: BYTES from stdin to a server that discards them; stdin EOF ends each client.
sp=$(server sink)
feed="head -c $BYTES /dev/zero"
b_proxy=$(median_us "$BULK_RUNS" \
	"$feed | '$BIN/phala-proxy' --connect-to 127.0.0.1:$sp --cafile '$CA' $H >/dev/null")
b_sclient=$(median_us "$BULK_RUNS" "$feed | openssl s_client -quiet -no_ign_eof -verify_return_error \
	-verify_hostname $H -servername $H -CAfile '$CA' -connect 127.0.0.1:$sp >/dev/null 2>&1")
b_socat=$(median_us "$BULK_RUNS" \
	"$feed | socat -u - 'OPENSSL:127.0.0.1:$sp,cafile=$CA,snihost=$H,commonname=$H' >/dev/null")
bulk_report "bulk upload, $BYTES bytes stdin -> server" "$b_proxy" "$b_sclient" "$b_socat"

#!/bin/sh
# Claim store at scale: 1,000 then 10,000 claims created with phala-claim,
# then looked up by app id - in process as phala-proxy does (the index, and a
# full scan for comparison), and through the command - against the cost of one
# TLS handshake on this machine (openssl s_time against a local s_server,
# loopback, ECDSA P-256, TLS 1.3: the least a phala-proxy connection pays).
# Then the same on the PostgreSQL store (a local server started by
# t/helpers/pg-server.sh: loopback TCP, SCRAM password, TLS), in the same run.
set -eu
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
server=
pgdir=
cleanup() {
	[ -z "$server" ] || kill "$server" 2>/dev/null || true
	if [ -n "$pgdir" ]; then
		sh t/helpers/pg-server.sh stop "$pgdir"
		rm -rf "$pgdir"
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE
dir=$tmp/claims
claim=bin/phala-claim
lookup=build/helpers/claim-lookup
# phala-claim on the directory store (the PostgreSQL one: $tmp/on-pg, below)
printf '#!/bin/sh\nexec "%s" --dir "%s" "$@"\n' "$PWD/$claim" "$dir" > "$tmp/on-dir"
chmod 755 "$tmp/on-dir"

now_us() { echo $(($(date +%s%N) / 1000)); }
app_of() { printf '%040x' "$1"; }

# create FROM TO PARALLEL [STORE]: claims FROM..TO, each with app id, slug,
# gateway host and the lifetime fields a real lease carries, on STORE (a
# phala-claim command; default the directory). (The script given to sh -c
# expands its own arguments: SC2016 is intended.)
# shellcheck disable=SC2016
create() {
	seq "$1" "$2" | xargs -P "$3" -I{} sh -c '
		a=$(printf "%040x" "$1")
		"$2" create "$(printf "l%011x" "$1")" app_id="$a" slug="s$1" \
			gateway_host="$a-22.dstack-prod5.phala.network" state=ready keep=false \
			created_at=1764000000 expires_at=1764001800 ttl_secs=1800 >/dev/null' sh {} "${4:-$tmp/on-dir}"
}

# median_ms CMD...: median wall time of 11 runs, in milliseconds.
median_ms() {
	for _ in 1 2 3 4 5 6 7 8 9 10 11; do
		start=$(now_us)
		"$@" > /dev/null
		echo $(($(now_us) - start))
	done | sort -n | sed -n 6p | awk '{ printf "%.2f", $1 / 1000 }'
}

# TLS handshake on loopback.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/k.pem" -out "$tmp/c.pem" \
	-subj /CN=localhost -days 1 2>/dev/null
openssl s_server -accept 127.0.0.1:0 -cert "$tmp/c.pem" -key "$tmp/k.pem" -www < /dev/null > "$tmp/srv.out" 2>&1 &
server=$!
port=
for _ in $(seq 50); do
	port=$(sed -n 's/^ACCEPT 127.0.0.1:\([0-9]*\)$/\1/p' "$tmp/srv.out")
	[ -n "$port" ] && break
	sleep 0.1
done
[ -n "$port" ] || { echo "claim bench: s_server did not start" >&2; exit 4; }
start=$(now_us)
n_tls=$(openssl s_time -connect "127.0.0.1:$port" -new -time 3 2>/dev/null |
	sed -n 's/^\([0-9]*\) connections in [0-9.]*s;.*/\1/p' | head -n 1)
tls_us=$(( ($(now_us) - start) / n_tls ))

report() {
	n=$1
	mid=$((n / 2))
	app=$(app_of "$mid")
	idx=$($lookup "$dir" "$app" 2000 | awk '{ print $3 }')
	scan_app=$(mv "$dir/.index" "$dir/.index.off" && $lookup "$dir" "app_id=$app" 3 | awk '{ print $2 }';
		mv "$dir/.index.off" "$dir/.index")
	cli=$(median_ms "$claim" --dir "$dir" find "app_id=$app")
	cli_get=$(median_ms "$claim" --dir "$dir" get "$(printf 'l%011x' "$mid")" gateway_host)
	cli_list=$(median_ms "$claim" --dir "$dir" list)
	awk -v n="$n" -v i="$idx" -v sa="$scan_app" -v c="$cli" -v g="$cli_get" -v l="$cli_list" -v t="$tls_us" 'BEGIN {
		printf "%6d claims: lookup by app id, in process (phala-proxy): index %8.1f us = %6.4f TLS handshakes\n", n, i, i / t
		printf "              same lookup by full scan (no index)            %8.0f us = %6.2f TLS handshakes\n", sa, sa / t
		printf "              (full scan: %.1f us per claim file)\n", sa / n
		printf "              phala-claim find app_id=... (whole process)    %8.2f ms\n", c
		printf "              phala-claim get LEASE gateway_host             %8.2f ms\n", g
		printf "              phala-claim list                               %8.2f ms\n", l
	}'
}

echo "TLS 1.3 handshake, loopback, openssl s_time -new: $n_tls in 3 s, $tls_us us each (wall)"
start=$(now_us)
create 1 200 1
per=$(( ($(now_us) - start) / 200 ))
echo "create: 200 claims one after another, $per us each (whole process: claim file and directory fsync,"
echo "        plus the new index entries of app_id, slug and gateway_host, each fsync'd with its directory)"
create 201 1000 8
report 1000
start=$(now_us)
create 1001 10000 8
per=$(( ($(now_us) - start) / 9000 ))
echo "create: 9000 more, 8 at a time, $per us each (wall time / claims) = $((1000000 / per)) creates/s"
report 10000

# ---- the same on PostgreSQL ----
pgdir=$(mktemp -d "${TMPDIR:-/tmp}/phala-bench-pg.XXXXXX")
if ! sh t/helpers/pg-server.sh start "$pgdir" > /dev/null 2> "$tmp/pg.err"; then
	echo "PostgreSQL store: skipped: $(tail -n 1 "$tmp/pg.err")"
	exit 0
fi
PHALA_CLAIMS_URL=$(cat "$pgdir/url")
PHALA_CLAIMS_SCHEMA=bench
XDG_STATE_HOME=$tmp/state
export PHALA_CLAIMS_URL PHALA_CLAIMS_SCHEMA XDG_STATE_HOME
printf '#!/bin/sh\nexec "%s" "$@"\n' "$PWD/$claim" > "$tmp/on-pg"
chmod 755 "$tmp/on-pg"

report_pg() {
	n=$1
	mid=$((n / 2))
	app=$(app_of "$mid")
	idx=$($lookup - "$app" 200 | awk '{ print $3 }')
	cli=$(median_ms "$tmp/on-pg" find "app_id=$app")
	cli_get=$(median_ms "$tmp/on-pg" get "$(printf 'l%011x' "$mid")" gateway_host)
	cli_list=$(median_ms "$tmp/on-pg" list)
	awk -v n="$n" -v i="$idx" -v c="$cli" -v g="$cli_get" -v l="$cli_list" -v t="$tls_us" 'BEGIN {
		printf "%6d claims on PostgreSQL: lookup by app id, in process, connected %8.1f us = %6.4f TLS handshakes\n", n, i, i / t
		printf "              phala-claim find app_id=... (whole process, connect and auth) %8.2f ms\n", c
		printf "              phala-claim get LEASE gateway_host             %8.2f ms\n", g
		printf "              phala-claim list                               %8.2f ms\n", l
	}'
}

echo "PostgreSQL store (local server, loopback TCP, SCRAM password, TLS):"
start=$(now_us)
create 1 200 1 "$tmp/on-pg"
per=$(( ($(now_us) - start) / 200 ))
echo "create: 200 claims one after another, $per us each (whole process: connect, auth, lock, insert)"
start=$(now_us)
create 201 1000 8 "$tmp/on-pg"
per=$(( ($(now_us) - start) / 800 ))
echo "create: 800 more, 8 at a time, $per us each (wall time / claims) = $((1000000 / per)) creates/s"
report_pg 1000
start=$(now_us)
create 1001 10000 8 "$tmp/on-pg"
per=$(( ($(now_us) - start) / 9000 ))
echo "create: 9000 more, 8 at a time, $per us each (wall time / claims) = $((1000000 / per)) creates/s"
report_pg 10000

#!/bin/sh
# mock-api.sh: start, stop and steer the loopback mock of the Phala Cloud API
# (t/sim/mock-api.js). State and logs live in DIR; see t/sim/README.md.
#
#   mock-api.sh start DIR [--key KEY] [--domain D] [--hook CMD] [--boot-gets N]
#                         [--delete-gets N] [--port P] [--watch-pid PID] [--hook-timeout S]
#                                     starts it; prints the API prefix
#   mock-api.sh stop DIR              stops it, its hooks and their process group
#                                     (runs the delete hook of every live CVM); idempotent
#   mock-api.sh env DIR               prints the environment for the phala CLI
#   mock-api.sh add DIR KEY=VALUE...  seeds a CVM; prints its app id
#   mock-api.sh fault DIR ENDPOINT JSON
#                                     injects a failure ({"status","body","delay_ms","hang","times"})
#   mock-api.sh clear DIR [ENDPOINT]  removes injected failures
set -eu

here=$(cd "$(dirname "$0")" && pwd)
js=$here/mock-api.js

die() { echo "mock-api: $*" >&2; exit "${rc:-4}"; }
usage() { echo 'usage:' >&2; sed -n '5,16s/^#//p' "$0" >&2; exit 2; }

[ $# -ge 2 ] || usage
cmd=$1 dir=$2
shift 2
command -v node >/dev/null 2>&1 || die "node not found (Debian package nodejs)"

# json_str S: S as a JSON string literal (" and \ escaped; start() refuses
# control characters).
json_str() {
	printf '"%s"' "$(printf '%s' "$1" | sed 's/[\\"]/\\&/g')"
}

start() {
	key=sim-key-0123456789abcdef domain=dstack-sim.invalid hook='' boot=0 del=0 port=0 watch=0 htimeout=60
	while [ $# -gt 0 ]; do
		[ $# -ge 2 ] || { rc=2 die "$1 needs a value"; }
		case $1 in
		--key) key=$2 ;;
		--domain) domain=$2 ;;
		--hook) hook=$2 ;;
		--boot-gets) boot=$2 ;;
		--delete-gets) del=$2 ;;
		--port) port=$2 ;;
		--watch-pid) watch=$2 ;;
		--hook-timeout) htimeout=$2 ;;
		*) rc=2 die "unknown option $1" ;;
		esac
		case $2 in *[[:cntrl:]]*) rc=2 die "control character in the value of $1" ;; esac
		shift 2
	done
	for n in "$boot" "$del" "$port" "$watch" "$htimeout"; do
		case $n in '' | *[!0-9]*) rc=2 die "not a number: $n" ;; esac
	done
	if [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
		die "already running in $dir (pid $(cat "$dir/pid"))"
	fi
	mkdir -p "$dir" || die "cannot create $dir"
	dir=$(cd "$dir" && pwd)
	rm -f "$dir/port" "$dir/prefix" "$dir/pid"
	hookj=null
	[ -z "$hook" ] || hookj=$(json_str "$hook")
	printf '{"api_key":%s,"gateway_domain":%s,"hook":%s,"boot_gets":%s,"delete_gets":%s,"port":%s,"watch_pid":%s,"hook_timeout":%s}\n' \
		"$(json_str "$key")" "$(json_str "$domain")" "$hookj" "$boot" "$del" "$port" "$watch" "$htimeout" >"$dir/config.json"
	printf '%s\n' "$key" >"$dir/api-key"
	chmod 600 "$dir/config.json" "$dir/api-key"
	: >>"$dir/requests.txt"
	: >>"$dir/requests.jsonl"
	# Its own process group (setsid), so that stop can end whatever it started.
	sid=
	command -v setsid >/dev/null 2>&1 && sid=setsid
	$sid node "$js" serve "$dir" </dev/null >>"$dir/server.log" 2>&1 &
	echo $! >"$dir/pid"
	i=0
	while [ ! -s "$dir/prefix" ]; do
		if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
			cat "$dir/server.log" >&2
			rm -f "$dir/pid"
			die "server exited before listening"
		fi
		i=$((i + 1))
		[ "$i" -le 200 ] || { stop; die "server did not listen within 10 s"; }
		sleep 0.05
	done
	cat "$dir/prefix"
}

stop() {
	[ -f "$dir/pid" ] || return 0
	pid=$(cat "$dir/pid")
	case $pid in '' | *[!0-9]*) rm -f "$dir/pid"; return 0 ;; esac
	if kill -TERM "$pid" 2>/dev/null; then
		# The server runs the delete hook of every live CVM, then exits.
		i=0
		while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 300 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		kill -KILL "$pid" 2>/dev/null || :
	fi
	# Anything left in its process group (a hook's children).
	kill -KILL "-$pid" 2>/dev/null || :
	rm -f "$dir/pid" "$dir/port" "$dir/prefix"
}

case $cmd in
start) start "$@" ;;
stop) stop ;;
env)
	[ -s "$dir/prefix" ] || die "not running in $dir"
	printf 'PHALA_CLOUD_API_PREFIX=%s\n' "$(cat "$dir/prefix")"
	printf 'PHALA_CLOUD_API_KEY=%s\n' "$(cat "$dir/api-key")"
	printf 'PHALA_DISABLE_UPDATE_CHECK=1\n'
	;;
add | fault | clear) exec node "$js" "$cmd" "$dir" "$@" ;;
*) usage ;;
esac

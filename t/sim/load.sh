#!/bin/sh
# load.sh N: N leases acquired and released concurrently against a fresh
# simulator (t/sim/sim), attestation gate on, with `phala-lease cleanup`
# looping beside them and a foreign CVM seeded in the mock API. Checks that
# every lease either succeeded or failed cleanly (exit 1, 4 or 5 with a
# message, its CVM gone), that no claim is lost or left over, no CVM leaked,
# and the foreign CVM was never deleted. Prints the wall time and the
# per-lease overhead the suite adds on top of the simulator's own work
# (its create and delete hooks). Exit 0 when the checks hold, 1 otherwise,
# 4 when the simulator cannot run here.
# Environment: BIN (default bin), PHALA_CLI (the pinned real CLI).
set -eu
cd "$(dirname "$0")/../.."
root=$PWD
n=${1:?usage: load.sh N}
BIN=$(cd "${BIN:-bin}" && pwd)
PHALA_CLI=${PHALA_CLI:-$PWD/build/phala-cli/node_modules/.bin/phala}
[ -x "$PHALA_CLI" ] || { echo "load: phala CLI not installed (sh t/sim/install-phala-cli.sh)" >&2; exit 4; }
# shellcheck source=t/sim/session.sh
. "$root/t/sim/session.sh"
sim_session sim-load || exit 4
mkdir -p "$work/cwd" "$work/res"
export PHALA_LEASE_SSH_TRIES=10
foreign=$(sh t/sim/mock-api.sh add "$sim/mock" name=production-db status=running)
cd "$work/cwd"

# one I: acquire then release; writes res/I: "acquire_rc release_rc ms lease".
one() {
	t0=$(now_ms)
	lease='' rrc=-
	if phala-lease acquire >"$work/res/$1.acq" 2>&1; then
		arc=0
		lease=$(sed -n 's/^lease=\([0-9a-f]*\) .*/\1/p' "$work/res/$1.acq")
		if phala-lease release "$lease" >"$work/res/$1.rel" 2>&1; then rrc=0; else rrc=$?; fi
	else
		arc=$?
	fi
	echo "$arc $rrc $(($(now_ms) - t0)) ${lease:--}" >"$work/res/$1"
}

t0=$(now_ms)
i=0
pids=''
while [ "$i" -lt "$n" ]; do
	i=$((i + 1))
	one "$i" &
	pids="$pids $!"
done
: >"$work/cleanup.log"
(
	while [ ! -f "$work/done" ]; do
		echo run >>"$work/cleanup.runs"
		phala-lease cleanup >>"$work/cleanup.log" 2>&1 || echo "cleanup exit $?" >>"$work/cleanup.log"
		sleep 1
	done
) &
cl=$!
# shellcheck disable=SC2086 # one word per pid
wait $pids
wall=$(($(now_ms) - t0))
: >"$work/done"
wait "$cl"

bad=0
fail() { echo "load: FAIL: $*"; bad=1; }
ok=0 failed=0 sum=0
i=0
while [ "$i" -lt "$n" ]; do
	i=$((i + 1))
	read -r arc rrc ms lease <"$work/res/$i"
	sum=$((sum + ms))
	if [ "$arc" = 0 ] && [ "$rrc" = 0 ]; then
		ok=$((ok + 1))
	else
		failed=$((failed + 1))
		case $arc in 0 | 1 | 4 | 5) ;; *) fail "lease $i: acquire exit $arc" ;; esac
		msg=$(tail -n 1 "$work/res/$i.acq")
		case $msg in phala-lease:*) ;; *) [ "$arc" = 0 ] || fail "lease $i: no error message" ;; esac
		echo "load: lease $i failed: acquire $arc release $rrc: $(tail -n 1 "$work/res/$i.rel" 2>/dev/null || echo "$msg")"
	fi
done
claims=$("$BIN/phala-claim" --json list | "$BIN/phala-json" items - claims lease_id | grep -c . || :)
[ "$claims" -eq 0 ] || fail "$claims claims left over"
left=$(find "$sim/mock/cvms" -name '*.json' | wc -l)
[ "$left" -eq 1 ] || fail "$((left - 1)) CVMs leaked (records: $(ls "$sim/mock/cvms"))"
[ -f "$sim/mock/cvms/$foreign.json" ] || fail "the foreign CVM is gone"
! grep -q " DELETE /cvms/app_$foreign" "$sim/mock/requests.txt" || fail "a DELETE reached the foreign CVM"
[ "$(ls "$sim/cvms")" = "" ] || fail "simulated CVMs still running: $(ls "$sim/cvms")"
grep 'sim: ' "$sim/mock/server.log" | sort | uniq -c | sed 's/^/load: simulator: /' || :
grep -q '^cleanup exit' "$work/cleanup.log" && fail "cleanup failed: $(grep -m1 -B1 '^cleanup exit' "$work/cleanup.log" | head -n 1)"
sim_ms=$(awk '{ s += $3 } END { print s + 0 }' "$sim/hook-times")
printf 'load: %s leases: %s ok, %s failed cleanly; wall %s ms; claims left %s; CVMs leaked %s; foreign CVM kept\n' \
	"$n" "$ok" "$failed" "$wall" "$claims" "$((left - 1))"
printf 'load: per lease: acquire+release %s ms mean, of which the simulator (create+delete hooks) %s ms: suite overhead %s ms\n' \
	"$((sum / n))" "$((sim_ms / n))" "$(((sum - sim_ms) / n))"
printf 'load: cleanup ran %s times beside them\n' "$(wc -l <"$work/cleanup.runs")"
exit $bad

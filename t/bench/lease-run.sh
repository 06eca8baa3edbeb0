#!/bin/sh
# phala-lease run bench (make bench), against the local Phala simulator
# (t/sim/sim), in one run:
#   1. the suite's overhead of "phala-lease run -- true" from an empty
#      directory: wall time minus the simulator's own create and delete time
#      (its hooks: sshd, guest agent; DIR/hook-times), against the same job
#      done by hand with separate commands (acquire, ssh LEASE true, release);
#   2. the sync of a 10,000-file git work tree into a lease, the first time
#      and the second (nothing changed: rsync's quick check), as run's sync
#      phase (from --summary), against a plain "rsync -a" of the same tree
#      over the same transport (ssh -F with phala-lease ssh-config).
# Figures are medians of RUN_BENCH_N runs (default 3; the sync one run each),
# printed with their ratios. Benchmarks are not tests: nothing fails on time.
# Environment: RUN_BENCH_N, RUN_BENCH_FILES (default 10000), BIN, PHALA_CLI.
set -eu
cd "$(dirname "$0")/../.."
root=$PWD
BIN=$(cd "${BIN:-bin}" && pwd)
PHALA_CLI=${PHALA_CLI:-$root/build/phala-cli/node_modules/.bin/phala}
n=${RUN_BENCH_N:-3}
files=${RUN_BENCH_FILES:-10000}
skip() { echo "lease-run: skipped: $*"; exit 0; }
[ -x "$PHALA_CLI" ] || skip "phala CLI not installed (sh t/sim/install-phala-cli.sh)"
for c in git rsync python3; do command -v "$c" >/dev/null 2>&1 || skip "$c not installed"; done
why=$(sh t/sim/sim check 2>&1) || skip "${why#sim: }"
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
# hooks APP: the simulator's create + delete time for one CVM, ms.
hooks() { awk -v a="$1" '$1 == a { s += $3 } END { print s + 0 }' "$sim/hook-times"; }

# shellcheck source=t/sim/session.sh
. "$root/t/sim/session.sh"
sim_session run-bench || skip "the simulator did not start"
mkdir -p "$work/empty"
cd "$work/empty"

# 1. run around a no-op vs the same by hand.
i=0
: >"$work/run.ms" && : >"$work/hand.ms"
by_run() {
	t0=$(now_ms)
	phala-lease run -q --summary "$work/s$i.json" -- true
	wall=$(($(now_ms) - t0))
	app=$(phala-json get "$work/s$i.json" app_id)
	echo "$((wall - $(hooks "$app"))) $wall" >>"$work/run.ms"
}
by_hand() {
	t0=$(now_ms)
	out=$(phala-lease acquire --json 2>/dev/null)
	lease=$(printf '%s\n' "$out" | phala-json get - lease_id)
	app=$(printf '%s\n' "$out" | phala-json get - app_id)
	phala-lease ssh "$lease" true
	phala-lease release "$lease" >/dev/null
	wall=$(($(now_ms) - t0))
	echo "$((wall - $(hooks "$app"))) $wall" >>"$work/hand.ms"
}
while [ "$i" -lt "$n" ]; do
	i=$((i + 1))
	# Alternating which goes first: the machine's load drifts.
	if [ $((i % 2)) -eq 1 ]; then by_run; by_hand; else by_hand; by_run; fi
done
run_o=$(cut -d' ' -f1 "$work/run.ms" | median) run_w=$(cut -d' ' -f2 "$work/run.ms" | median)
hand_o=$(cut -d' ' -f1 "$work/hand.ms" | median) hand_w=$(cut -d' ' -f2 "$work/hand.ms" | median)
printf 'lease-run: run -- true: wall %s ms, suite overhead (wall - simulator create/delete) %s ms (median of %s)\n' \
	"$run_w" "$run_o" "$n"
# Where run's time goes: each phase's median over the runs.
node -e '
	const fs = require("fs"), by = {};
	for (const f of process.argv.slice(1)) for (const p of JSON.parse(fs.readFileSync(f, "utf8")).phases) (by[p.name] ||= []).push(p.seconds);
	const med = (v) => v.sort((a, b) => a - b)[Math.floor((v.length - 1) / 2)];
	console.log("lease-run: run phases (median s): " + Object.keys(by).map((k) => k + " " + med(by[k])).join(", "));
' "$work"/s[0-9]*.json
printf 'lease-run: by hand (acquire; ssh LEASE true; release): wall %s ms, overhead %s ms: run/by-hand %s\n' \
	"$hand_w" "$hand_o" "$(ratio "$run_o" "$hand_o")"

# 2. a 10,000-file git work tree, first and second sync, vs plain rsync -a.
tree=$work/tree
mkdir -p "$tree"
python3 - "$tree" "$files" <<'EOF'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "d%03d" % (i % 100))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d.txt" % i), "w") as f:
        f.write(("line %d of a source file\n" % i) * 40)
EOF
(cd "$tree" && git init -q && git add . && git -c user.name=b -c user.email=b@example.invalid commit -qm tree)
bytes=$(du -sb --exclude=.git "$tree" | cut -f1)
lease=$(phala-lease acquire --json 2>/dev/null | phala-json get - lease_id)
sync_s() { # SUMMARY: run's sync phase, ms
	node -e 'const o = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
		console.log(Math.round(o.phases.find((p) => p.name === "sync").seconds * 1000));' "$1"
}
phala-lease run -q --lease "$lease" --sync "$tree" --summary "$work/sync1.json" -- true
phala-lease run -q --lease "$lease" --sync "$tree" --summary "$work/sync2.json" -- true
first=$(sync_s "$work/sync1.json") second=$(sync_s "$work/sync2.json")
phala-lease ssh-config "$lease" >"$work/ssh_config"
rs() {
	t0=$(now_ms)
	rsync -a -e "ssh -F $work/ssh_config" "$tree/" "$lease.phala:/var/volatile/plain-rsync/"
	echo $(($(now_ms) - t0))
}
phala-lease ssh "$lease" -- mkdir -p /var/volatile/plain-rsync
pfirst=$(rs) psecond=$(rs)
phala-lease release "$lease" >/dev/null
printf 'lease-run: sync of %s files (%s bytes, git manifest): first %s ms, second %s ms (second/first %s)\n' \
	"$files" "$bytes" "$first" "$second" "$(ratio "$second" "$first")"
printf 'lease-run: plain rsync -a of the same tree (.git included), same transport: first %s ms, second %s ms: run/rsync first %s, second %s\n' \
	"$pfirst" "$psecond" "$(ratio "$first" "$pfirst")" "$(ratio "$second" "$psecond")"

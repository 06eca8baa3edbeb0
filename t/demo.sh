#!/bin/sh
# make demo: the suite's main job on the built-in real sample - evidence
# captured off live Phala TDX hardware (testdata/phala-info.json) is taken
# apart and checked offline: quote out of the RA-TLS certificate, its binding
# to the certificate key, the event-log replay against the quote's RTMRs, and
# the app id and compose that the box attests.
# Then the main job against the local Phala SIMULATOR (t/sim/sim): a small
# project's tests through "phala-lease run" (lease with the attestation gate
# on, sync, run, release), then the same in an existing lease (--lease), a
# report fetched back, ssh, release; the simulated CVMs boot a synthetic OS
# image whose registers the gate recomputes (fetched once from the
# simulator's mirror, then cached), and a CVM whose kernel is not its image's
# is refused. The simulator's quotes are signed by a TEST root, not Intel's.
set -eu
cd "$(dirname "$0")/.."
root=$PWD
BIN=$(cd "${BIN:-bin}" && pwd)
DATA=testdata
APP_ID=944edab771280ede410e7b9e66fcaee6b2c4a12c
work=$(mktemp -d "${TMPDIR:-/tmp}/demo.XXXXXX")
sim=''
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	[ -z "$sim" ] || sh "$root/t/sim/sim" stop "$sim" >/dev/null 2>&1 || :
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE

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
step "Event-log replay: RTMR0-3 against the quote (its signature is not verified here) and tcb_info; app id and compose in the log" \
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

printf '\ndemo: offline checks of the real sample passed in %s ms\n' "$(($(now_ms) - start))"

# ---- the lease lifecycle against the local simulator -------------------------
# not_run REASON: the lifecycle part cannot run on this machine (exit 4).
not_run() {
	printf '\ndemo: the lifecycle part did NOT run: %s\n' "$1"
	printf 'demo: on a fresh machine: sudo sh .ci/deps && make demo\n'
	exit 4
}
phala=${PHALA_CLI:-$root/build/phala-cli/node_modules/.bin/phala}
for c in rsync curl git python3; do
	command -v "$c" >/dev/null 2>&1 || not_run "$c is not installed"
done
why=$(sh t/sim/sim check 2>&1) || not_run "${why#sim: }"
if [ ! -x "$phala" ]; then
	printf '\n== Installing the pinned phala CLI (npm registry)\n'
	sh t/sim/install-phala-cli.sh >"$work/out" 2>&1 || { sed 's/^/  /' "$work/out"; not_run "the phala CLI could not be installed (offline?)"; }
fi
[ -x build/helpers/tdx-testpki ] || not_run "build/helpers/tdx-testpki is not built (make helpers)"

printf '\n######## Lease lifecycle against a SIMULATED Phala Cloud ########\n'
printf '# The API is a local mock driven by the real phala CLI; each CVM is a real,\n'
printf '# unprivileged sshd (logging in as %s; it shares this machine'"'"'s file\n' "$(sh t/helpers/test-user.sh)"
printf '# system, all but its own /etc/ssh, /run, /tmp and /var/volatile)\n'
printf '# behind a TLS gateway; quotes are real TDX structures signed by a TEST root\n'
printf '# CA made at start (not Intel'"'"'s): "attestation passed" below proves the\n'
printf '# pipeline, not genuine TDX hardware.\n'
sim=$work/sim
start=$(now_ms)
step "Start the simulator (test PKI, TLS gateway, mock Phala API)" env SIM_BIN="$BIN" sh t/sim/sim start "$sim"
# shellcheck disable=SC1091 # written by sim start
. "$sim/env"
img=$sim/image/a
step "The OS image the simulated CVMs boot (synthetic: Debian's OVMF, a synthetic kernel): the registers a CVM of its size must show" \
	"$BIN/tdx-measure" --image "$img/image" --vm-config "$img/vm-config.json" --acpi "$img/acpi.json"
step "The gate allows it by its release identity, not by register values" cat "$sim/allowed-images"
mkdir -p "$work/home" "$work/cwd"
export HOME="$work/home" XDG_STATE_HOME="$work/state" XDG_CONFIG_HOME="$work/config" \
	PHALA_CLOUD_DIR="$work/phala-cloud" PHALA_LEASE_PHALA="$phala" PATH="$BIN:$PATH" PHALA_LEASE_POLL=1
cd "$work/cwd"
# A small project: a module and its unit tests (python3 is on a dstack
# guest; git is not, and need not be), in git with an ignored directory.
proj=$work/proj
mkdir -p "$proj"
cat >"$proj/calc.py" <<'EOT'
def add(a, b):
    return a + b


def mean(xs):
    return sum(xs) / len(xs)
EOT
cat >"$proj/test_calc.py" <<'EOT'
import unittest

import calc


class CalcTest(unittest.TestCase):
    def test_add(self):
        self.assertEqual(calc.add(2, 3), 5)

    def test_mean(self):
        self.assertEqual(calc.mean([1, 2, 3, 4]), 2.5)


if __name__ == "__main__":
    unittest.main()
EOT
printf '__pycache__/\nbuild/\n' >"$proj/.gitignore"
mkdir -p "$proj/build" && head -c 1000000 /dev/urandom >"$proj/build/ignored.bin"
(cd "$proj" && git init -q && git add . && git -c user.name=demo -c user.email=demo@example.invalid commit -qm demo) ||
	not_run "git could not make the demo project"
echo "not committed yet, sent anyway" >"$proj/NOTES"
cd "$proj"
step "phala-lease run -- python3 -m unittest -v (lease, work root, sync, run, release)" \
	phala-lease run -- python3 -m unittest -v
step "phala-lease acquire (a lease kept across jobs)" phala-lease acquire
lease=$(sed -n 's/^lease=\([0-9a-f]*\) .*/\1/p' "$work/out")
[ -n "$lease" ] || { echo "demo: no lease id in the acquire output"; exit 1; }
step "phala-lease run --lease $lease --fetch report.txt:results -- sh -c 'python3 -m unittest 2>report.txt; ls -A'" \
	phala-lease run --lease "$lease" --fetch report.txt:results -- sh -c 'python3 -m unittest 2>report.txt; ls -A'
step "The report came back" cat results/report.txt
step "phala-lease ssh $lease -- uname -a" phala-lease ssh "$lease" -- uname -a
step "phala-lease release $lease" phala-lease release "$lease"
step "The image came from the mirror once; the later leases recomputed it from the cache" cat "$sim/mirror.log"
# A CVM that claims the image but booted another kernel must be refused.
sh "$root/t/sim/sim" mode "$sim" wrong-kernel
printf '\n== A CVM whose kernel is not the one of the image it claims is refused and destroyed\n'
if phala-lease acquire >"$work/out" 2>&1; then
	echo "  -> FAILED: a CVM with another kernel was accepted"
	exit 1
else
	rc=$?
	grep 'attestation failed: .*rolled back' "$work/out" | sed 's/^/  /'
	printf '  -> refused as it must be (exit %s)\n' "$rc"
fi
cd "$root"
step "Stop the simulator (every process and file)" sh t/sim/sim stop "$sim"
sim=''
printf '\ndemo: lease lifecycle against the SIMULATED root passed in %s ms\n' "$(($(now_ms) - start))"

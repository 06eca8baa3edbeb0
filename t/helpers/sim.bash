# Bats helpers for the end-to-end suites against the local Phala simulator
# (t/sim/sim, t/sim/README.md). Load after helpers/common and helpers/mock-api.
# shellcheck shell=bash

SIM=$ROOT/t/sim/sim
export SIM

# need_sim: skips, with the reason, when this machine cannot run the simulator.
need_sim() {
	need_phala_cli
	local why
	why=$("$SIM" check 2>&1) || skip "${why#sim: }"
}

# sim_start [DIR]: the simulator in DIR/sim (default $BATS_TEST_TMPDIR; a
# suite sharing one simulator starts it in setup_file with $BATS_FILE_TMPDIR)
# as SIM_DIR, MOCK_DIR, its environment exported, phala-lease pointed at the
# real CLI and private state under DIR.
sim_start() {
	local t=${1:-$BATS_TEST_TMPDIR}
	SIM_DIR=$t/sim
	MOCK_DIR=$SIM_DIR/mock
	SIM_BIN=$BIN "$SIM" start "$SIM_DIR" --watch-pid "$$" >/dev/null || return 1
	# shellcheck disable=SC1091 # written by sim start
	. "$SIM_DIR/env"
	mkdir -p "$t/home" "$t/work"
	export SIM_DIR MOCK_DIR HOME=$t/home XDG_STATE_HOME=$t/state
	export XDG_CONFIG_HOME=$t/config PHALA_CLOUD_DIR=$t/phala-cloud
	export PHALA_LEASE_PHALA=$PHALA_CLI PHALA_LEASE_CLAIM=$BIN/phala-claim PATH=$BIN:$PATH
	export PHALA_LEASE_POLL=1 PHALA_LEASE_SSH_TRIES=3
	unset DEBUG
}

sim_stop() {
	[ -z "${SIM_DIR:-}" ] || "$SIM" stop "$SIM_DIR"
}

# sim_cvms: the CVM records the mock API still holds (one app id a line).
sim_cvms() {
	for f in "$MOCK_DIR"/cvms/*.json; do
		[ -f "$f" ] && basename "$f" .json
	done
	return 0
}

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

# sim_start: the simulator in $BATS_TEST_TMPDIR/sim (SIM_DIR, MOCK_DIR), its
# environment exported, phala-lease pointed at the real CLI and private state.
sim_start() {
	SIM_DIR=$BATS_TEST_TMPDIR/sim
	MOCK_DIR=$SIM_DIR/mock
	SIM_BIN=$BIN "$SIM" start "$SIM_DIR" --watch-pid "$$" >/dev/null || return 1
	# shellcheck disable=SC1091 # written by sim start
	. "$SIM_DIR/env"
	mkdir -p "$BATS_TEST_TMPDIR/home" "$BATS_TEST_TMPDIR/work"
	export SIM_DIR MOCK_DIR HOME=$BATS_TEST_TMPDIR/home XDG_STATE_HOME=$BATS_TEST_TMPDIR/state
	export XDG_CONFIG_HOME=$BATS_TEST_TMPDIR/config PHALA_CLOUD_DIR=$BATS_TEST_TMPDIR/phala-cloud
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

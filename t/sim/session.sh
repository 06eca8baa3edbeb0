# shellcheck shell=sh disable=SC2154 # root, BIN, PHALA_CLI: the caller's
# Sourced by the scripts that drive the simulator outside bats (load.sh, the
# run bench), after they set root (the source tree), BIN and PHALA_CLI:
#   sim_session NAME   $work, a private temporary directory, removed with
#                      the simulator ($sim) on every way out; the simulator
#                      started, its environment sourced, phala-lease's state
#                      and config under $work. Returns 4 when it cannot start.
sim_session() {
	work=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
	sim=$work/sim
	trap sim_session_end EXIT
	trap 'exit 130' INT TERM HUP PIPE
	SIM_BIN=$BIN sh "$root/t/sim/sim" start "$sim" --watch-pid $$ >/dev/null || return 4
	# shellcheck disable=SC1091 # written by sim start
	. "$sim/env"
	mkdir -p "$work/home"
	export HOME="$work/home" XDG_STATE_HOME="$work/state" XDG_CONFIG_HOME="$work/config" \
		PHALA_CLOUD_DIR="$work/phala-cloud" PHALA_LEASE_PHALA="$PHALA_CLI" PATH="$BIN:$PATH" \
		PHALA_LEASE_POLL=1 PHALA_LEASE_CLAIM="$BIN/phala-claim"
}
# shellcheck disable=SC2317 # called by the trap
sim_session_end() { sh "$root/t/sim/sim" stop "$sim" >/dev/null 2>&1 || :; rm -rf "$work"; }
now_ms() { date +%s%3N; }

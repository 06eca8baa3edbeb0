#!/usr/bin/env bats
# check: sanitizer-only
# shellcheck disable=SC2016 # the remote commands expand their own variables
# phala-lease run (issue 12) against the local Phala simulator (t/sim/sim):
# the real phala CLI and mock API, a real sshd per CVM behind the TLS
# gateway, the attestation gate on. One simulator and one lease kept by
# "run --keep" serve the file (setup_file); the tests that must acquire and
# release do so themselves. Checks are made on the box (over ssh, or on the
# simulated CVM's processes, which are this machine's).

load helpers/common
load helpers/mock-api
load helpers/sim
bats_require_minimum_version 1.5.0

setup_file() {
	need_sim
	sim_start "$BATS_FILE_TMPDIR"
	mkdir -p "$BATS_FILE_TMPDIR/empty"
	cd "$BATS_FILE_TMPDIR/empty" || return 1
	"$BIN/phala-lease" run --keep --summary "$BATS_FILE_TMPDIR/keep.json" -- true 2>"$BATS_FILE_TMPDIR/keep.err" ||
		{ cat "$BATS_FILE_TMPDIR/keep.err" >&2; return 1; }
	L0=$(json o.lease "$BATS_FILE_TMPDIR/keep.json")
	export L0
}

teardown_file() {
	sim_stop
}

setup() {
	T=$BATS_TEST_TMPDIR
	cd "$T" || return 1
}

# (background runs call "$BIN/phala-lease" itself: a signal must reach it, not a function's subshell)
L() { "$BIN/phala-lease" "$@"; }
claims() { "$BIN/phala-claim" --json list | "$BIN/phala-json" items - claims lease_id; }
has_claim() { "$BIN/phala-claim" get "$1" lease_id >/dev/null 2>&1; }
cfield() { "$BIN/phala-claim" get "$1" "$2" 2>/dev/null || :; }
work() { printf '/var/volatile/phala-lease/%s\n' "$1"; }
# on_box CMD: a shell command on the kept lease.
on_box() { L ssh "$L0" -- "$1"; }
# wait_for FILE TEXT [TENTHS]: until FILE holds TEXT (default 60 s).
wait_for() {
	local i=0
	until grep -q "$2" "$1" 2>/dev/null; do
		i=$((i + 1))
		[ "$i" -le "${3:-600}" ] || { echo "timed out waiting for '$2' in $1"; return 1; }
		sleep 0.1
	done
}
# procs MARK: this machine's processes (the simulated CVMs' included) whose
# command line holds MARK.
# shellcheck disable=SC2009 # the command lines are the point, pgrep would match itself
procs() { ps -eo pid=,args= | grep -F -- "$1" | grep -v -F 'grep -F' || :; }
routes() { grep -c 'route=' "$SIM_DIR/gw/log" || :; }

@test "run acquires, runs in the per-lease work root, releases: no CVM, no claim; phases timed on stderr; typed summary" {
	mkdir proj && echo hello >proj/a.txt && cd proj
	run --separate-stderr L run --summary "$T/s.json" -- sh -c 'pwd; cat a.txt'
	assert_success
	l=$(json o.lease "$T/s.json")
	app=$(json o.app_id "$T/s.json")
	[ -n "$l" ] && [ -n "$app" ]
	assert_output "$(work "$l")
hello"
	# One progress line per phase, prefixed, with the elapsed time; acquire's own steps before them.
	for p in lease prepare sync command release; do
		grep -Eq "^phala-lease: \[ *[0-9]+s\] run: $p [0-9]+\.[0-9]{3}s: " <<<"$stderr"
	done
	grep -q "run: prepare [0-9.]*s: work root $(work "$l") on the guest" <<<"$stderr"
	grep -q "^phala-lease: \[ *[0-9]*s\] lease $l ready" <<<"$stderr"
	run json '[o.acquired, o.released, o.kept, o.exit_status, o.status, o.failed_phase, o.interrupted, o.signal,
		o.phases.map((p) => p.name).join(), o.phases.every((p) => typeof p.seconds === "number" && p.ok === true),
		o.work_dir, o.fetched]' "$T/s.json"
	assert_output "[true,true,false,0,0,null,false,null,\"lease,prepare,sync,command,release\",true,\"$(work "$l")\",[]]"
	# Released through the gate: the DELETE was made, no CVM, no claim.
	grep -q " DELETE /cvms/app_$app " "$MOCK_DIR/requests.txt"
	[ ! -f "$MOCK_DIR/cvms/$app.json" ]
	[ ! -d "$SIM_DIR/cvms/$app" ]
	run ! has_claim "$l"
}

@test "the remote exit status is run's, exactly: 0, 3, 255, a signal is 128+N; a missing command 127" {
	for c in 'exit 0:0' 'exit 3:3' 'exit 255:255' 'kill -9 $$:137' 'kill -TERM $$:143'; do
		run L run -q --lease "$L0" -- sh -c "${c%:*}"
		[ "$status" -eq "${c##*:}" ] || { echo "'${c%:*}' gave $status: $output"; false; }
	done
	run -127 L run -q --lease "$L0" -- no-such-command-here
	assert_failure 127
	assert_output --partial "no-such-command-here: command not found"
}

@test "stdout and stderr arrive separately and byte-identical, binary included; arguments arrive exactly" {
	mkdir proj && cd proj
	head -c 300000 /dev/urandom >out.bin
	head -c 200000 /dev/urandom >err.bin
	printf 'no newline at the end' >>out.bin
	L run -q --lease "$L0" -- sh -c 'cat out.bin; cat err.bin >&2' >"$T/out" 2>"$T/err"
	cmp "$T/out" out.bin
	cmp "$T/err" err.bin
	# Without -q the progress lines come before and after the command's output.
	L run --lease "$L0" -- sh -c 'printf "%s|" "$@"' sh 'a b' '' "c'd" '$HOME' '*' >"$T/out" 2>"$T/err"
	[ "$(cat "$T/out")" = "a b||c'd|\$HOME|*|" ]
	grep -q 'run: command [0-9.]*s: exit status 0' "$T/err"
}

@test "a git project syncs exactly tracked + untracked-not-ignored files (checked on the box); no symlink leads out of the tree" {
	on_box "rm -rf $(work "$L0")"
	mkdir proj && cd proj
	git init -q
	printf 'build/\n*.log\n' >.gitignore
	mkdir -p src build docs
	echo main >src/main.c
	echo doc >docs/guide.txt
	echo obj >build/main.o
	echo log >run.log
	ln -s ../src/main.c docs/main-link.c
	ln -s /etc/passwd passwd-link
	ln -s ../../../.. up-link
	echo gone >deleted.txt
	git add .gitignore src docs passwd-link deleted.txt
	git -c user.email=t@t -c user.name=t commit -qm init
	rm deleted.txt
	echo new >untracked.txt
	mkdir secret-excluded && echo x >secret-excluded/key
	run --separate-stderr L run --lease "$L0" --exclude secret-excluded -- find . -print
	assert_success
	[ "$(sort <<<"$output")" = "$(printf '%s\n' . ./.gitignore ./docs ./docs/guide.txt ./docs/main-link.c ./src ./src/main.c ./untracked.txt)" ]
	grep -q "run: sync [0-9.]*s: '.', git manifest of" <<<"$stderr"
	# On the box, independently of run: the in-tree link is a link, nothing else arrived.
	run on_box "cd $(work "$L0") && find . -type l -printf '%p -> %l\n'; find . -type f | sort | xargs cat"
	assert_output "./docs/main-link.c -> ../src/main.c
build/
*.log
doc
main
new"
}

@test "outside git, the whole directory is sent (symlinks out of the tree skipped); --sync DIR chooses it" {
	on_box "rm -rf $(work "$L0")"
	mkdir -p plain/sub && echo 1 >plain/sub/one && echo 2 >plain/.hidden && ln -s /etc plain/etc-link
	run --separate-stderr L run --lease "$L0" --sync plain -- find . -print
	assert_success
	[ "$(sort <<<"$output")" = "$(printf '%s\n' . ./.hidden ./sub ./sub/one)" ]
	grep -q "run: sync [0-9.]*s: 'plain', whole directory; 2 files" <<<"$stderr"
	run L run --lease "$L0" --sync no-such-dir -- true
	assert_failure 2
	assert_output --partial "phala-lease: --sync: no-such-dir: not a directory"
}

@test "--fetch brings back a report written by a failing command; a missing remote path is a warning; summary typed" {
	mkdir proj && cd proj
	run --separate-stderr L run --lease "$L0" --summary "$T/s.json" --fetch report.xml:results --fetch logs \
		--fetch never-written.txt -- sh -c 'mkdir -p logs && echo "<testsuite failures=\"1\"/>" >report.xml &&
			echo line >logs/a.log && echo FAIL >&2 && exit 4'
	assert_failure 4
	[ "$(cat results/report.xml)" = '<testsuite failures="1"/>' ]
	[ "$(cat logs/a.log)" = line ]
	grep -q "warning: run: fetch: never-written.txt: no such file on the guest; skipped" <<<"$stderr"
	grep -q 'run: fetch [0-9.]*s: 2 fetched, 1 missing, 0 failed' <<<"$stderr"
	run ! grep -q 'failed in phase' <<<"$stderr"
	run json '[o.exit_status, o.status, o.failed_phase, o.acquired, o.kept, o.released, o.fetched]' "$T/s.json"
	assert_output '[4,4,null,false,true,false,[{"remote":"report.xml","local":"results","arrived":true},{"remote":"logs","local":".","arrived":true},{"remote":"never-written.txt","local":".","arrived":false}]]'
}

@test "--env NAME and NAME=VALUE reach the command; values never in this machine's ps nor in any log or file" {
	export RUN_TEST_SECRET="env-$RANDOM$RANDOM-secret"
	lit="lit-$RANDOM$RANDOM-secret"
	"$BIN/phala-lease" run --lease "$L0" --summary "$T/s.json" --env RUN_TEST_SECRET --env "RUN_TEST_LIT=$lit" --env 'RUN_TEST_Q=a b'\''c
d' -- sh -c 'echo started >&2; sleep 3; printf "%s\n" "$RUN_TEST_SECRET" "$RUN_TEST_LIT" "$RUN_TEST_Q"' \
		>"$T/out" 2>"$T/err" &
	pid=$!
	wait_for "$T/err" started
	: >"$T/ps"
	for _ in 1 2 3 4 5 6 7 8 9 10; do ps -eo args= >>"$T/ps"; sleep 0.2; done
	wait "$pid"
	[ "$(cat "$T/out")" = "$RUN_TEST_SECRET
$lit
a b'c
d" ]
	# The value from the environment is on no command line at all; the
	# literal only on the one typed (phala-lease's own), never ssh's or rsync's.
	run ! grep -F -- "$RUN_TEST_SECRET" "$T/ps"
	grep -F -- "$lit" "$T/ps" | grep -v -F "phala-lease run --lease $L0" && false
	grep -q -F "$lit" "$T/ps" # the sampling saw the run
	# No log or file of the suite or the simulator holds either (the spec is
	# removed from the box before the command starts).
	run ! grep -rlF -e "$RUN_TEST_SECRET" -e "$lit" "$T/err" "$T/s.json" "$SIM_DIR" "$XDG_STATE_HOME" /tmp/phala-lease.* 2>/dev/null
	run on_box "grep -rlF -e '$RUN_TEST_SECRET' -e '$lit' /var/volatile 2>/dev/null"
	assert_output ""
	run L run --lease "$L0" --env RUN_TEST_UNSET_XYZ -- true
	assert_failure 2
	assert_output --partial "phala-lease: --env: RUN_TEST_UNSET_XYZ: not set in the environment"
	run L run --lease "$L0" --env 1BAD=x -- true
	assert_failure 2
	assert_output --partial "phala-lease: --env: '1BAD': not a variable name"
}

@test "run --lease twice reuses the lease and its work root and never releases it; --keep left a usable lease" {
	app=$(cfield "$L0" app_id)
	# setup_file's run --keep: acquired, kept, not released; the claim is ready and keep=true.
	run json '[o.acquired, o.kept, o.released, o.exit_status]' "$BATS_FILE_TMPDIR/keep.json"
	assert_output '[true,true,false,0]'
	[ "$(cfield "$L0" state)" = ready ] && [ "$(cfield "$L0" keep)" = true ]
	mkdir proj && cd proj
	L run -q --lease "$L0" -- sh -c 'echo one >first-run'
	rm -f first-run
	run L run -q --lease "$L0" -- cat first-run
	assert_success
	assert_output one
	# Also by slug-less app id.
	run L run -q --lease "app_$app" -- cat first-run
	assert_output one
	has_claim "$L0"
	[ -f "$MOCK_DIR/cvms/$app.json" ]
	run ! grep -q " DELETE /cvms/app_$app " "$MOCK_DIR/requests.txt"
	run L ssh "$L0" -- true
	assert_success
}

@test "a lease in recovery, unattested (attestation required) or expired is refused with nothing run" {
	r0=$(routes)
	for change in recovery=kept-after-failure attested=false expires_at=1000; do
		old=$(cfield "$L0" "${change%%=*}")
		"$BIN/phala-claim" set "$L0" "$change" keep=false >/dev/null
		run --separate-stderr L run --lease "$L0" --summary "$T/s.json" -- touch ran
		"$BIN/phala-claim" set "$L0" "${change%%=*}=$old" keep=true >/dev/null
		[ "$status" -eq 4 ] || { echo "$change: exit $status: $stderr"; false; }
		grep -q "not usable" <<<"$stderr"
		grep -q "run: failed in phase lease (exit 4)" <<<"$stderr"
		run json '[o.failed_phase, o.exit_status, o.status, o.phases.map((p) => p.name + ":" + p.ok).join()]' "$T/s.json"
		assert_output '["lease",null,4,"lease:false"]'
	done
	# No connection reached the CVM.
	[ "$(routes)" = "$r0" ]
	run on_box "ls $(work "$L0")/ran"
	assert_failure
}

@test "SIGTERM to run alone (as a CI runner sends it): the command's group is killed on the box though it ignores TERM; lease kept; 143" {
	mark="31$RANDOM$RANDOM"
	mkdir proj && cd proj
	"$BIN/phala-lease" run --lease "$L0" --summary "$T/s.json" -- sh -c "trap '' INT TERM HUP; echo started; sleep $mark" >"$T/out" 2>"$T/err" &
	pid=$!
	wait_for "$T/out" started
	[ -n "$(procs "sleep $mark")" ]
	kill -TERM "$pid"
	rc=0
	wait "$pid" || rc=$?
	[ "$rc" -eq 143 ] || { cat "$T/err"; false; }
	grep -q "run: interrupted (SIGTERM): stopping the command on the guest" "$T/err"
	grep -q "run: stop [0-9.]*s: the command's process group on the guest is gone" "$T/err"
	run procs "$mark"
	assert_output ""
	run json '[o.interrupted, o.signal, o.status, o.exit_status, o.released, o.kept]' "$T/s.json"
	assert_output '[true,"TERM",143,null,false,true]'
	has_claim "$L0"
	run L ssh "$L0" -- true
	assert_success
}

@test "SIGINT to the process group mid-command (Ctrl-C), then more: the box's command is killed, the lease released; 130" {
	mark="32$RANDOM$RANDOM"
	mkdir proj && cd proj
	set -m # run in a process group of its own, SIGINT at its default: as at a terminal
	"$BIN/phala-lease" run --summary "$T/s.json" -- sh -c "trap '' INT TERM HUP; echo started; sleep $mark" >"$T/out" 2>"$T/err" &
	pid=$!
	set +m
	wait_for "$T/out" started
	l=$(json o.lease "$T/s.json")
	app=$(json o.app_id "$T/s.json")
	[ -n "$(procs "sleep $mark")" ]
	kill -INT -- "-$pid"
	# Ctrl-C again and again, through the stop and the release.
	for _ in $(seq 100); do
		sleep 0.3
		kill -INT -- "-$pid" 2>/dev/null || break
	done
	rc=0
	wait "$pid" || rc=$?
	[ "$rc" -eq 130 ] || { cat "$T/err"; false; }
	run procs "$mark"
	assert_output ""
	grep -q "run: release [0-9.]*s: destroy app_id=$app lease=$l reason=run" "$T/err" || { cat "$T/err"; false; }
	run ! has_claim "$l"
	[ ! -f "$MOCK_DIR/cvms/$app.json" ]
	run json '[o.interrupted, o.signal, o.status, o.released, o.phases.map((p) => p.name + ":" + p.ok).join()]' "$T/s.json"
	assert_output '[true,"INT",130,true,"lease:true,prepare:true,sync:true,command:false,stop:true,release:true"]'
}

@test "a guest without a tool run needs: the readiness check names it, nothing runs, the acquired lease is released" {
	"$SIM" mode "$SIM_DIR" missing-rsync
	mkdir proj && cd proj
	run --separate-stderr L run --summary "$T/s.json" -- touch ran
	assert_failure 1
	grep -q "phala-lease: run: prepare: the guest lacks rsync (run needs: rsync python3)" <<<"$stderr"
	grep -q "run: failed in phase prepare (exit 1)" <<<"$stderr"
	l=$(json o.lease "$T/s.json")
	run json '[o.failed_phase, o.exit_status, o.status, o.released, o.phases.map((p) => p.name + ":" + p.ok).join()]' "$T/s.json"
	assert_output '["prepare",null,1,true,"lease:true,prepare:false,release:true"]'
	run ! has_claim "$l"
}

@test "the claim is touched while a job runs: a sweep during a job longer than the idle timeout does not reap it" {
	old_idle=$(cfield "$L0" idle_secs)
	"$BIN/phala-claim" set "$L0" idle_secs=6 keep=false >/dev/null
	mkdir proj && cd proj
	"$BIN/phala-lease" run --lease "$L0" -- sh -c 'echo started; sleep 14' >"$T/out" 2>"$T/err" &
	pid=$!
	wait_for "$T/out" started
	t1=$(date +%s)
	sleep 8 # longer than the idle timeout, well into the job
	touched=$(cfield "$L0" last_touched_at)
	L cleanup >"$T/cleanup.out" 2>"$T/cleanup.err" || :
	rc=0
	wait "$pid" || rc=$?
	t2=$(date +%s)
	"$BIN/phala-claim" set "$L0" idle_secs="$old_idle" keep=true >/dev/null
	[ "$rc" -eq 0 ] || { cat "$T/err" "$T/cleanup.err"; false; }
	[ "$touched" -gt "$t1" ] # touched during the command
	grep -q "skip app_id=.* lease=$L0 reason=not expired" "$T/cleanup.err"
	has_claim "$L0"
	[ "$(cfield "$L0" last_touched_at)" -ge "$t2" ] || [ "$(cfield "$L0" last_touched_at)" -ge $((t2 - 1)) ] # and at the end
	# Leave it as setup_file made it: usable for half an hour.
	now=$(date +%s)
	"$BIN/phala-claim" set "$L0" last_touched_at="$now" expires_at=$((now + old_idle)) >/dev/null
}

@test "the work_dir setting chooses the work root (a strict subdirectory of /var/volatile/)" {
	cp "$SIM_DIR/lease.conf" "$T/conf"
	echo 'work_dir = /var/volatile/ci-jobs' >>"$T/conf"
	run env PHALA_LEASE_CONFIG="$T/conf" "$BIN/phala-lease" run -q --lease "$L0" -- pwd
	assert_success
	assert_output "/var/volatile/ci-jobs/$L0"
	echo 'work_dir = /tmp/elsewhere' >>"$T/conf"
	run env PHALA_LEASE_CONFIG="$T/conf" "$BIN/phala-lease" run --lease "$L0" -- pwd
	assert_failure 2
	assert_output --partial "must be a strict subdirectory of /var/volatile/"
}

@test "a terminal only when stdin and stdout are terminals; -t and -T force it" {
	[ "$(id -u)" -eq 0 ] || skip "the unprivileged simulator has no terminals (its sshd cannot give a pty to the tty group)"
	run L run -q --lease "$L0" -- tty
	assert_failure 1
	assert_output "not a tty"
	run L run -q -t --lease "$L0" -- tty
	assert_success
	assert_output --regexp '^/dev/pts/[0-9]+'
	# Both ends terminals (script(1) gives it a pty): a terminal by default, none with -T.
	run script -qec "$BIN/phala-lease run -q --lease $L0 -- tty" /dev/null
	assert_output --regexp '/dev/pts/[0-9]+'
	run script -qec "$BIN/phala-lease run -q -T --lease $L0 -- tty" /dev/null
	assert_output --partial "not a tty"
}

@test "usage errors are 'phala-lease: OPTION: why', exit 2, before any lease or connection; --help is usage on stdout" {
	n0=$(wc -l <"$MOCK_DIR/requests.txt")
	r0=$(routes)
	c0=$(claims | wc -l)
	for args in "" "--bogus -- true" "--lease" "--lease $L0 --ttl 1h -- true" "--json -- true" \
		"--fetch :x -- true" "--summary" "--lease $L0 --keep -- true"; do
		# shellcheck disable=SC2086 # word lists
		run L run $args
		[ "$status" -eq 2 ] || { echo "run $args: exit $status: $output"; false; }
		assert_output --regexp '^phala-lease: [^ ]+: '
	done
	run L run --bogus -- true
	assert_line --index 0 "phala-lease: --bogus: unknown option (see 'phala-lease run --help')"
	run L run --lease "$L0" --ttl 1h -- true
	assert_line --index 0 --partial "phala-lease: --lease: not with acquire options: --ttl"
	# Repeatable options keep every value; acquire's -t is --type here, -t the terminal.
	run L run --lease "$L0" --type tdx.small -- true
	assert_failure 2
	assert_output --partial "phala-lease: --lease: not with acquire options: --type"
	run --separate-stderr L run --help
	assert_success
	assert_line --index 0 --partial "usage: phala-lease run "
	[ -z "$stderr" ]
	[ "$(wc -l <"$MOCK_DIR/requests.txt")" = "$n0" ]
	[ "$(routes)" = "$r0" ]
	[ "$(claims | wc -l)" = "$c0" ]
}

@test "contrib/examples/crabbox-run.sh is the job through phala-lease run: the command's status, the result fetched, nothing left" {
	mkdir proj && cd proj && echo data >input.txt
	run --separate-stderr env CRABBOX_FETCH=out.txt "$ROOT/contrib/examples/crabbox-run.sh" sh -c 'tr a-z A-Z <input.txt >out.txt; exit 3'
	assert_failure 3
	[ "$(cat out.txt)" = DATA ]
	l=$(sed -n 's/.*run: lease [0-9.]*s: \([0-9a-f]\{12\}\) acquired.*/\1/p' <<<"$stderr")
	[ -n "$l" ]
	grep -q "run: release [0-9.]*s: destroy app_id=.* lease=$l reason=run" <<<"$stderr"
	run ! has_claim "$l"
}

@test "contrib/ci/lease-cleanup.sh: run killed outright (SIGKILL) mid-command leaves a summary; the cleanup releases that lease; twice is harmless" {
	mark="33$RANDOM$RANDOM"
	mkdir proj && cd proj
	"$BIN/phala-lease" run --summary "$T/s.json" -- sh -c "echo started; sleep $mark" >"$T/out" 2>"$T/err" &
	pid=$!
	wait_for "$T/out" started
	kill -KILL "$pid"
	wait "$pid" || :
	l=$(json o.lease "$T/s.json")
	app=$(json o.app_id "$T/s.json")
	run json '[o.acquired, o.kept, o.released, o.status]' "$T/s.json"
	assert_output '[true,false,false,null]'
	has_claim "$l"
	run sh "$ROOT/contrib/ci/lease-cleanup.sh" "$T/s.json"
	assert_success
	assert_output --partial "destroy app_id=$app lease=$l reason=release"
	run ! has_claim "$l"
	[ ! -f "$MOCK_DIR/cvms/$app.json" ]
	# The CVM's power-off ended the command and its session.
	run procs "$mark"
	assert_output ""
	run sh "$ROOT/contrib/ci/lease-cleanup.sh" "$T/s.json"
	assert_success
	assert_output --partial "already released"
	# A finished run leaves nothing to do.
	run sh "$ROOT/contrib/ci/lease-cleanup.sh" "$BATS_FILE_TMPDIR/keep.json"
	assert_success
	assert_output --partial "nothing to release"
}

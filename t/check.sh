#!/bin/sh
# make check: every test a contributor needs, ending with "N passed, N failed".
# Stages: gcc, clang and sanitizer (ASan+UBSan) builds; then, in parallel lanes,
# unit tests and bats suites under the gcc build, the same under the sanitizer
# build, shellcheck and fuzz smoke, and the build-independent suites.
set -u
cd "$(dirname "$0")/.." || exit 4

jobs=$(nproc 2>/dev/null || echo 2)

# Lanes: after the builds, the gcc tests, the sanitizer tests, the static
# checks and the build-independent suites run side by side, each in its own
# scratch directory (W) and TMPDIR, each writing its lines to a report. Every
# lane's tests wait mostly on processes they start (sshd, node, sleeps), so
# the lanes overlap well on two cores. A report's "#tally P F S" lines are
# its counts; the summary adds them up.
ok() { printf 'ok - %s\n#tally 1 0 0\n' "$1"; }
not_ok() { printf 'not ok - %s\n#tally 0 1 0\n' "$1"; }

# step NAME CMD...: one test, passing when CMD exits 0; its output shown on failure.
step() {
	name=$1; shift
	if "$@" >"$W/out" 2>&1; then ok "$name"; else not_ok "$name"; sed 's/^/#   /' "$W/out" | tail -n 40; fi
}

# count_tap NAME FILE RC: FILE holds TAP output of a command that exited RC;
# every ok/not ok line counts. A non-zero exit without any failing line (a
# crash, a sanitizer report) counts as one failure.
count_tap() {
	name=$1 file=$2 rc=$3
	# A skipped test ("ok N name # skip reason") is not a pass.
	s=$(grep -c '^ok .* # skip' "$file")
	p=$(($(grep -c '^ok ' "$file") - s))
	f=$(grep -c '^not ok ' "$file")
	printf '%s: %s passed, %s failed, %s skipped\n#tally %s %s %s\n' "$name" "$p" "$f" "$s" "$p" "$f" "$s"
	grep '^ok .* # skip' "$file" | sed 's/^/#   /'
	if [ "$f" -gt 0 ]; then
		grep -v '^ok ' "$file" | sed 's/^/#   /' | head -n 200
	elif [ "$rc" -ne 0 ]; then
		not_ok "$name exited $rc"
		tail -n 40 "$file" | sed 's/^/#   /'
	fi
}

# tap NAME CMD...: runs CMD, which prints TAP, and counts it.
tap() {
	name=$1; shift
	"$@" >"$W/tap" 2>&1
	count_tap "$name" "$W/tap" $?
}

# lane NAME CMD...: runs CMD in the background into $log/NAME.report. A
# lane is this script again (--lane), started through perl to give it the
# default SIGINT and SIGQUIT: a shell ignores them in what it starts with &,
# and the tests of interrupts need them.
lanes='' lane_n=0
lane() {
	name=$1; shift
	# TMPDIR short ($log/N): the simulator's unix sockets live deep under it,
	# and a socket path has at most 107 bytes.
	lane_n=$((lane_n + 1))
	mkdir -p "$log/$name" "$log/$lane_n"
	W=$log/$name TMPDIR=$log/$lane_n \
		perl -e '$SIG{INT} = $SIG{QUIT} = "DEFAULT"; exec @ARGV or die "check: exec $ARGV[0]: $!\n"' \
		sh t/check.sh --lane "$name" "$@" >"$log/$name.report" 2>&1 </dev/null &
	lane_pids="$lane_pids $!"
	lanes="$lanes $name"
}

# Suites marked "# check: build-independent" exercise no binary of ours (the
# real phala CLI, the mock API); they wait mostly on Node.js start-up, so they
# run beside the builds.
independent_lane() {
	independent=$(grep -l '^# check: build-independent' t/*.bats 2>/dev/null)
	# shellcheck disable=SC2086 # one word per suite file
	tap "bats (build-independent suites)" bats --tap $independent
}

SAN_FLAGS="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
builds() {
	step "build (gcc, -Werror)" make -s -j"$jobs" all unit helpers
	step "build (clang, -Werror)" make -s -j"$jobs" CC=clang B=build/clang BIN=build/clang/bin all unit helpers
	step "build (clang, ASan+UBSan)" make -s -j"$jobs" CC=clang B=build/san BIN=build/san/bin CFLAGS="$SAN_FLAGS" all unit helpers
}
export ASAN_OPTIONS="abort_on_error=0:detect_leaks=1" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# tests B BIN: the unit tests and the bats suites against one build. Suites
# marked "# check: sanitizer-only" (the slow end-to-end runs) run once, under
# the sanitizer build, which checks more.
tests() {
	b=$1 bin=$2
	for u in "$b"/unit/test_*; do
		[ -x "$u" ] && tap "unit $(basename "$u") ($b)" "$u"
	done
	suites=$(for f in t/*.bats; do
		grep -q '^# check: build-independent' "$f" && continue
		[ "$b" = build ] && grep -q '^# check: sanitizer-only' "$f" && continue
		echo "$f"
	done)
	if [ -n "$suites" ]; then
		# shellcheck disable=SC2086 # one word per suite file
		tap "bats ($bin)" env BIN="$PWD/$bin" HELPERS="$PWD/$b/helpers" bats --tap $suites
	fi
}

static() {
	shell_files=$(
		{
			ls cmd/*.sh share/*.sh share/*/*.sh t/*.sh t/*/*.sh t/helpers/*.bash .ci/run .ci/deps 2>/dev/null
			# Scripts without the .sh suffix, found by their #! line.
			for f in share/* contrib/* contrib/*/* t/sim/* t/helpers/* t/live/*; do
				[ -f "$f" ] && head -n 1 "$f" | grep -q '^#!.*sh' && echo "$f"
			done
		} | sort -u
	)
	for f in $shell_files; do
		step "shellcheck $f" shellcheck -x "$f"
	done
	for f in t/*.bats; do
		[ -f "$f" ] && step "shellcheck $f" shellcheck -x -s bash "$f"
	done
	# Fuzz smoke: each target a few seconds over its seed corpus.
	if command -v clang >/dev/null 2>&1 && ls t/fuzz/fuzz_*.c >/dev/null 2>&1; then
		step "build fuzz targets" make -s -j"$jobs" fuzz
		for src in t/fuzz/fuzz_*.c; do
			name=$(basename "$src" .c)
			seeds=t/fuzz/corpus/$name
			mkdir -p "$W/$name"
			# 2000 runs or 5 s, whichever comes first (the targets that run
			# a child process or a TLS handshake per input do tens a second).
			step "fuzz $name (2000 runs or 5 s)" build/fuzz/"$name" -runs=2000 -max_total_time=5 \
				-seed=1 -max_len=65536 -rss_limit_mb=2048 "$W/$name" "$seeds"
		done
	fi
}

# In a lane: its scratch directory W and TMPDIR come from the environment.
if [ "${1:-}" = --lane ]; then
	lane_name=$2; shift 2
	export TMPDIR
	lane_t0=$(date +%s)
	"$@"
	printf '#lane %s %s\n' "$lane_name" $(($(date +%s) - lane_t0))
	exit 0
fi

log=$(mktemp -d "${TMPDIR:-/tmp}/ck.XXXXXX") || exit 4
# Traversable: as root the servers some suites start (sshd, PostgreSQL) run
# as the unprivileged test user, in directories under a lane's TMPDIR.
chmod 711 "$log"
export log
lane_pids=''
trap 'rm -rf "$log"' EXIT
# shellcheck disable=SC2086 # one word per pid
trap '[ -z "$lane_pids" ] || kill $lane_pids 2>/dev/null; exit 130' INT TERM
t0=$(date +%s)

# The build-independent suites run beside the builds; the rest after them.
lane independent independent_lane
mkdir -p "$log/build"
W=$log/build
s=$(date +%s)
{ builds; printf '#lane build %s\n' $(($(date +%s) - s)); } >"$log/build.report" 2>&1
lane gcc tests build bin
lane san tests build/san build/san/bin
lane static static

wait
for name in build $lanes; do
	grep -v '^#tally \|^#lane ' "$log/$name.report"
done
for name in build $lanes; do
	sed -n 's/^#lane //p' "$log/$name.report"
done | awk '{ printf "# lane %s: %d s\n", $1, $2 }'
printf '# make check: %d s\n' $(($(date +%s) - t0))
# A skipped test is neither passed nor failed; it is counted apart, above the
# summary line CI reads. A lane that died without its "#lane" line counts as
# a failure.
for name in build $lanes; do
	grep -q '^#lane ' "$log/$name.report" || printf '#tally 0 1 0\n'
	grep '^#tally ' "$log/$name.report"
done | awk '
	{ p += $2; f += $3; s += $4 }
	END {
		if (s > 0) printf "%d skipped\n", s
		printf "%d passed, %d failed\n", p, f
		exit f > 0
	}'

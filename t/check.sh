#!/bin/sh
# make check: every test a contributor needs, ending with "N passed, N failed".
# Stages: gcc build, clang build, sanitizer (ASan+UBSan) build; unit tests and
# bats suites under the gcc and the sanitizer builds; shellcheck; fuzz smoke.
set -u
cd "$(dirname "$0")/.." || exit 4

passed=0
failed=0
skipped=0
log=$(mktemp -d "${TMPDIR:-/tmp}/check.XXXXXX") || exit 4
trap 'rm -rf "$log"' EXIT INT TERM
jobs=$(nproc 2>/dev/null || echo 2)

ok() { passed=$((passed + 1)); printf 'ok - %s\n' "$1"; }
not_ok() { failed=$((failed + 1)); printf 'not ok - %s\n' "$1"; }

# step NAME CMD...: one test, passing when CMD exits 0; its output shown on failure.
step() {
	name=$1; shift
	if "$@" >"$log/out" 2>&1; then ok "$name"; else not_ok "$name"; sed 's/^/#   /' "$log/out" | tail -n 40; fi
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
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
	printf '%s: %s passed, %s failed, %s skipped\n' "$name" "$p" "$f" "$s"
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
	"$@" >"$log/tap" 2>&1
	count_tap "$name" "$log/tap" $?
}

# Suites marked "# check: build-independent" exercise no binary of ours (the
# real phala CLI, the mock API); they wait mostly on Node.js start-up, so they
# run once, in the background, beside the builds.
independent=$(grep -l '^# check: build-independent' t/*.bats 2>/dev/null)
if [ -n "$independent" ]; then
	# shellcheck disable=SC2086 # one word per suite file
	(bats --tap $independent >"$log/independent.tap" 2>&1; echo $? >"$log/independent.rc") &
	independent_pid=$!
fi

SAN_FLAGS="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
step "build (gcc, -Werror)" make -s -j"$jobs" all unit helpers
step "build (clang, -Werror)" make -s -j"$jobs" CC=clang B=build/clang BIN=build/clang/bin all unit helpers
step "build (clang, ASan+UBSan)" make -s -j"$jobs" CC=clang B=build/san BIN=build/san/bin CFLAGS="$SAN_FLAGS" all unit helpers

export ASAN_OPTIONS="abort_on_error=0:detect_leaks=1" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
for variant in build:bin build/san:build/san/bin; do
	b=${variant%%:*}
	bin=${variant#*:}
	for u in "$b"/unit/test_*; do
		[ -x "$u" ] && tap "unit $(basename "$u") ($b)" "$u"
	done
	# Suites marked "# check: sanitizer-only" (the slow end-to-end runs) run
	# once, under the sanitizer build, which checks more.
	suites=$(for f in t/*.bats; do
		grep -q '^# check: build-independent' "$f" && continue
		[ "$b" = build ] && grep -q '^# check: sanitizer-only' "$f" && continue
		echo "$f"
	done)
	if [ -n "$suites" ]; then
		# shellcheck disable=SC2086 # one word per suite file
		tap "bats ($bin)" env BIN="$PWD/$bin" HELPERS="$PWD/$b/helpers" bats --tap $suites
	fi
done

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

# Fuzz smoke: each target a fixed number of runs over its seed corpus.
if command -v clang >/dev/null 2>&1 && ls t/fuzz/fuzz_*.c >/dev/null 2>&1; then
	step "build fuzz targets" make -s -j"$jobs" fuzz
	for src in t/fuzz/fuzz_*.c; do
		name=$(basename "$src" .c)
		seeds=t/fuzz/corpus/$name
		mkdir -p "$log/$name"
		step "fuzz $name (2000 runs)" build/fuzz/"$name" -runs=2000 -seed=1 -max_len=65536 \
			-rss_limit_mb=2048 "$log/$name" "$seeds"
	done
fi

if [ -n "$independent" ]; then
	wait "$independent_pid"
	count_tap "bats (build-independent suites)" "$log/independent.tap" "$(cat "$log/independent.rc")"
fi

# A skipped test is neither passed nor failed; it is counted apart, above the
# summary line CI reads.
[ "$skipped" -eq 0 ] || printf '%s skipped\n' "$skipped"
printf '%s passed, %s failed\n' "$passed" "$failed"
[ "$failed" -eq 0 ]

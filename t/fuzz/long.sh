#!/bin/sh
# t/fuzz/long.sh SECONDS [TARGET...]: runs each libFuzzer target (all of
# t/fuzz/fuzz_*.c when none is named, built by make fuzz) for SECONDS, one after another, on a
# working corpus kept in build/fuzz/corpus/TARGET (seeded from
# t/fuzz/corpus/TARGET), crash inputs into build/fuzz/artifacts/TARGET/.
# Prints one line per target: executions, executions/s, coverage (edges and
# features as libFuzzer counts them), corpus size. Exit 1 when a target
# crashed, leaked, timed out or ran out of memory (its log is shown).
set -u
cd "$(dirname "$0")/../.." || exit 4
secs=${1:?usage: t/fuzz/long.sh SECONDS [TARGET...]}
shift
[ "$#" -gt 0 ] || set -- t/fuzz/fuzz_*.c
failed=0
for t in "$@"; do
	t=${t##*/}
	t=${t%.c}
	bin=build/fuzz/$t
	[ -x "$bin" ] || { echo "long.sh: $bin: not built" >&2; exit 4; }
	work=build/fuzz/corpus/$t
	art=build/fuzz/artifacts/$t
	log=build/fuzz/logs/$t.log
	mkdir -p "$work" "$art" build/fuzz/logs
	seeds=
	[ -d "t/fuzz/corpus/$t" ] && seeds=t/fuzz/corpus/$t
	# shellcheck disable=SC2086 # seeds: none or one directory
	"$bin" -max_total_time="$secs" -timeout=25 -rss_limit_mb=2048 -max_len=65536 \
		-print_final_stats=1 -artifact_prefix="$art/" "$work" $seeds >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -n 1)
	corp=$(grep -o 'corp: [0-9]*/[0-9A-Za-z]*' "$log" | tail -n 1)
	if [ "$rc" -eq 0 ]; then
		printf 'ok   %-24s %ss  %s runs  %s exec/s  %s  %s\n' "$t" "$secs" "${runs:-?}" "${rate:-?}" "${cov:-?}" "${corp:-?}"
	else
		failed=1
		printf 'FAIL %-24s exit %s after %s runs (log %s, inputs in %s)\n' "$t" "$rc" "${runs:-?}" "$log" "$art"
		grep -E 'ERROR|SUMMARY|Test unit written' "$log" | head -n 5
	fi
done
exit "$failed"

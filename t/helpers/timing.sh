# shellcheck shell=sh
# Sourced by the benchmarks (t/bench/): wall-time medians.

# median_ms CMD...: median wall time of 11 runs of CMD, in milliseconds.
median_ms() {
	for _ in 1 2 3 4 5 6 7 8 9 10 11; do
		start=$(date +%s%N)
		"$@" >/dev/null
		end=$(date +%s%N)
		echo $(((end - start) / 1000))
	done | sort -n | sed -n 6p | awk '{ printf "%.1f", $1 / 1000 }'
}

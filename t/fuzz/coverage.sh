#!/bin/sh
# t/fuzz/coverage.sh [TARGET...]: line coverage of lib/ by the fuzz targets
# (all of t/fuzz/fuzz_*.c when none is named) over their corpora, merged:
# the seeds in t/fuzz/corpus/TARGET and, when present, the working corpus
# that make fuzz-long keeps in build/fuzz/corpus/TARGET (FUZZ_CORPUS=DIR
# reads DIR/TARGET instead of the latter). Builds each target with clang's
# source-based coverage (-fprofile-instr-generate -fcoverage-mapping, no
# sanitizer) into build/cov/, runs it once over every input, merges the
# profiles and prints llvm-cov's line coverage per lib/ file and in total.
# Needs clang with libFuzzer and llvm-profdata/llvm-cov of the same version
# (LLVM_PROFDATA, LLVM_COV to name them). Exit 4 when a tool is missing, 1
# when an input crashed a target (its coverage still counts).
set -u
cd "$(dirname "$0")/../.." || exit 4
ver=$(clang --version 2>/dev/null | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | head -n 1)
pick() { # the tool named by $1, else NAME-VER, else NAME
	for c in "$1" "$2-$ver" "$2"; do
		[ -n "$c" ] && command -v "$c" >/dev/null 2>&1 && { echo "$c"; return 0; }
	done
	echo "coverage.sh: $2 not found (install llvm, or set $3)" >&2
	return 1
}
[ -n "$ver" ] || { echo "coverage.sh: clang not found" >&2; exit 4; }
profdata=$(pick "${LLVM_PROFDATA:-}" llvm-profdata LLVM_PROFDATA) || exit 4
llvmcov=$(pick "${LLVM_COV:-}" llvm-cov LLVM_COV) || exit 4

[ "$#" -gt 0 ] || set -- t/fuzz/fuzz_*.c
cov=build/cov
mkdir -p "$cov/lib" "$cov/fuzz" "$cov/prof"
rm -f "$cov"/prof/*.profraw
# The Makefile's own flags and libraries (pkg-config's answers there).
# shellcheck disable=SC2016 # make's $($*), not the shell's
mkvar() { make -s --no-print-directory --eval 'print-%: ; @echo $($*)' "print-$1"; }
flags="-std=c11 -D_GNU_SOURCE -g -O1 -Ilib $(mkvar OPENSSL_CFLAGS) $(mkvar DEP_CFLAGS) -fprofile-instr-generate -fcoverage-mapping"
libs=$(mkvar LDLIBS)

# The library, each object rebuilt when its source or a header is newer,
# two compilers at a time.
n=0
for src in lib/*.c; do
	obj=$cov/lib/$(basename "$src" .c).o
	[ -f "$obj" ] && [ -z "$(find "$src" lib/*.h -newer "$obj" 2>/dev/null | head -n 1)" ] && continue
	# shellcheck disable=SC2086 # flags: one word per option
	clang $flags -fsanitize=fuzzer-no-link -c -o "$obj" "$src" &
	n=$((n + 1))
	[ $((n % 2)) -eq 0 ] && wait
done
wait
for src in lib/*.c; do
	[ -f "$cov/lib/$(basename "$src" .c).o" ] || { echo "coverage.sh: $src did not compile" >&2; exit 4; }
done

failed=0
objects=
for t in "$@"; do
	t=${t##*/}
	t=${t%.c}
	bin=$cov/fuzz/$t
	# Every object linked, not an archive's needed ones: the total is all of lib/.
	# shellcheck disable=SC2086 # flags and libs: one word per option
	clang $flags -fsanitize=fuzzer -o "$bin" "t/fuzz/$t.c" "$cov"/lib/*.o $libs || exit 4
	dirs=
	[ -d "t/fuzz/corpus/$t" ] && dirs="t/fuzz/corpus/$t"
	work=${FUZZ_CORPUS:-build/fuzz/corpus}/$t
	[ -d "$work" ] && dirs="$dirs $work"
	inputs=0
	for d in $dirs; do inputs=$((inputs + $(find "$d" -type f | wc -l))); done
	# Every input once (-runs=0 after loading the corpus); an empty scratch
	# directory first, so that libFuzzer never writes into the others.
	rm -rf "$cov/scratch"
	mkdir -p "$cov/scratch"
	# shellcheck disable=SC2086 # dirs: one word per directory
	if ! LLVM_PROFILE_FILE="$cov/prof/$t.%p.profraw" "$bin" -runs=0 -rss_limit_mb=4096 -max_len=1048576 \
		"$cov/scratch" $dirs >"$cov/prof/$t.log" 2>&1; then
		failed=1
		echo "coverage.sh: $t crashed on an input (see $cov/prof/$t.log)" >&2
	fi
	printf '%-24s %6s inputs\n' "$t" "$inputs"
	if [ -z "$objects" ]; then objects=$bin; else objects="$objects -object $bin"; fi
done
"$profdata" merge -sparse -o "$cov/fuzz.profdata" "$cov"/prof/*.profraw || exit 4
echo
# shellcheck disable=SC2086 # objects: the first binary, then -object BIN pairs
"$llvmcov" report -instr-profile="$cov/fuzz.profdata" $objects "$PWD/lib" >"$cov/report.txt" || exit 4
awk 'NR > 2 && NF >= 10 && $1 !~ /^-/ && $8 > 0 { f = $1 == "TOTAL" ? "TOTAL (lib/)" : "lib/" $1
	printf "%-22s %6s lines %6s missed %8s\n", f, $8, $9, $10 }' "$cov/report.txt" >"$cov/lines.txt"
grep -v '^TOTAL' "$cov/lines.txt" | LC_ALL=C sort
grep '^TOTAL' "$cov/lines.txt"
exit "$failed"

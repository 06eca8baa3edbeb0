# Shared setup for every bats suite: tool and data paths, bats-assert.
# shellcheck shell=bash
load /usr/lib/bats/bats-support/load.bash
load /usr/lib/bats/bats-assert/load.bash

ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
BIN=${BIN:-$ROOT/bin}
HELPERS=${HELPERS:-$ROOT/build/helpers}
DATA=$ROOT/testdata
export ROOT BIN HELPERS DATA

# flip_byte FILE OFFSET: XORs the byte at OFFSET with 0x01, in place.
flip_byte() { perl "$ROOT/t/helpers/flip-byte.pl" "$1" "$2"; }
# replace_text FILE OLD NEW: replaces the first occurrence of a literal string.
replace_text() { perl "$ROOT/t/helpers/replace-text.pl" "$1" "$2" "$3"; }

# Shared setup for every bats suite: tool and data paths, bats-assert.
# shellcheck shell=bash
load /usr/lib/bats/bats-support/load.bash
load /usr/lib/bats/bats-assert/load.bash

ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
BIN=${BIN:-$ROOT/bin}
HELPERS=${HELPERS:-$ROOT/build/helpers}
DATA=$ROOT/testdata
export ROOT BIN HELPERS DATA

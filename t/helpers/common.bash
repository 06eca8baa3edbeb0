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

# check_schema NAME JSON: every member of the object JSON is in the schema
# "NAME" of phala-lease(1), JSON OUTPUT, with one of its types, and every
# member of the schema is present.
check_schema() {
	local schema got k t want
	schema=$(sed -n "/^\\.\\\\\" schema: $1\$/,/^\\.fi\$/p" "$ROOT/doc/phala-lease.1" | grep -E '^[a-z_]+ +[a-z|]+$')
	[ -n "$schema" ] || { echo "no schema $1 in doc/phala-lease.1"; return 1; }
	got=$(jq -r 'to_entries[] | "\(.key) \(.value | type)"' <<<"$2") || { echo "not a JSON object: $2"; return 1; }
	while read -r k t; do
		want=$(awk -v k="$k" '$1 == k { print $2 }' <<<"$schema")
		[ -n "$want" ] || { echo "$1: member $k is not documented"; return 1; }
		case "|$want|" in *"|$t|"*) ;; *) echo "$1: $k is $t, documented $want"; return 1 ;; esac
	done <<<"$got"
	while read -r k _; do
		grep -q "^$k " <<<"$got" || { echo "$1: documented member $k missing"; return 1; }
	done <<<"$schema"
}

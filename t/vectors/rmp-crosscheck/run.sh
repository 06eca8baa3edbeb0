#!/bin/sh
# Optional cross-check, not part of make check (it needs Rust): encodes the
# real SCALE V0 sample with the real rmp_serde::to_vec_named, over the V1
# schema declared with dstack's serde attributes, and requires the bytes to
# equal the vectors t/vectors/make-attestation-v1.pl wrote; then decodes each
# vector with rmp_serde and requires the re-encoding to be identical.
# Offline, from Debian's packaged crates:
#   apt-get install cargo librust-rmp-serde-dev librust-serde-derive-dev \
#     librust-serde-json-dev librust-serde-bytes-dev librust-hex-dev
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-${TMPDIR:-/tmp}/rmp-crosscheck-target}
export CARGO_TARGET_DIR
(cd "$here" && cargo build --release -q)
x=$CARGO_TARGET_DIR/release/rmp-crosscheck
hexof() { od -An -v -tx1 "$1" | tr -d ' \n'; echo; }
"$root/bin/tdx-quote-extract" "$root/testdata/dstack-attestation-v1-v2events-cert.pem" > "$tmp/v2.quote"
"$x" "$root" > "$tmp/rust-v1"
"$x" "$root" "$tmp/v2.quote" > "$tmp/rust-v2"
fail=0
check() { # RUST-OUTPUT VECTOR
	hexof "$root/testdata/$2" > "$tmp/perl"
	if cmp -s "$tmp/$1" "$tmp/perl"; then
		echo "ok: rmp_serde::to_vec_named writes $2 byte for byte"
	else
		echo "FAIL: rmp_serde::to_vec_named differs from $2"
		fail=1
	fi
	"$x" --decode "$root/testdata/$2" > "$tmp/round"
	if cmp -s "$tmp/round" "$tmp/perl"; then
		echo "ok: rmp_serde decodes $2 and re-encodes it identically"
	else
		echo "FAIL: rmp_serde round trip of $2"
		fail=1
	fi
}
check rust-v1 dstack-attestation-v1.msgpack
check rust-v2 dstack-attestation-v1-v2events.msgpack
exit $fail

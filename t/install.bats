#!/usr/bin/env bats
# make install / uninstall: every tool, its man page and share/ land under
# DESTDIR+PREFIX, the installed tools run from there, and uninstall removes them.
load helpers/common
bats_require_minimum_version 1.5.0

setup() {
	DEST=$(mktemp -d "$BATS_TMPDIR/install.XXXXXX")
}

teardown() {
	rm -rf "$DEST"
}

# The tools this tree builds: every C tool in cmd/ and every shell tool.
tools() {
	for f in "$ROOT"/cmd/*.c "$ROOT"/cmd/*.sh; do
		[ -e "$f" ] || continue
		n=$(basename "$f")
		n=${n%.*}
		[ "$n" = tool ] || echo "$n"
	done
}

install_tree() {
	make -s -C "$ROOT" install DESTDIR="$DEST" PREFIX=/opt/pt BIN="$BIN"
}

@test "install: every tool, with a man page, mode 755" {
	run install_tree
	assert_success
	n=0
	for t in $(tools); do
		[ -x "$DEST/opt/pt/bin/$t" ] || fail "tool $t not installed"
		[ "$(stat -c %a "$DEST/opt/pt/bin/$t")" = 755 ] || fail "tool $t not mode 755"
		[ -f "$DEST/opt/pt/share/man/man1/$t.1" ] || fail "tool $t has no man page"
		n=$((n + 1))
	done
	[ "$n" -ge 2 ]
	[ -f "$DEST/opt/pt/share/phala-tools/intel-sgx-root-ca.pem" ]
}

@test "install: the installed tools run from their new place" {
	install_tree
	run "$DEST/opt/pt/bin/tdx-quote-extract" --what app-id "$DATA/phala-info.json"
	assert_success
	assert_output 944edab771280ede410e7b9e66fcaee6b2c4a12c
	run "$DEST/opt/pt/bin/tdx-rtmr-replay" --help
	assert_success
	assert_output --partial 'usage: tdx-rtmr-replay'
}

@test "install: shell tools point at the installed share directory, not the source tree" {
	install_tree
	for t in $(tools); do
		[ -f "$ROOT/cmd/$t.sh" ] || continue
		run grep -F "$ROOT" "$DEST/opt/pt/bin/$t"
		assert_failure
		run grep -F '@DATADIR@' "$DEST/opt/pt/bin/$t"
		assert_failure
	done
}

@test "uninstall: removes what install put there" {
	install_tree
	run make -s -C "$ROOT" uninstall DESTDIR="$DEST" PREFIX=/opt/pt BIN="$BIN"
	assert_success
	run find "$DEST" -type f
	assert_output ''
}

@test "every tool of the suite answers --version and --help alike and says one line for an unknown option (exit 2)" {
	version=$(cat "$ROOT/VERSION")
	n=0
	for t in $(tools); do
		run --separate-stderr "$BIN/$t" --version
		assert_success
		assert_output "$t (phala-tools) $version"
		run --separate-stderr "$BIN/$t" --help
		assert_success
		[ -z "$stderr" ] || fail "$t --help wrote to stderr"
		assert_line --index 0 --partial "usage: $t"
		run --separate-stderr "$BIN/$t" --bogus
		assert_failure 2
		[ -z "$output" ] || fail "$t --bogus wrote to stdout"
		[ "$stderr" = "$t: --bogus: unknown option (see '$t --help')" ] || fail "$t --bogus: $stderr"
		n=$((n + 1))
	done
	[ "$n" -ge 8 ]
	# A missing value and a value given to a flag, also one line each.
	run --separate-stderr "$BIN/phala-proxy" --port
	assert_failure 2
	[ "$stderr" = "phala-proxy: --port: needs a value (see 'phala-proxy --help')" ]
	run --separate-stderr "$BIN/tdx-quote-extract" --json=yes
	assert_failure 2
	[ "$stderr" = "tdx-quote-extract: --json: takes no value (see 'tdx-quote-extract --help')" ]
	run --separate-stderr "$BIN/tdx-dcap-verify" -z
	assert_failure 2
	[ "$stderr" = "tdx-dcap-verify: -z: unknown option (see 'tdx-dcap-verify --help')" ]
}

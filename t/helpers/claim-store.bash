# claim-store.bash: one set of claim tests for both stores. The store is
# $STORE (dir, the default, or pg); a suite reached through a name ending in
# -pg.bats (t/phala-claim-pg.bats, a symlink) runs on pg. On pg, the file's
# tests share one PostgreSQL server (t/helpers/pg-server.sh), each test in a
# schema of its own; without the server binaries every test is skipped with
# the reason.
# shellcheck shell=bash

claim_store_kind() {
	case ${STORE:-} in
	dir | pg) echo "$STORE" ;;
	'') case $BATS_TEST_FILENAME in *-pg.bats) echo pg ;; *) echo dir ;; esac ;;
	*) echo "STORE: dir or pg, not '$STORE'" >&2; return 2 ;;
	esac
}

# In setup_file.
claim_store_setup_file() {
	STORE=$(claim_store_kind) || return 2
	export STORE
	[ "$STORE" = pg ] || return 0
	# Outside the bats directory, which the server's user cannot enter.
	PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/phala-claim-pg.XXXXXX") || return 1
	export PG_DIR
	rc=0
	sh "$ROOT/t/helpers/pg-server.sh" start "$PG_DIR" > /dev/null 2> "$BATS_FILE_TMPDIR/pg.err" || rc=$?
	if [ "$rc" -eq 77 ]; then
		PG_SKIP=$(tail -n 1 "$BATS_FILE_TMPDIR/pg.err")
		export PG_SKIP
	elif [ "$rc" -ne 0 ]; then
		cat "$BATS_FILE_TMPDIR/pg.err" >&2
		return 1
	fi
}

# In teardown_file.
claim_store_teardown_file() {
	[ "$STORE" = pg ] || return 0
	sh "$ROOT/t/helpers/pg-server.sh" stop "$PG_DIR"
	rm -rf "$PG_DIR"
}

# In setup, once D (the claims directory of the test) is set: PC, a command
# that is phala-claim on this test's store (for `sh -c` scripts too), and
# LOOKUP_DIR, the store argument of the helpers ("-": the configured store).
claim_store_setup() {
	unset PHALA_CLAIMS_URL PHALA_CLAIMS_SCHEMA PHALA_CLAIM_LOCK_TOKEN
	PC=$BATS_TEST_TMPDIR/phala-claim-on-store
	if [ "$STORE" = pg ]; then
		[ -z "${PG_SKIP:-}" ] || skip "PostgreSQL tests skipped: $PG_SKIP"
		PHALA_CLAIMS_URL=$(cat "$PG_DIR/url")
		PHALA_CLAIMS_SCHEMA=t_$BATS_TEST_NUMBER
		XDG_STATE_HOME=$BATS_TEST_TMPDIR/state
		export PHALA_CLAIMS_URL PHALA_CLAIMS_SCHEMA XDG_STATE_HOME
		LOOKUP_DIR=-
		printf '#!/bin/sh\nexec "%s" "$@"\n' "$BIN/phala-claim" > "$PC"
	else
		LOOKUP_DIR=$D
		printf '#!/bin/sh\nexec "%s" --dir "%s" "$@"\n' "$BIN/phala-claim" "$D" > "$PC"
	fi
	chmod 755 "$PC"
	export PC LOOKUP_DIR
}

# The setup of a claim test: in its own directory, D its claims directory
# (state/claims), no lock inherited, no user config of the machine's, the
# store set up.
claim_test_setup() {
	cd "$BATS_TEST_TMPDIR" || return 1
	unset PHALA_LEASE_CONFIG
	XDG_CONFIG_HOME=$BATS_TEST_TMPDIR/config
	export XDG_CONFIG_HOME
	mkdir -m 700 state
	D=$BATS_TEST_TMPDIR/state/claims
	export D
	unset PHALA_CLAIMS_DIR PHALA_CLAIM_LOCK_LEASE PHALA_CLAIM_LOCK_FD
	claim_store_setup
}

# dir_only WHY: the test is about the directory store's files.
dir_only() {
	[ "$STORE" = dir ] || skip "directory store only: $1"
}

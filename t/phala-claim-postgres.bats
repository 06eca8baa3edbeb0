#!/usr/bin/env bats
# phala-claim on PostgreSQL, what only that store has: how it is chosen, its
# faults (exit 5, no fall-back), the password kept out of argv and logs, the
# server releasing a killed holder's lock, schemas that never block each
# other, schema versions, two "machines" on one database, export/import both
# ways, TLS with verify-full. The rules both stores share are
# t/phala-claim.bats, run on PostgreSQL as t/phala-claim-pg.bats.
# The sh -c scripts expand their own "$1" (SC2016 is intended).
# shellcheck disable=SC2016

load helpers/common
load helpers/claim-store
bats_require_minimum_version 1.5.0

APP=944edab771280ede410e7b9e66fcaee6b2c4a12c

setup_file() {
	STORE=pg claim_store_setup_file
}
teardown_file() { claim_store_teardown_file; }

setup() {
	claim_test_setup
	PW=$(cat "$PG_DIR/password")
	PORT=$(cat "$PG_DIR/port")
}

C() { "$PC" "$@"; }

# Q SQL: one statement as the server's owner (the password through the
# environment, as libpq allows).
Q() { PGPASSWORD=$PW psql -X -q -t -A -h 127.0.0.1 -p "$PORT" -U phala -d postgres -v ON_ERROR_STOP=1 -c "$1"; }

@test "the store: PHALA_CLAIMS_URL, else the user config's claims_url; never a project file; --dir is the directory" {
	C create l1 state=ready > /dev/null
	run "$BIN/phala-claim" --dir "$D" list
	assert_success
	assert_output ""
	[ ! -e "$D/l1.json" ]
	url=$PHALA_CLAIMS_URL
	unset PHALA_CLAIMS_URL
	# no configuration: the directory store, where l1 is not
	run "$BIN/phala-claim" get l1 state
	assert_failure 1
	# a project-local file cannot choose the store
	printf 'claims_url = %s\n' "$url" > .phala-lease.conf
	run "$BIN/phala-claim" get l1 state
	assert_failure 1
	assert_output "phala-claim: l1: no claim"
	# the user config can
	mkdir -p config/phala-lease
	printf '# the fleet ledger\nttl = 2h\nclaims_url = %s\n' "$url" > config/phala-lease/config
	run "$BIN/phala-claim" get l1 state
	assert_success
	assert_output ready
	# an explicit config file is the only one read
	printf 'ttl = 1h\n' > other.conf
	run env PHALA_LEASE_CONFIG="$BATS_TEST_TMPDIR/other.conf" "$BIN/phala-claim" get l1 state
	assert_failure 1
}

@test "faults: unreachable or refused is exit 5 with the reason, never a fall-back to the directory, nothing written" {
	run env PHALA_CLAIMS_URL="postgresql://phala:$PW@127.0.0.1:1/postgres" "$BIN/phala-claim" create l1 state=ready
	assert_failure 5
	assert_output --regexp '^phala-claim: PostgreSQL: cannot connect to the claims database: connection to server at "127.0.0.1", port 1 failed: Connection refused'
	refute_output --partial "$PW"
	run env PHALA_CLAIMS_URL="postgresql://phala:wrong-$PW@127.0.0.1:$PORT/postgres" "$BIN/phala-claim" list
	assert_failure 5
	assert_output --partial 'password authentication failed for user "phala"'
	refute_output --partial "$PW"
	run env PHALA_CLAIMS_URL="postgresql://phala:$PW@127.0.0.1:$PORT/nosuchdb" "$BIN/phala-claim" get l1
	assert_failure 5
	assert_output --partial 'database "nosuchdb" does not exist'
	[ ! -e "$D" ]
	[ ! -e state/phala-lease/claims ]
	run C get l1
	assert_failure 1
	run env PHALA_CLAIMS_SCHEMA='x; drop' "$BIN/phala-claim" list
	assert_failure 2
	assert_output --partial "PHALA_CLAIMS_SCHEMA: expected"
}

@test "the connection lost mid-operation: exit 5 with the reason, the claim as it was" {
	C create l1 state=ready n=1 > /dev/null
	"$PC" lock l1 -- sh -c 'touch held; sleep 4' &
	holder=$!
	while [ ! -e held ]; do sleep 0.05; done
	( if "$PC" set l1 n=2 > waiter.out 2>&1; then echo 0; else echo $?; fi > waiter.rc ) &
	waiter=$!
	# the waiter's backend, waiting for the advisory lock, is cut off
	for _ in $(seq 50); do
		[ "$(Q "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND application_name = 'phala-claim'")" = 1 ] && break
		sleep 0.1
	done
	Q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND application_name = 'phala-claim'" > /dev/null
	wait "$waiter"
	[ "$(cat waiter.rc)" = 5 ]
	run cat waiter.out
	assert_output --regexp '^phala-claim: PostgreSQL: connection lost \(lock\): '
	wait "$holder"
	run C get l1 n
	assert_output 1
	# the holder's own connection cut: the server released its lock, so the
	# child, no longer under it, takes the lock itself and writes
	run C lock l1 -- sh -c '
		PGPASSWORD=$2 psql -X -q -t -A -h 127.0.0.1 -p "$3" -U phala -d postgres -c \
			"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '"'"'phala-claim'"'"'" > /dev/null
		"$1" set l1 n=3' sh "$PC" "$PW" "$PORT"
	assert_success
	run C get l1 n
	assert_output 3
}

@test "the password is never on an argv, in a claim, an export or the server log" {
	C create l1 state=ready > /dev/null
	C lock l1 -- sh -c 'ps -eo args > ps.out; "$1" set l1 state=releasing > /dev/null; "$1" export > export.out' sh "$PC"
	grep -q 'phala-claim' ps.out
	run grep -c -- "$PW" ps.out export.out "$PG_DIR/log/server.log"
	assert_output "ps.out:0
export.out:0
$PG_DIR/log/server.log:0"
	grep -q '"state":"releasing"' export.out
	run Q "SELECT count(*) FROM t_$BATS_TEST_NUMBER.claims WHERE claim LIKE '%$PW%' OR machine_name LIKE '%$PW%'"
	assert_output 0
}

@test "SIGKILL of a lock holder: the server releases the lock, the claim is intact, a second writer finishes" {
	C create l1 state=releasing app_id=$APP > /dev/null
	"$PC" lock l1 -- sh -c 'echo $$ > child; touch held; exec sleep 30' &
	holder=$!
	while [ ! -e held ]; do sleep 0.05; done
	run timeout 1 "$PC" set l1 state=ready
	assert_failure 124 # the lock is held
	kill -9 "$holder"
	wait "$holder" || true
	run timeout 10 "$PC" rm l1 --if-revision "$(C get l1 revision)"
	assert_success
	run C get l1
	assert_failure 1
	kill "$(cat child)" # CMD, orphaned, would hold nothing
}

@test "two schemas never block each other; one schema's lease does" {
	C create l1 > /dev/null
	PHALA_CLAIMS_SCHEMA=other_$BATS_TEST_NUMBER C create l1 > /dev/null
	"$PC" lock l1 -- sh -c 'touch held; sleep 3' &
	holder=$!
	while [ ! -e held ]; do sleep 0.05; done
	run env PHALA_CLAIMS_SCHEMA="other_$BATS_TEST_NUMBER" timeout 2 "$PC" set l1 n=1
	assert_success
	run timeout 1 "$PC" set l2x n=1
	assert_failure 1 # another lease: not blocked (and no claim)
	run timeout 1 "$PC" set l1 n=1
	assert_failure 124
	wait "$holder"
}

@test "schema versions: made on first use; a newer one refused; an older one migrated in a transaction" {
	C list > /dev/null
	run Q "SELECT version FROM t_$BATS_TEST_NUMBER.meta"
	assert_output 1
	Q "UPDATE t_$BATS_TEST_NUMBER.meta SET version = 99"
	run C list
	assert_failure 3
	assert_output "phala-claim: PostgreSQL: schema t_$BATS_TEST_NUMBER is at version 99, newer than this phala-claim knows (1); upgrade phala-tools"
	# version 0 (no tables yet): migrated
	Q "DROP TABLE t_$BATS_TEST_NUMBER.claims, t_$BATS_TEST_NUMBER.handdown; UPDATE t_$BATS_TEST_NUMBER.meta SET version = 0"
	run C create l1 state=ready
	assert_success
	run Q "SELECT version FROM t_$BATS_TEST_NUMBER.meta"
	assert_output 1
	# a failed migration leaves nothing half-made
	Q "DROP TABLE t_$BATS_TEST_NUMBER.claims, t_$BATS_TEST_NUMBER.handdown; UPDATE t_$BATS_TEST_NUMBER.meta SET version = 0; CREATE TABLE t_$BATS_TEST_NUMBER.handdown (x int)"
	run C list
	assert_failure 5
	assert_output --partial 'migrate schema'
	run Q "SELECT version, to_regclass('t_$BATS_TEST_NUMBER.claims') IS NULL FROM t_$BATS_TEST_NUMBER.meta"
	assert_output "0|t"
}

@test "two machines, one database, 50 processes: no lost update, one winner per race, each claim names its machine" {
	mkdir -m 700 m1 m2
	C create shared n=0 > /dev/null
	rev=$(C get shared revision)
	for i in $(seq 50); do
		m=m$((i % 2 + 1))
		( if XDG_STATE_HOME=$BATS_TEST_TMPDIR/$m C set shared --if-revision "$rev" n="$i" > /dev/null 2> "err.$i"; then echo 0; else echo $?; fi > "rc.$i" ) &
	done
	wait
	[ "$(cat rc.* | grep -c '^0$')" -eq 1 ]
	[ "$(cat rc.* | grep -c '^1$')" -eq 49 ]
	C set shared n=0 > /dev/null
	for i in $(seq 50); do
		m=m$((i % 2 + 1))
		(
			export XDG_STATE_HOME=$BATS_TEST_TMPDIR/$m
			C create "p$i" seq=0 > /dev/null
			for k in 1 2; do
				r=$(C get "p$i" revision)
				C set "p$i" --if-revision "$r" seq="$k" > /dev/null
			done
			C lock shared -- sh -c 'n=$("$1" get shared n) && "$1" set shared n=$((n + 1))' sh "$PC" > /dev/null
			C list > /dev/null
		) 2> "stderr.$i" &
	done
	for job in $(jobs -p); do wait "$job"; done
	run cat stderr.*
	assert_output ""
	[ "$(C get shared n)" = 50 ]
	[ "$(C list | wc -l)" = 51 ]
	run Q "SELECT count(DISTINCT machine_id), min(seq), max(seq) FROM (SELECT machine_id, (claim::json->>'seq')::int AS seq FROM t_$BATS_TEST_NUMBER.claims WHERE lease_id LIKE 'p%') x"
	assert_output "2|2|2"
	run Q "SELECT machine_id FROM t_$BATS_TEST_NUMBER.claims WHERE lease_id = 'p1'"
	assert_output "$(cat m2/phala-lease/machine-id)"
	run Q "SELECT machine_name FROM t_$BATS_TEST_NUMBER.claims WHERE lease_id = 'p1'"
	assert_output "$(hostname)"
}

@test "export and import, both ways: revisions kept, each claim created under its lock, nothing overwritten" {
	"$BIN/phala-claim" --dir "$D" create a1 app_id=$APP slug=one keep=true created_at=5 > /dev/null
	"$BIN/phala-claim" --dir "$D" create b2 state=ready gateway_port=8443 > /dev/null
	"$BIN/phala-claim" --dir "$D" export > dir.jsonl
	[ "$(wc -l < dir.jsonl)" = 2 ]
	run C import dir.jsonl
	assert_success
	assert_output "2 imported, 0 already present"
	C export > pg.jsonl
	cmp dir.jsonl pg.jsonl
	run C find slug=one
	assert_output --regexp '^a1	'
	# again, after a change: nothing overwritten, exit 1
	C set b2 state=releasing > /dev/null
	changed=$(C get b2 revision)
	run C import < dir.jsonl
	assert_failure 1
	assert_output "phala-claim: not imported: a1: claim exists
phala-claim: not imported: b2: claim exists
0 imported, 2 already present"
	[ "$(C get b2 revision)" = "$changed" ]
	# back into an empty directory store
	C export > pg2.jsonl
	run "$BIN/phala-claim" --dir "$BATS_TEST_TMPDIR/back" import pg2.jsonl
	assert_success
	"$BIN/phala-claim" --dir "$BATS_TEST_TMPDIR/back" export > back.jsonl
	cmp pg2.jsonl back.jsonl
	# a bad line imports nothing
	{ head -n 1 dir.jsonl | sed 's/a1/c3/g'; echo '{"version":1,"lease_id":"x"}'; } > bad.jsonl
	run C import bad.jsonl
	assert_failure 3
	assert_output --partial 'line 2: missing member "revision"'
	run C get c3
	assert_failure 1
}

@test "TLS: sslmode=verify-full against the test CA works; another CA or a wrong host name is refused (exit 5)" {
	url="postgresql://phala:$PW@127.0.0.1:$PORT/postgres"
	run env PHALA_CLAIMS_URL="$url?sslmode=verify-full&sslrootcert=$PG_DIR/ca.crt" "$BIN/phala-claim" create l1
	assert_success
	run env PHALA_CLAIMS_URL="postgresql://phala:$PW@localhost:$PORT/postgres?sslmode=verify-full&sslrootcert=$PG_DIR/ca.crt" "$BIN/phala-claim" get l1 lease_id
	assert_success
	assert_output l1
	# the sessions were TLS
	grep -q 'application_name=phala-claim SSL enabled' "$PG_DIR/log/server.log"
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=other-ca -keyout other.key -out other.crt 2> /dev/null
	run env PHALA_CLAIMS_URL="$url?sslmode=verify-full&sslrootcert=$BATS_TEST_TMPDIR/other.crt" "$BIN/phala-claim" get l1
	assert_failure 5
	assert_output --partial "certificate verify failed"
	# a key=value connection string, the password from libpq's PGPASSWORD
	run env PHALA_CLAIMS_URL="host=127.0.0.1 port=$PORT dbname=postgres user=phala sslmode=verify-full sslrootcert=$PG_DIR/ca.crt" PGPASSWORD="$PW" "$BIN/phala-claim" get l1 lease_id
	assert_success
	assert_output l1
	# a host name the certificate does not name
	run env PHALA_CLAIMS_URL="host=wrong.example hostaddr=127.0.0.1 port=$PORT dbname=postgres user=phala sslmode=verify-full sslrootcert=$PG_DIR/ca.crt" PGPASSWORD="$PW" "$BIN/phala-claim" get l1
	assert_failure 5
	assert_output --partial 'does not match host name "wrong.example"' 
}

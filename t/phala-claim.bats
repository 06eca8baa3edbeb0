#!/usr/bin/env bats
# phala-claim: the ownership ledger - round trips, compare-and-swap, locks,
# bad input, corrupt files, concurrency, crash safety and a full disk. Runs on
# the directory store, and through t/phala-claim-pg.bats on PostgreSQL
# (t/helpers/claim-store.bash).
# The sh -c scripts given to `lock` expand their own "$1" (SC2016 is intended).
# shellcheck disable=SC2016

load helpers/common
load helpers/claim-store
bats_require_minimum_version 1.5.0

APP=944edab771280ede410e7b9e66fcaee6b2c4a12c

setup_file() { claim_store_setup_file; }
teardown_file() { claim_store_teardown_file; }

setup() { claim_test_setup; }

C() { "$PC" "$@"; }

# snapshot: every path under the test directory with its content hash, so a
# test can prove that nothing outside the claims directory changed.
snapshot() {
	find "$BATS_TEST_TMPDIR" -path "$D" -prune -o -print | LC_ALL=C sort | while read -r p; do
		if [ -f "$p" ] && [ ! -L "$p" ]; then
			printf '%s %s\n' "$p" "$(sha256sum < "$p")"
		else
			printf '%s %s\n' "$p" "$(stat -c %F "$p")"
		fi
	done
}

@test "create, get, set, rm: a round trip" {
	run C create 0a1b2c3d4e5f state=creating keep=false created_at=1764000000 expires_at=1764001800 \
		name=lease-0a1b2c3d4e5f slug=my-box
	assert_success
	assert_output --regexp '^[0-9a-f]{32}$'
	rev1=$output
	run C get 0a1b2c3d4e5f
	assert_success
	assert_output "lease_id=0a1b2c3d4e5f
revision=$rev1
created_at=1764000000
expires_at=1764001800
keep=false
name=lease-0a1b2c3d4e5f
slug=my-box
state=creating"
	run C set 0a1b2c3d4e5f app_id=$APP state=provisioning
	assert_success
	refute_output "$rev1"
	run C get 0a1b2c3d4e5f state
	assert_output provisioning
	run C get 0a1b2c3d4e5f keep
	assert_output false
	run C rm 0a1b2c3d4e5f
	assert_success
	assert_output ""
	run C get 0a1b2c3d4e5f
	assert_failure 1
	assert_output "phala-claim: 0a1b2c3d4e5f: no claim"
}

@test "files: directory 0700, claim 0600, one line of JSON in the documented format" {
	dir_only "modes and bytes of the claim files"
	C create l1 app_id=$APP keep=true created_at=5 gateway_port=8443 owner="Jo Doe" > /dev/null
	run stat -c %a "$D" "$D/l1.json"
	assert_output "700
600"
	run cat "$D/l1.json"
	assert_output --regexp '^\{"version":1,"lease_id":"l1","revision":"[0-9a-f]{32}","app_id":"'$APP'","created_at":5,"gateway_port":8443,"keep":true,"owner":"Jo Doe"\}$'
}

@test "--json: get, get FIELD, list, find, rm, create shapes" {
	rev=$(C create l1 keep=true app_id=$APP)
	run C --json get l1
	assert_success
	assert_output "{\"ok\":true,\"version\":1,\"lease_id\":\"l1\",\"revision\":\"$rev\",\"app_id\":\"$APP\",\"keep\":true}"
	run C get l1 keep --json
	assert_output "{\"ok\":true,\"version\":1,\"lease_id\":\"l1\",\"revision\":\"$rev\",\"keep\":true}"
	run C --json list
	assert_output "{\"claims\":[{\"version\":1,\"lease_id\":\"l1\",\"revision\":\"$rev\",\"app_id\":\"$APP\",\"keep\":true}],\"skipped\":[],\"ok\":true}"
	run C --json find slug=none
	assert_failure 1
	assert_output '{"claims":[],"skipped":[],"ok":false,"step":"find","exit":1,"error":"no claim has a field slug with that value"}'
	run C --json create l2
	assert_output --regexp '^\{"ok":true,"version":1,"lease_id":"l2","revision":"[0-9a-f]{32}"\}$'
	run C --json rm l2
	assert_output '{"ok":true,"lease_id":"l2","removed":true}'
	# "ok" is the tool's: no claim may have such a field
	run C set l1 ok=yes
	assert_failure 2
	assert_output --partial 'ok: is maintained by phala-claim and cannot be set'
}

@test "exit 1: create of an existing claim, get/set/rm of an absent one, an absent field" {
	C create l1 > /dev/null
	run C create l1 state=ready
	assert_failure 1
	assert_output "phala-claim: l1: claim exists"
	run C get l1 state
	assert_failure 1
	assert_output "phala-claim: l1: no field state"
	run C set nope state=ready
	assert_failure 1
	assert_output "phala-claim: nope: no claim"
	if [ "$STORE" = dir ]; then
		run "$BIN/phala-claim" --dir "$BATS_TEST_TMPDIR/absent" set nope state=ready
		assert_failure 1
		assert_output --partial "nope: no claim"
		run "$BIN/phala-claim" --dir "$BATS_TEST_TMPDIR/absent" rm nope
		assert_failure 1
		[ ! -e "$BATS_TEST_TMPDIR/absent" ]
	fi
	run C rm nope
	assert_failure 1
	run C get nope app_id
	assert_failure 1
	run C get l1 state
	assert_failure 1
}

@test "set KEY= removes a field; other fields survive every write" {
	C create l1 keep=true gateway_host=abc-22.dstack.example created_at=7 > /dev/null
	C set l1 state=ready > /dev/null
	C set l1 gateway_host= > /dev/null
	run C get l1
	assert_output --partial "keep=true"
	assert_output --partial "created_at=7"
	refute_output --partial "gateway_host"
}

@test "compare-and-swap: a stale revision is refused with the conflict message, nothing written" {
	rev=$(C create l1 state=creating)
	rev2=$(C set l1 --if-revision "$rev" state=provisioning)
	before=$(C --json get l1)
	run C set l1 --if-revision "$rev" state=ready
	assert_failure 1
	assert_output "phala-claim: l1: claim changed; retry (revision is $rev2, not $rev)"
	[ "$(C --json get l1)" = "$before" ]
	run C rm l1 --if-revision "$rev"
	assert_failure 1
	assert_output --partial "claim changed; retry"
	[ "$(C --json get l1)" = "$before" ]
	run C rm l1 --if-revision "$rev2"
	assert_success
	run C set l1 --if-revision "$rev2" state=ready
	assert_failure 1
	assert_output "phala-claim: l1: claim changed; retry (claim was removed)"
	run C set l1 --if-revision nothex state=ready
	assert_failure 2
}

@test "a removed and recreated claim does not match an old revision (no ABA)" {
	rev=$(C create l1)
	C rm l1
	C create l1 > /dev/null
	run C set l1 --if-revision "$rev" state=ready
	assert_failure 1
	assert_output --partial "claim changed; retry"
}

@test "find: by app id (any case), slug, gateway host, vm uuid; exit 1 on no match" {
	C create l1 app_id=$APP slug=alpha gateway_host=$APP-22.dstack-prod5.phala.network > /dev/null
	C create l2 app_id=0000000000000000000000000000000000000001 slug=beta vm_uuid=4b0e8a52-7c1d-4e9f-9a3b-2d6c5e8f1a07 > /dev/null
	run C find app_id=944EDAB771280EDE410E7B9E66FCAEE6B2C4A12C
	assert_success
	assert_output "l1	-	alpha	$APP	$APP-22.dstack-prod5.phala.network	-"
	run C find slug=beta
	assert_output --regexp '^l2	'
	run C find gateway_host=$APP-22.dstack-prod5.phala.network
	assert_output --regexp '^l1	'
	run C find vm_uuid=4B0E8A52-7C1D-4E9F-9A3B-2D6C5E8F1A07
	assert_output --regexp '^l2	'
	run C find lease_id=l2
	assert_output --regexp '^l2	'
	run C find slug=gamma
	assert_failure 1
	assert_output ""
	run C find app_id=xyz
	assert_failure 2
	assert_output --partial "app_id: expected 40 hex digits"
	run C find noequals
	assert_failure 2
	run C find owner=
	assert_failure 1
	run C find lease_id=
	assert_failure 1
	run C find Bad-Key=x
	assert_failure 2
	assert_output --partial "invalid field name"
}

@test "list: sorted, one line each; an absent directory is an empty list" {
	run C list
	assert_success
	assert_output ""
	[ "$STORE" = pg ] || [ ! -e "$D" ]
	C create b2 state=ready > /dev/null
	C create a1 app_id=$APP expires_at=99 > /dev/null
	run C list
	assert_output "a1	-	-	$APP	-	99
b2	ready	-	-	-	-"
}

@test "directory: --dir, then PHALA_CLAIMS_DIR, then XDG_STATE_HOME, then HOME" {
	dir_only "where the directory is"
	run env PHALA_CLAIMS_DIR="$BATS_TEST_TMPDIR/env" "$BIN/phala-claim" create e1
	assert_success
	[ -f "$BATS_TEST_TMPDIR/env/e1.json" ]
	run env -u PHALA_CLAIMS_DIR XDG_STATE_HOME="$BATS_TEST_TMPDIR/xdg" "$BIN/phala-claim" create x1
	assert_success
	[ -f "$BATS_TEST_TMPDIR/xdg/phala-lease/claims/x1.json" ]
	[ "$(stat -c %a "$BATS_TEST_TMPDIR/xdg/phala-lease")" = 700 ]
	run env -u PHALA_CLAIMS_DIR -u XDG_STATE_HOME HOME="$BATS_TEST_TMPDIR/home" "$BIN/phala-claim" create h1
	assert_success
	[ -f "$BATS_TEST_TMPDIR/home/.local/state/phala-lease/claims/h1.json" ]
	run env PHALA_CLAIMS_DIR="$BATS_TEST_TMPDIR/env" "$PC" create d1
	[ -f "$D/d1.json" ]
	[ ! -e "$BATS_TEST_TMPDIR/env/d1.json" ]
}

@test "bad lease ids: path traversal, slash, leading dash, upper case, too long - exit 2, nothing created" {
	C create ok > /dev/null
	before=$(snapshot)
	long=$(printf 'a%.0s' $(seq 65))
	for id in ../evil ../../etc/x a/b .. . -x '' UPPER "$long" 'a b' 'a.json' $'a\nb'; do
		run C create "$id" state=ready
		assert_failure 2
		assert_output --partial "invalid lease id"
		run C set "$id" state=ready
		assert_failure 2
		run C get "$id"
		assert_failure 2
		run C rm "$id"
		assert_failure 2
		run C lock "$id" -- true
		assert_failure 2
	done
	[ "$(snapshot)" = "$before" ]
	[ "$(C list | cut -f 1)" = ok ]
	[ "$STORE" = pg ] && return
	run ls -A "$D"
	assert_output ".index
.ok.lock
ok.json"
}

@test "bad values: over-long, non-hex app id, non-integer timestamps, bad enums, control characters - exit 2" {
	C create l1 state=creating > /dev/null
	before=$(C --json get l1)
	long=$(head -c 4097 /dev/zero | tr '\0' x)
	run C set l1 note="$long"
	assert_failure 2
	assert_output "phala-claim: note: value too long (4097 bytes, at most 4096)"
	run C set l1 note="$(head -c 4096 /dev/zero | tr '\0' x)"
	assert_success
	before=$(C --json get l1)
	run C set l1 app_id=944edab771280ede410e7b9e66fcaee6b2c4a12g
	assert_failure 2
	assert_output "phala-claim: app_id: expected 40 hex digits (a bare app id, no app_ or 0x prefix)"
	run C set l1 app_id=app_$APP
	assert_failure 2
	run C set l1 app_id=${APP}00
	assert_failure 2
	run C set l1 expires_at=soon
	assert_failure 2
	assert_output --partial "expires_at: expected a non-negative decimal integer"
	run C set l1 created_at=-5
	assert_failure 2
	run C set l1 created_at=1.5
	assert_failure 2
	run C set l1 created_at=99999999999999999999999
	assert_failure 2
	run C set l1 keep=yes
	assert_failure 2
	run C set l1 state=running
	assert_failure 2
	run C set l1 gateway_port=0
	assert_failure 2
	run C set l1 gateway_host=bad_host.example
	assert_failure 2
	run C set l1 slug=../x
	assert_failure 2
	run C set l1 name=ab
	assert_failure 2
	run C set l1 key_dir=relative/path
	assert_failure 2
	run C set l1 note=$'two\nlines'
	assert_failure 2
	assert_output --partial "control characters"
	run C set l1 revision=0
	assert_failure 2
	assert_output --partial "cannot be set"
	run C set l1 lease_id=other
	assert_failure 2
	run C set l1 Bad-Key=1
	assert_failure 2
	run C set l1 novalue
	assert_failure 2
	[ "$(C --json get l1)" = "$before" ]
	run C create l2 app_id=nothex
	assert_failure 2
	run C get l2
	assert_failure 1
}

@test "a symlinked claim file is refused (exit 3) and its target never touched" {
	dir_only "symbolic links among the claim files"
	echo '{"precious":true}' > target.json
	before=$(snapshot)
	mkdir -m 700 "$D"
	ln -s "$BATS_TEST_TMPDIR/target.json" "$D/l1.json"
	run C get l1
	assert_failure 3
	assert_output "phala-claim: $D/l1.json: refusing a claim file that is a symbolic link"
	run C set l1 state=ready
	assert_failure 3
	run C rm l1
	assert_failure 3
	run C create l1
	assert_failure 3
	assert_output --partial "exists and is not a claim file"
	run C list
	assert_success
	assert_output --partial "skipping l1.json: refusing a claim file that is a symbolic link"
	[ -L "$D/l1.json" ]
	[ "$(snapshot)" = "$before" ]
}

@test "a symlinked, foreign-mode or non-directory claims directory is refused (exit 3)" {
	dir_only "an unsafe claims directory"
	mkdir -m 700 real
	ln -s real link
	run "$BIN/phala-claim" --dir link create l1
	assert_failure 3
	assert_output "phala-claim: claims directory link is a symbolic link"
	run "$BIN/phala-claim" --dir link/ list
	assert_failure 3
	[ -z "$(ls -A real)" ]
	mkdir -m 777 open
	run "$BIN/phala-claim" --dir open create l1
	assert_failure 3
	assert_output "phala-claim: claims directory open is writable by group or others (mode 777)"
	mkdir group && chmod 770 group
	run "$BIN/phala-claim" --dir group get l1
	assert_failure 3
	[ -z "$(ls -A open)" ]
	[ -z "$(ls -A group)" ]
	touch afile
	run "$BIN/phala-claim" --dir afile create l1
	assert_failure 3
	assert_output --partial "is not a directory"
}

@test "a claims directory owned by another user is refused" {
	dir_only "an unsafe claims directory"
	[ "$(id -u)" -eq 0 ] || skip "needs root to chown"
	mkdir -m 700 theirs
	chown 65534 theirs
	run "$BIN/phala-claim" --dir theirs list
	assert_failure 3
	assert_output --partial "is not owned by uid 0"
}

@test "invalid JSON on disk: that claim is refused (exit 3), never overwritten; the others keep working" {
	dir_only "a corrupt claim file"
	C create good state=ready > /dev/null
	C create bad state=ready > /dev/null
	printf '{"version":1,"lease_id":"bad",' > "$D/bad.json"
	run C get bad
	assert_failure 3
	assert_output "phala-claim: $D/bad.json: corrupt claim: invalid JSON"
	run C set bad state=releasing
	assert_failure 3
	run C rm bad
	assert_failure 3
	run C create bad
	assert_failure 1
	[ "$(cat "$D/bad.json")" = '{"version":1,"lease_id":"bad",' ]
	run C list
	assert_success
	assert_output --partial "phala-claim: skipping bad.json: corrupt claim: invalid JSON"
	assert_output --partial "good	ready"
	run C get good state
	assert_output ready
}

@test "corrupt and foreign files: each reported by list and find, skipped, left alone" {
	dir_only "corrupt and foreign files"
	C create good app_id=$APP owner=me > /dev/null
	mkdir -p "$D/subdir"
	printf '[]' > "$D/array.json"
	printf '{"version":2,"lease_id":"v2","revision":"00000000000000000000000000000000"}' > "$D/v2.json"
	printf '{"version":1,"lease_id":"other","revision":"00000000000000000000000000000000"}' > "$D/misfiled.json"
	printf '{"version":1,"lease_id":"typ","revision":"00000000000000000000000000000000","created_at":"5"}' > "$D/typ.json"
	printf '{"version":1,"lease_id":"dup","revision":"00000000000000000000000000000000","keep":true,"keep":false}' > "$D/dup.json"
	printf '{"version":1,"lease_id":"hex","revision":"00000000000000000000000000000000","app_id":"XYZ"}' > "$D/hex.json"
	head -c 70000 /dev/zero | tr '\0' ' ' > "$D/big.json"
	echo notes > "$D/README"
	mkfifo "$D/fifo.json"
	ls -l "$D" > before
	run C list
	assert_success
	assert_output --partial "skipping array.json: corrupt claim: not a JSON object"
	assert_output --partial "skipping v2.json: corrupt claim: version: expected 1"
	assert_output --partial "skipping misfiled.json: corrupt claim: lease_id \"other\" differs from the file name"
	assert_output --partial "skipping typ.json: corrupt claim: created_at: expected a number, found a string"
	assert_output --partial "skipping dup.json: corrupt claim: keep: duplicate member"
	assert_output --partial "skipping hex.json: corrupt claim: app_id: expected 40 hex digits"
	assert_output --partial "skipping big.json: corrupt claim: larger than 65536 bytes"
	assert_output --partial "skipping README: not a claim file name"
	assert_output --partial "skipping subdir: not a claim file name"
	assert_output --partial "skipping fifo.json: not a regular file"
	assert_output --partial "good	-	-	$APP"
	run C --json find owner=me
	assert_success
	assert_output --partial '"claims":[{"version":1,"lease_id":"good"'
	assert_output --partial '{"file":"typ.json","error":"corrupt claim: created_at: expected a number, found a string"}'
	ls -l "$D" > after
	diff before after
}

@test "index: lookups by app id, slug, vm uuid, name, gateway host follow every write and removal" {
	dir_only "the index files"
	C create l1 app_id=$APP slug=one name=lease-l1 > /dev/null
	[ -f "$D/.index/v1" ]
	[ -f "$D/.index/app_id/$APP/l1" ]
	run C find slug=one
	assert_output --regexp '^l1	'
	C set l1 slug=uno app_id=0000000000000000000000000000000000000002 > /dev/null
	run C find slug=one
	assert_failure 1
	run C find app_id=$APP
	assert_failure 1
	[ ! -e "$D/.index/app_id/$APP" ]
	run C find slug=uno
	assert_output --regexp '^l1	'
	C create l2 slug=uno > /dev/null
	run C find slug=uno
	assert_output --regexp '^l1	.*
l2	'
	C rm l1
	run C find slug=uno
	assert_output --regexp '^l2	'
	[ ! -e "$D/.index/app_id/0000000000000000000000000000000000000002" ]
	[ ! -e "$D/.index/name/lease-l1" ]
}

@test "index is a hint: stale entries are ignored, a corrupt candidate is reported, a claim store without it is scanned then indexed" {
	dir_only "the index files"
	C create l1 app_id=$APP > /dev/null
	# a stale entry (as a crash between the entry and the claim write leaves)
	mkdir -p "$D/.index/app_id/0000000000000000000000000000000000000009"
	touch "$D/.index/app_id/0000000000000000000000000000000000000009/l1" "$D/.index/app_id/$APP/nosuch" "$D/.index/app_id/$APP/Bad..name"
	run C find app_id=0000000000000000000000000000000000000009
	assert_failure 1
	assert_output ""
	run C find app_id=$APP
	assert_success
	assert_output --regexp '^l1	'
	# the indexed claim turns corrupt: the lookup reports it
	printf 'garbage' > "$D/l1.json"
	run C find app_id=$APP
	assert_failure 1
	assert_output "phala-claim: skipping l1.json: corrupt claim: invalid JSON"
	# a store written without the index (older files): scanned, and indexed on the next write
	rm -rf "$D/.index" "$D/l1.json"
	printf '{"version":1,"lease_id":"old","revision":"00000000000000000000000000000000","app_id":"%s"}\n' $APP > "$D/old.json"
	run C find app_id=$APP
	assert_output --regexp '^old	'
	[ ! -e "$D/.index" ]
	C create new > /dev/null
	[ -f "$D/.index/v1" ]
	[ -f "$D/.index/app_id/$APP/old" ]
	run C find app_id=$APP
	assert_output --regexp '^old	'
}

@test "resolve order for phala-proxy: app id, then lease id, then slug; ambiguity is exit 2" {
	C create l1 app_id=$APP slug=box gateway_host=h1.example > /dev/null
	C create box slug=other gateway_host=h2.example > /dev/null
	run "$HELPERS/claim-lookup" "$LOOKUP_DIR" $APP 1
	assert_output --regexp '^l1 h1.example [0-9.]+$'
	run "$HELPERS/claim-lookup" "$LOOKUP_DIR" box 1
	assert_output --regexp '^box h2.example '
	run "$HELPERS/claim-lookup" "$LOOKUP_DIR" other 1
	assert_output --regexp '^box h2.example '
	C create l3 slug=box > /dev/null
	run "$HELPERS/claim-lookup" "$LOOKUP_DIR" box 1
	assert_output --regexp '^box h2.example '
	C set box slug=dup > /dev/null
	C set l3 slug=dup > /dev/null
	C rm l1 > /dev/null
	run "$HELPERS/claim-lookup" "$LOOKUP_DIR" dup 1
	assert_failure 2
	assert_output "claim-lookup: dup: ambiguous: 2 claims have slug=dup"
	run "$HELPERS/claim-lookup" "$LOOKUP_DIR" $APP 1
	assert_failure 1
}

@test "lock: runs CMD with the lock, passes its status, hands the lock down" {
	C create l1 state=ready > /dev/null
	run C lock l1 -- sh -c 'echo "$PHALA_CLAIM_LOCK_LEASE"; exit 7'
	assert_failure 7
	assert_output l1
	# CMD reads, checks and removes the claim under the held lock: no deadlock.
	run timeout 20 "$PC" lock l1 -- sh -c '
		[ "$("$1" get l1 state)" = ready ] || exit 9
		"$1" set l1 state=releasing >/dev/null && "$1" rm l1' sh "$PC"
	assert_success
	run C get l1
	assert_failure 1
	run -127 C lock l1 -- /nonexistent/cmd
	assert_output "phala-claim: cannot run /nonexistent/cmd: No such file or directory"
	run C lock l1 true
	assert_failure 2
	run C lock l1 --
	assert_failure 2
}

@test "lock: a second writer waits for the held lock; the lock survives only as long as CMD" {
	C create l1 seq=0 > /dev/null
	C lock l1 -- sh -c 'touch held; sleep 2; "$1" set l1 seq=1 >/dev/null' sh "$PC" &
	lockpid=$!
	while [ ! -e held ]; do sleep 0.05; done
	# this writer must wait for the lock, so it runs after seq=1
	run C set l1 seq=2
	assert_success
	wait "$lockpid"
	run C get l1 seq
	assert_output 2
}

@test "lock: released when CMD is killed, whatever happens to it" {
	C create l1 > /dev/null
	run C lock l1 -- sh -c 'kill -9 $$'
	assert_failure 137
	run timeout 10 "$PC" set l1 state=ready
	assert_success
	# a background child of CMD keeping the descriptor does not keep the lock
	run C lock l1 -- sh -c 'sleep 5 > /dev/null 2>&1 & exit 0'
	assert_success
	run timeout 10 "$PC" set l1 state=releasing
	assert_success
}

@test "lock: SIGTERM to phala-claim reaches CMD; its status comes back and the lock is free" {
	C create l1 > /dev/null
	"$PC" lock l1 -- sh -c 'trap "exit 3" TERM; touch ready; while [ ! -e stop ]; do sleep 0.1; done' &
	lockpid=$!
	while [ ! -e ready ]; do sleep 0.05; done
	(sleep 20; touch stop) > /dev/null 2>&1 3>&- & # ends CMD should the signal be lost
	watchdog=$!
	kill -TERM "$lockpid"
	status=0
	wait "$lockpid" || status=$?
	kill "$watchdog"
	[ "$status" -eq 3 ]
	run timeout 10 "$PC" set l1 state=ready
	assert_success
}

@test "lock: signals the caller ignores stay ignored, by phala-claim and by CMD (a non-cancellable section)" {
	C create l1 > /dev/null
	(
		trap '' HUP INT TERM
		exec "$PC" lock l1 -- sh -c 'echo $$ > child; while [ ! -e stop ]; do sleep 0.1; done; echo finished'
	) > out &
	lockpid=$!
	while [ ! -s child ]; do sleep 0.05; done
	(sleep 20; touch stop) > /dev/null 2>&1 3>&- & # ends CMD should it survive unnoticed
	watchdog=$!
	for sig in HUP INT TERM; do
		kill "-$sig" "$lockpid" "$(cat child)"
	done
	sleep 0.5
	kill -0 "$lockpid" # both alive
	kill -0 "$(cat child)"
	touch stop
	status=0
	wait "$lockpid" || status=$?
	kill "$watchdog"
	[ "$status" -eq 0 ]
	[ "$(cat out)" = finished ]
}

@test "lock hand-down is checked: a descriptor of another lease's lock file does not bypass the lock" {
	C create l1 seq=0 > /dev/null
	C create l2 > /dev/null
	C lock l1 -- sh -c 'touch held; sleep 2; "$1" set l1 seq=1 >/dev/null' sh "$PC" &
	lockpid=$!
	while [ ! -e held ]; do sleep 0.05; done
	# The environment names l1 but the descriptor is l2's lock file (pg: a
	# token not handed down): not the held lock, so this writer waits for
	# l1's lock and writes last.
	if [ "$STORE" = pg ]; then
		PHALA_CLAIM_LOCK_LEASE=l1 PHALA_CLAIM_LOCK_TOKEN=0123456789abcdef0123456789abcdef C set l1 seq=9 > /dev/null
	else
		PHALA_CLAIM_LOCK_LEASE=l1 PHALA_CLAIM_LOCK_FD=5 C set l1 seq=9 5< "$D/.l2.lock" > /dev/null
	fi
	wait "$lockpid"
	run C get l1 seq
	assert_output 9
}

@test "50 concurrent processes: no claim lost, none torn, every CAS loser told so" {
	C create shared n=0 > /dev/null
	rev=$(C get shared revision)
	# 50 writers race one compare-and-swap on the same revision: exactly one wins.
	for i in $(seq 50); do
		( if C set shared --if-revision "$rev" n="$i" > "out.$i" 2> "err.$i"; then echo 0; else echo $?; fi > "rc.$i" ) &
	done
	wait
	[ "$(cat rc.* | grep -c '^0$')" -eq 1 ]
	[ "$(cat rc.* | grep -c '^1$')" -eq 49 ]
	for i in $(seq 50); do
		if [ "$(cat "rc.$i")" = 1 ]; then
			grep -q "^phala-claim: shared: claim changed; retry (revision is [0-9a-f]\{32\}, not $rev)$" "err.$i"
		fi
	done
	# 50 processes at once: each creates its own claim, updates it 3 times by
	# compare-and-swap, increments the shared counter by read-then-write under
	# the shared claim's lock (handed down to the inner get and set), and reads
	# the whole directory meanwhile.
	C set shared n=0 > /dev/null
	for i in $(seq 50); do
		(
			C create "p$i" owner="proc $i" seq=0 > /dev/null
			for k in 1 2 3; do
				r=$(C get "p$i" revision)
				C set "p$i" --if-revision "$r" seq="$k" > /dev/null
			done
			C lock shared -- sh -c 'n=$("$1" get shared n) && "$1" set shared n=$((n + 1))' \
				sh "$PC" > /dev/null
			C list > /dev/null
			C get shared n > /dev/null
		) 2> "stderr.$i" &
	done
	for job in $(jobs -p); do wait "$job"; done
	[ "$(C get shared n)" = 50 ]
	[ "$(C list | wc -l)" = 51 ]
	for i in $(seq 50); do
		[ "$(C get "p$i" owner)" = "proc $i" ]
		[ "$(C get "p$i" seq)" = 3 ]
	done
	# no process saw an error, a corrupt or a torn file
	run cat stderr.*
	assert_output ""
	[ "$STORE" = pg ] && return
	run ls -A "$D"
	refute_output --partial ".tmp"
}

@test "crash safety: 200 SIGKILLs at random points of updates leave the old or the new claim" {
	dir_only "claim-crash kills writers of the claim files"
	run "$HELPERS/claim-crash" "$D" crashy 200
	assert_success
	assert_output --regexp '^kills=200 updates=[0-9]+ bad=0 writer_failures=0$'
	run C get crashy seq
	assert_success
	run C list
	assert_success
	refute_output --partial skipping
}

@test "crash safety, negative control: in-place rewrites killed at random are caught as torn" {
	dir_only "claim-crash rewrites the claim files"
	run "$HELPERS/claim-crash" "$D" torn 200 --in-place
	assert_failure 1
	assert_output --regexp 'bad=[1-9][0-9]*'
}

@test "full disk (ulimit -f): the update fails non-zero, the old claim is intact, no temporary file left" {
	dir_only "a full disk under the claim files"
	C create l1 state=creating note=small > /dev/null
	before=$(cat "$D/l1.json")
	big=$(head -c 4000 /dev/zero | tr '\0' y)
	run sh -c 'ulimit -f 1 && exec "$@"' sh "$PC" set l1 state=ready note="$big" n1="$big" n2="$big"
	assert_failure 4
	assert_output --partial "phala-claim: writing $D/l1.json: write failed: File too large"
	[ "$(cat "$D/l1.json")" = "$before" ]
	[ ! -e "$D/.l1.tmp" ]
	run C get l1 state
	assert_output creating
	run sh -c 'ulimit -f 0 && exec "$@"' sh "$PC" create l2 state=creating
	assert_failure 4
	[ ! -e "$D/l2.json" ]
}

@test "--help, usage errors" {
	run "$BIN/phala-claim" --help
	assert_success
	assert_output --partial "lock LEASE -- CMD"
	run "$BIN/phala-claim"
	assert_failure 2
	run "$BIN/phala-claim" frobnicate
	assert_failure 2
	assert_output --partial "unknown command 'frobnicate'"
	run C set l1
	assert_failure 2
	run C get
	assert_failure 2
	run C list extra
	assert_failure 2
	run C get l1 --bogus
	assert_failure 2
	run C get l1 Bad-Field
	assert_failure 2
}

@test "lock files do not pile up: gone once the claim is (rm, a write to no claim, lock around rm)" {
	dir_only "the lock files"
	C create l1 > /dev/null
	[ -e "$D/.l1.lock" ] || [ -e "$D/l1.json" ]
	C rm l1
	run ls -A "$D"
	refute_output --partial ".l1.lock"
	run C set nosuch x=1
	assert_failure 1
	run C lock nosuch -- true
	assert_success
	C create l2 > /dev/null
	C lock l2 -- "$PC" rm l2
	run ls -A "$D"
	assert_output ".index"
}

@test "a lock file removed under the lock still excludes: waiters on the old file start over on the new one, one at a time" {
	dir_only "the lock files"
	C create l1 > /dev/null
	C lock l1 -- sh -c 'touch held; sleep 1; "$1" rm l1' sh "$PC" &
	first=$!
	while [ ! -e held ]; do sleep 0.05; done
	pids=''
	# Three wait on the file that is about to go, three more come after it went.
	for i in 1 2 3; do
		C lock l1 -- sh -c 'echo in >>log; sleep 0.3; echo out >>log' &
		pids="$pids $!"
	done
	wait "$first"
	for i in 1 2 3; do
		C lock l1 -- sh -c 'echo in >>log; sleep 0.3; echo out >>log' &
		pids="$pids $!"
		sleep 0.1
	done
	# shellcheck disable=SC2086 # one pid a word
	wait $pids
	run uniq -c log
	assert_output "$(for i in 1 2 3 4 5 6; do printf '      1 in\n      1 out\n'; done)"
	run ls -A "$D"
	refute_output --partial ".l1.lock"
}

#!/usr/bin/env bats
# phala-lease against a fake `phala` (t/helpers/fake-phala: logs argv,
# replays the documented output shapes of ../shared/notes/phala-samples),
# a fake ssh, and the real claim ledger ($BIN/phala-claim).
# Scenario numbers refer to lease-contract.md §9.

load helpers/common
bats_require_minimum_version 1.5.0

S=$ROOT/t/vectors/phala-lease
APP=3f2a9c4d8e7b6a5f4c3d2e1f0a9b8c7d6e5f4a3b
APP2=1111111111111111111111111111111111111111
VM=4b0e8a52-7c1d-4e9f-9a3b-2d6c5e8f1a07
API=https://cloud-api.phala.com/api/v1

setup() {
	T=$BATS_TEST_TMPDIR
	mkdir -p "$T/fake" "$T/ssh" "$T/home" "$T/work"
	export FAKE_PHALA=$T/fake FAKE_SSH=$T/ssh HOME=$T/home XDG_STATE_HOME=$T/state XDG_CONFIG_HOME=$T/config
	export PHALA_LEASE_PHALA=$ROOT/t/helpers/fake-phala PHALA_LEASE_SSH=$ROOT/t/helpers/fake-ssh
	export PHALA_LEASE_CLAIM=$BIN/phala-claim
	export PATH=$BIN:$PATH PHALA_LEASE_POLL=0 PHALA_LEASE_SEARCH=1 PHALA_LEASE_ABSENCE_TRIES=2
	unset PHALA_CLOUD_API_PREFIX PHALA_LEASE_CONFIG PHALA_LEASE_ATTEST PHALA_LEASE_TTL PHALA_LEASE_COMPOSE
	unset PHALA_LEASE_ALLOWED_IMAGES PHALA_LEASE_PINNED_REGISTERS PHALA_LEASE_ACPI_LIST TDX_MEASURE_IMAGE_URL TDX_MEASURE_CACHE
	# The gate's image fetches never leave this machine: nothing listens there.
	export PHALA_LEASE_IMAGE_URL='http://127.0.0.1:9/mr_{OS_IMAGE_HASH}.tar.gz' PHALA_LEASE_IMAGE_CACHE=$T/image-cache
	CLAIMS=$XDG_STATE_HOME/phala-lease/claims
	ssh-keygen -q -t ed25519 -N '' -f "$T/ssh/hostkey"
	reply version default 0 "$S/version.out"
	reply whoami default 0 "$S/whoami.json"
	cd "$T/work" || return 1
}

# Synthetic OS images for the gate (t/helpers/mk-image.sh, no lite material):
# a, and b (a with another kernel), each with tdx-measure's events at its
# vm-config.json (measure.json); lite.json: the events of the real dstack
# 0.6.0 lite fixture.
setup_file() {
	I=$BATS_FILE_TMPDIR/img
	for x in a:synthetic b:other-kernel; do
		d=$I/${x%%:*}
		sh "$ROOT/t/helpers/mk-image.sh" --kernel synthetic --no-cbor --seed "${x#*:}" "$d" >/dev/null
		"$BIN/tdx-measure" --json --image "$d/image" --vm-config "$d/vm-config.json" --acpi "$d/acpi.json" >"$d/measure.json"
	done
	"$BIN/tdx-measure" --json "$DATA/dstack-tdx-lite-getquote.json" >"$I/lite.json"
}

# The fleet tests' PostgreSQL server (t/helpers/pg-server.sh), started by
# the first test that needs it, outside the bats directory (its user cannot
# enter that), stopped at the end of the file.
teardown_file() {
	[ -f "$BATS_FILE_TMPDIR/pg-dir" ] || return 0
	d=$(cat "$BATS_FILE_TMPDIR/pg-dir")
	sh "$ROOT/t/helpers/pg-server.sh" stop "$d"
	rm -rf "$d"
}
# on_pg: this test's claims in PostgreSQL (a schema of its own), through
# PHALA_CLAIMS_URL; skipped with the reason without the server binaries.
on_pg() {
	if [ ! -f "$BATS_FILE_TMPDIR/pg-dir" ]; then
		d=$(mktemp -d "${TMPDIR:-/tmp}/phala-lease-pg.XXXXXX")
		echo "$d" >"$BATS_FILE_TMPDIR/pg-dir"
		rc=0
		sh "$ROOT/t/helpers/pg-server.sh" start "$d" >/dev/null 2>"$BATS_FILE_TMPDIR/pg.err" || rc=$?
		[ "$rc" -eq 0 ] || [ "$rc" -eq 77 ] || { cat "$BATS_FILE_TMPDIR/pg.err"; return 1; }
	fi
	d=$(cat "$BATS_FILE_TMPDIR/pg-dir")
	[ -f "$d/url" ] || skip "PostgreSQL tests skipped: $(tail -n 1 "$BATS_FILE_TMPDIR/pg.err")"
	PHALA_CLAIMS_URL=$(cat "$d/url") PHALA_CLAIMS_SCHEMA=t_$BATS_TEST_NUMBER
	export PHALA_CLAIMS_URL PHALA_CLAIMS_SCHEMA
}

L() { "$BIN/phala-lease" "$@"; }
claim() { "$PHALA_LEASE_CLAIM" "$@"; }

# reply KEY WHICH RC [STDOUT_FILE [STDERR_FILE]]: the fake's answer to the
# WHICH-th call (or "default") with key KEY (whoami, deploy, api, cvms-get, ...).
reply() {
	mkdir -p "$FAKE_PHALA/$1"
	echo "$3" >"$FAKE_PHALA/$1/$2.rc"
	if [ -n "${4:-}" ]; then cp "$4" "$FAKE_PHALA/$1/$2.out"; fi
	if [ -n "${5:-}" ]; then cp "$5" "$FAKE_PHALA/$1/$2.err"; fi
}
reply_text() { # KEY WHICH RC TEXT (stdout)
	printf '%s' "$4" >"$T/reply.txt"
	reply "$1" "$2" "$3" "$T/reply.txt"
}
calls() { if [ -f "$FAKE_PHALA/log" ]; then wc -l <"$FAKE_PHALA/log"; else echo 0; fi; }
log_has() { grep -q -- "$1" "$FAKE_PHALA/log"; }
reset_log() { rm -f "$FAKE_PHALA/log" "$FAKE_PHALA"/*.count; }

# A cvms get answer (sample 03, 2026-01-21 shape) for NAME APP VM [STATUS].
get_json() {
	sed -e "s/\"tdx-lease-01\"/\"$1\"/" -e "s/$APP/$2/g" -e "s/$VM/$3/" -e "s/\"running\"/\"${4:-running}\"/" \
		"$S/get.json"
}
# A claim as acquire leaves it: LEASE [KEY=VALUE overrides...].
mkclaim() {
	l=$1; shift
	now=$(date +%s)
	mkdir -p "$XDG_STATE_HOME/phala-lease/leases/$l"
	claim create "$l" name="tdxlease-$l" state=ready keep=false created_at="$now" ttl_secs=5400 idle_secs=1800 \
		last_touched_at="$now" expires_at=$((now + 1800)) scope_api="$API" scope_workspace=my-team scope_node= \
		app_id="$APP" vm_uuid="$VM" gateway_host="$APP-22.dstack-pha-prod7.phala.network" gateway_port=443 \
		key_dir="$XDG_STATE_HOME/phala-lease/leases/$l" known_hosts="$XDG_STATE_HOME/phala-lease/leases/$l/known_hosts" \
		attested=true >/dev/null
	[ $# -eq 0 ] || claim set "$l" "$@" >/dev/null
}
has_claim() { claim get "$1" lease_id >/dev/null 2>&1; }
absent_404() { reply api default 1 "$S/api-404.txt"; }

# Acquire answers up to ready: deploy (sample 01), get running.
acquire_answers() {
	sed 's/tdx-lease-01/@NAME@/' "$S/deploy.out" >"$T/deploy.out"
	reply deploy 1 0 "$T/deploy.out"
	sed 's/"tdx-lease-01"/"@NAME@"/' "$S/get.json" >"$T/get-running.json"
	reply cvms-get default 0 "$T/get-running.json"
}
leases() { claim --json list | "$BIN/phala-json" items - claims lease_id; }
only_claim() { leases | head -n 1; }
nclaims() { leases | wc -l; }

# assert_rolled_back_once TEXT FILE RC: the signalled acquire exited RC
# (128 + the signal), FILE (its stderr or the CLI log) mentions TEXT, exactly
# one delete, no claim left.
assert_rolled_back_once() {
	[ "$acq_rc" = "$3" ] || { cat "$T/err"; echo "rc=$acq_rc"; false; }
	grep -q "$1" "$2"
	[ "$(grep -c '^cvms delete' "$FAKE_PHALA/log")" = 1 ]
	[ "$(nclaims)" = 0 ]
}

# acquire_signalled SIGNAL KEY [group]: runs acquire --no-attest in the
# background in its own process group (job control: SIGINT at its default,
# as at a terminal), sends SIGNAL once the fake got its first KEY call (to
# the whole group with "group"), and sets acq_rc to acquire's exit status.
acquire_signalled() {
	set -m
	"$BIN/phala-lease" acquire --no-attest >"$T/out" 2>"$T/err" &
	pid=$!
	set +m
	for _ in $(seq 100); do [ -f "$FAKE_PHALA/$2.count" ] && break; sleep 0.1; done
	if [ "${3:-}" = group ]; then sleep 0.3; kill "-$1" -- "-$pid"; else kill "-$1" "$pid"; fi
	acq_rc=0
	wait "$pid" || acq_rc=$?
}

# ---- deploy (scenarios 1-8, 27, S5, S7) ----------------------------------

@test "1,3,27: acquire deploys with the exact argv from an empty scratch dir and records app_id and vm_uuid" {
	acquire_answers
	run L acquire --no-attest --ttl 30m
	assert_success
	assert_line --regexp "^lease=[0-9a-f]{12} app_id=$APP host=$APP-22.dstack-pha-prod7.phala.network port=443\$"
	l=$(only_claim)
	dep=$(grep '^deploy ' "$FAKE_PHALA/log")
	kd=$XDG_STATE_HOME/phala-lease/leases/$l
	[ "$dep" = "deploy --json -n tdxlease-$l -c $kd/docker-compose.yml -t tdx.small --dev-os --ssh-pubkey $kd/id_ed25519.pub" ]
	run grep -E -- '--api-key|--api-token|--cvm-id|--debug|--wait' "$FAKE_PHALA/log"
	assert_failure
	run sort -u "$FAKE_PHALA/cwd"
	assert_output empty
	[ "$(claim get "$l" app_id)" = "$APP" ]
	[ "$(claim get "$l" vm_uuid)" = "$VM" ]
	[ "$(claim get "$l" state)" = ready ]
	[ "$(claim get "$l" ttl_secs)" = 1800 ]
	[ -n "$(claim get "$l" expires_at)" ]
	[ "$(stat -c %a "$kd")" = 700 ]
	[ "$(stat -c %a "$kd/id_ed25519")" = 600 ]
}

@test "1: -t and --node reach deploy argv; a non-numeric node is exit 2 with no CLI call" {
	acquire_answers
	run L --node 12 acquire --no-attest -t tdx.medium
	assert_success
	run grep '^deploy ' "$FAKE_PHALA/log"
	assert_output --partial " -t tdx.medium --dev-os --ssh-pubkey "
	assert_output --regexp -- "--node-id 12\$"
	reset_log
	run L --node abc acquire --no-attest
	assert_failure 2
	assert_output --partial "node 'abc': must be numeric"
	[ "$(calls)" = 0 ]
}

@test "2: a configured compose is passed as given (absolute); the default is written 0600 with a digest-pinned image" {
	acquire_answers
	printf 'services: {}\n' >my.yml
	run L acquire --no-attest -c my.yml
	assert_success
	run grep '^deploy ' "$FAKE_PHALA/log"
	assert_output --partial " -c $T/work/my.yml "
	rm -f "$FAKE_PHALA"/*.count
	run L acquire --no-attest
	assert_success
	l=$(sed -n 's/.*-n tdxlease-\([0-9a-f]*\) .*/\1/p' "$FAKE_PHALA/log" | tail -n 1)
	f=$XDG_STATE_HOME/phala-lease/leases/$l/docker-compose.yml
	[ "$(stat -c %a "$f")" = 600 ]
	grep -E 'image: [^ ]+@sha256:[0-9a-f]{64}$' "$f"
}

@test "4,S4: non-JSON deploy stdout after the progress line, then one exact-name list match: that appId is adopted" {
	printf 'Provisioning CVM @NAME@...\nsomething odd\n' >"$T/dep"
	reply deploy 1 0 "$T/dep"
	sed -e 's/tdx-lease-01/@NAME@/' "$S/list.json" >"$T/list"
	reply cvms-list default 0 "$T/list"
	sed 's/"tdx-lease-01"/"@NAME@"/' "$S/get.json" >"$T/get"
	reply cvms-get default 0 "$T/get"
	run L acquire --no-attest
	assert_success
	assert_output --partial "app_id=$APP"
	l=$(only_claim)
	[ "$(claim get "$l" app_id)" = "$APP" ]
	[ "$(claim get "$l" vm_uuid)" = "$VM" ]
	grep -q -- "cvms list --search tdxlease-$l --page 1 --page-size 100 --json" "$FAKE_PHALA/log"
}

@test "6,S4: Unknown API error after the progress line: name search, none found => ambiguous-create claim, key kept" {
	printf 'Provisioning CVM @NAME@...\n' >"$T/dep"
	printf '{\n  "success": false,\n  "error": "Unknown API error"\n}\n' >"$T/err"
	reply deploy 1 1 "$T/dep" "$T/err"
	reply_text cvms-list default 0 '{"success":true,"page":1,"pageSize":100,"total":0,"totalPages":0,"items":[]}'
	run L acquire --no-attest
	assert_failure 1
	assert_output --partial "recovery=ambiguous-create"
	l=$(only_claim)
	[ "$(claim get "$l" recovery)" = ambiguous-create ]
	[ -z "$(claim get "$l" app_id)" ]
	[ -f "$XDG_STATE_HOME/phala-lease/leases/$l/id_ed25519" ]
	log_has "cvms list --search tdxlease-$l"
	run grep -c "^cvms delete" "$FAKE_PHALA/log"
	assert_output 0
}

@test "7,S5: a definitive deploy error (no progress line) is exactly one deploy call: no search, no claim, no key" {
	reply deploy 1 1 "" "$S/deploy-api-error.err"
	run L acquire --no-attest
	assert_failure 1
	assert_output --partial "No available resources match your requirements (nothing was sent; nothing created)"
	[ "$(grep -c . "$FAKE_PHALA/log")" = 3 ] # --version, whoami, deploy
	[ "$(grep -c '^deploy ' "$FAKE_PHALA/log")" = 1 ]
	[ "$(nclaims)" = 0 ]
	[ -z "$(ls "$XDG_STATE_HOME/phala-lease/leases")" ]
}

@test "8: deploy JSON with name != N(L) or without app_id is never deleted; the name search decides" {
	sed 's/tdx-lease-01/someone-else/' "$S/deploy.out" >"$T/dep"
	reply deploy 1 0 "$T/dep"
	reply_text cvms-list default 0 '{"success":true,"page":1,"pageSize":100,"total":0,"totalPages":0,"items":[]}'
	run L acquire --no-attest
	assert_failure 1
	assert_output --partial "not trusted"
	run grep -c -E "^cvms (get|delete)" "$FAKE_PHALA/log"
	assert_output 0
	l=$(only_claim)
	[ "$(claim get "$l" recovery)" = ambiguous-create ]
	# success:false on stdout with rc 0
	rm -rf "$CLAIMS" "$FAKE_PHALA"/*.count "$FAKE_PHALA/log"
	printf 'Provisioning CVM @NAME@...\n{"success":false,"error":"x"}\n' >"$T/dep"
	reply deploy 1 0 "$T/dep"
	run L acquire --no-attest
	assert_failure 1
	run grep -c -E "^cvms (get|delete)" "$FAKE_PHALA/log"
	assert_output 0
}

@test "S1,51: a failure after create (status error) is exactly one gated delete with confirmed absence; no claim left" {
	acquire_answers
	sed 's/"tdx-lease-01"/"@NAME@"/; s/"running"/"error"/' "$S/get.json" >"$T/get-err"
	reply cvms-get 1 0 "$T/get-err"
	reply cvms-get 2 0 "$T/get-err"
	reply cvms-delete 1 0 "$S/delete.json"
	absent_404
	run L acquire --no-attest
	assert_failure 1
	assert_output --partial "CVM status error; rolled back"
	[ "$(grep -c '^cvms delete' "$FAKE_PHALA/log")" = 1 ]
	log_has "^cvms delete app_$APP --force --json\$"
	log_has "^api -i /cvms/app_$APP\$"
	[ "$(nclaims)" = 0 ]
	[ -z "$(ls "$XDG_STATE_HOME/phala-lease/leases")" ]
}

@test "S2: a rollback whose delete fails keeps a rollback-cleanup claim with the app_id and the key" {
	acquire_answers
	sed 's/"tdx-lease-01"/"@NAME@"/; s/"running"/"stopped"/' "$S/get.json" >"$T/get-st"
	reply cvms-get default 0 "$T/get-st"
	printf '{\n  "success": false,\n  "error": "Unknown API error"\n}\n' >"$T/derr"
	reply cvms-delete 1 1 "$T/derr"
	run L acquire --no-attest
	assert_failure 1
	assert_output --partial "CVM status stopped; rollback failed"
	assert_output --partial "Unknown API error"
	l=$(only_claim)
	[ "$(claim get "$l" recovery)" = rollback-cleanup ]
	[ "$(claim get "$l" app_id)" = "$APP" ]
	[ -f "$XDG_STATE_HOME/phala-lease/leases/$l/id_ed25519" ]
}

@test "S3: --keep and a non-attestation failure: no delete, kept-after-failure, refused for use" {
	acquire_answers
	touch "$FAKE_SSH/fail"
	PHALA_LEASE_SSH_TRIES=2 run L acquire --no-attest --keep
	assert_failure 1
	assert_output --partial "kept-after-failure"
	run grep -c '^cvms delete' "$FAKE_PHALA/log"
	assert_output 0
	l=$(only_claim)
	[ "$(claim get "$l" recovery)" = kept-after-failure ]
	[ "$(claim get "$l" keep)" = true ]
	run L ssh "$l" true
	assert_failure 4
	assert_output --partial "recovery=kept-after-failure; not usable"
}

@test "5, interrupts: SIGTERM mid-deploy => the deploy result is classified, the CVM destroyed through the gate, no claim left" {
	acquire_answers
	echo 2 >"$FAKE_PHALA/deploy/1.sleep"
	reply cvms-delete 1 0 "$S/delete.json"
	absent_404
	acquire_signalled TERM deploy
	assert_rolled_back_once "interrupted; rolled back" "$T/err" 143
}

@test "5: SIGINT while the CLI is killed (rc 0, empty stdout) still runs the name search and rolls back what it finds" {
	printf 'Provisioning CVM @NAME@...\n' >"$T/dep"
	reply deploy 1 0 "$T/dep"
	echo 2 >"$FAKE_PHALA/deploy/1.sleep"
	sed -e 's/tdx-lease-01/@NAME@/' "$S/list.json" >"$T/list"
	reply cvms-list default 0 "$T/list"
	sed 's/"tdx-lease-01"/"@NAME@"/' "$S/get.json" >"$T/get"
	reply cvms-get default 0 "$T/get"
	reply cvms-delete 1 0 "$S/delete.json"
	absent_404
	acquire_signalled INT deploy
	assert_rolled_back_once "cvms list --search" "$FAKE_PHALA/log" 130
}

@test "8.2: SIGKILL mid-deploy leaves the intent claim (state creating, full lifetime fields) for the sweep" {
	acquire_answers
	echo 3 >"$FAKE_PHALA/deploy/1.sleep"
	acquire_signalled KILL deploy
	l=$(only_claim)
	[ "$(claim get "$l" state)" = creating ]
	for k in created_at expires_at ttl_secs idle_secs keep last_touched_at; do [ -n "$(claim get "$l" "$k")" ]; done
	sleep 3
}

# ---- release safety (scenarios 29-40, D1-D8, T1, T2) -------------------------

@test "31,D1: release without a claim is exit 4 with zero CLI calls" {
	run L release 0123456789ab
	assert_failure 4
	assert_output "phala-lease: no local claim for lease 0123456789ab"
	[ "$(calls)" = 0 ]
}

@test "32,D2: a claim pointing to another app id is exit 4 with zero CLI calls" {
	mkclaim aaaaaaaaaaaa
	run L release --app-id "$APP2" aaaaaaaaaaaa
	assert_failure 4
	assert_output "phala-lease: claim for aaaaaaaaaaaa points to $APP"
	[ "$(calls)" = 0 ]
	has_claim aaaaaaaaaaaa
}

@test "39,T2,13.10: happy path: get -> delete --force --json -> 404 absence; claim, key and lock file removed; a second release is exit 4, as documented" {
	mkclaim aaaaaaaaaaaa
	get_json tdxlease-aaaaaaaaaaaa "$APP" "$VM" >"$T/get"
	reply cvms-get 1 0 "$T/get"
	reply cvms-delete 1 0 "$S/delete.json"
	absent_404
	run L release aaaaaaaaaaaa
	assert_success
	assert_output "destroy app_id=$APP lease=aaaaaaaaaaaa reason=release"
	run cat "$FAKE_PHALA/log"
	assert_output "whoami --json
cvms get app_$APP --json
cvms delete app_$APP --force --json
api -i /cvms/app_$APP"
	run ! has_claim aaaaaaaaaaaa
	[ ! -e "$XDG_STATE_HOME/phala-lease/leases/aaaaaaaaaaaa" ]
	run ls -A "$CLAIMS"
	refute_output --partial ".aaaaaaaaaaaa.lock"
	run L release aaaaaaaaaaaa
	assert_failure 4
	assert_output "phala-lease: no local claim for lease aaaaaaaaaaaa"
	tr '\n' ' ' <"$ROOT/doc/phala-lease.1" | grep -q 'a second release of the same lease is exit 4'
}

@test "29,D5: get returns a foreign name: refused, exit 4, only whoami and the get are called, claim kept" {
	mkclaim aaaaaaaaaaaa
	get_json production-db "$APP" "$VM" >"$T/get"
	reply cvms-get 1 0 "$T/get"
	run L release aaaaaaaaaaaa
	assert_failure 4
	assert_output --partial "is named 'production-db', not tdxlease-aaaaaaaaaaaa; refused, no delete"
	[ "$(calls)" = 2 ]
	log_has "^cvms get app_$APP --json\$"
	has_claim aaaaaaaaaaaa
}

@test "30,47: get returns another lease's name (app-id reuse): refused, no delete, claim kept" {
	mkclaim aaaaaaaaaaaa
	get_json tdxlease-bbbbbbbbbbbb "$APP" "$VM" >"$T/get"
	reply cvms-get 1 0 "$T/get"
	run L release aaaaaaaaaaaa
	assert_failure 4
	run grep -c '^cvms delete' "$FAKE_PHALA/log"
	assert_output 0
	has_claim aaaaaaaaaaaa
}

@test "D6: a vm_uuid different from the claim's is refused, no delete" {
	mkclaim aaaaaaaaaaaa
	get_json tdxlease-aaaaaaaaaaaa "$APP" 99999999-7c1d-4e9f-9a3b-2d6c5e8f1a07 >"$T/get"
	reply cvms-get 1 0 "$T/get"
	run L release aaaaaaaaaaaa
	assert_failure 4
	assert_output --partial "has vm_uuid 99999999-7c1d-4e9f-9a3b-2d6c5e8f1a07, claim says $VM"
	[ "$(calls)" = 2 ]
	has_claim aaaaaaaaaaaa
}

@test "33,D3: a claim without app id and one exact-name match proceeds (id recorded first)" {
	mkclaim aaaaaaaaaaaa app_id= vm_uuid= state=creating recovery=ambiguous-create
	sed 's/tdx-lease-01/tdxlease-aaaaaaaaaaaa/' "$S/list.json" >"$T/list"
	reply cvms-list 1 0 "$T/list"
	get_json tdxlease-aaaaaaaaaaaa "$APP" "$VM" >"$T/get"
	reply cvms-get 1 0 "$T/get"
	reply cvms-delete 1 0 "$S/delete.json"
	absent_404
	run L release aaaaaaaaaaaa
	assert_success
	log_has "^cvms list --search tdxlease-aaaaaaaaaaaa --page 1 --page-size 100 --json\$"
	log_has "^cvms delete app_$APP --force --json\$"
	run ! has_claim aaaaaaaaaaaa
}

@test "D3: a claim without app id: two name matches are refused (exit 4); none without proof of absence is exit 5; claim kept" {
	mkclaim aaaaaaaaaaaa app_id= vm_uuid= state=creating created_at=1000
	reply_text cvms-list 1 0 '{"success":true,"page":1,"pageSize":100,"total":0,"totalPages":0,"items":[]}'
	reply api default 0 "$S/api-200.txt"
	run L release aaaaaaaaaaaa
	assert_failure 5
	assert_output --partial "no CVM named tdxlease-aaaaaaaaaaaa is listed, but the API does not answer 404 for the name; absence not proven, claim kept"
	reply_text cvms-list 2 0 "{\"success\":true,\"page\":1,\"pageSize\":100,\"total\":2,\"totalPages\":1,\"items\":[{\"appId\":\"$APP\",\"cvmName\":\"tdxlease-aaaaaaaaaaaa\"},{\"appId\":\"$APP2\",\"cvmName\":\"tdxlease-aaaaaaaaaaaa\"}]}"
	run L release aaaaaaaaaaaa
	assert_failure 4
	assert_output --partial "2 CVMs named"
	run grep -c '^cvms \(get\|delete\)' "$FAKE_PHALA/log"
	assert_output 0
	has_claim aaaaaaaaaaaa
}

@test "34,38: get says 'CVM not found' and the API answers 404: no delete, exit 0, claim and key removed" {
	mkclaim aaaaaaaaaaaa
	reply cvms-get 1 1 "$S/get-not-found.json"
	absent_404
	run L release aaaaaaaaaaaa
	assert_success
	assert_output "removed claim lease=aaaaaaaaaaaa app_id=$APP reason=absent"
	run grep -c '^cvms delete' "$FAKE_PHALA/log"
	assert_output 0
	run ! has_claim aaaaaaaaaaaa
	[ ! -e "$XDG_STATE_HOME/phala-lease/leases/aaaaaaaaaaaa" ]
}

@test "12 (notes 8.12): 'CVM not found' without a 404 from the API is not absence: claim kept" {
	mkclaim aaaaaaaaaaaa
	reply cvms-get 1 1 "$S/get-not-found.json"
	reply api default 0 "$S/api-200.txt"
	run L release aaaaaaaaaaaa
	assert_failure 1
	assert_output --partial "but no HTTP 404 to prove absence; claim kept"
	has_claim aaaaaaaaaaaa
}

@test "35,38: transient texts are never absence: claim kept, no delete, no 404 probe" {
	mkclaim aaaaaaaaaaaa
	n=0
	for msg in "gateway endpoint not found (upstream route unavailable)" "organization does not exist" \
		"gateway host unreachable" "Unknown API error" "CVM not found: dns lookup failed"; do
		n=$((n + 1))
		reply_text cvms-get "$n" 1 "{\"success\":false,\"error\":\"$msg\"}"
		run L release aaaaaaaaaaaa
		assert_failure 1
		assert_output --partial "$msg; claim kept"
		has_claim aaaaaaaaaaaa
	done
	run grep -c -E '^(cvms delete|api )' "$FAKE_PHALA/log"
	assert_output 0
}

@test "38: a missing CLI binary is never absence: exit 4 with how to install it, claim kept" {
	mkclaim aaaaaaaaaaaa
	PHALA_LEASE_PHALA=$T/no-such-phala run L release aaaaaaaaaaaa
	assert_failure 4
	assert_output --partial "is not installed or not executable"
	has_claim aaaaaaaaaaaa
}

@test "36,D4: rc 0 with empty stdout from get is exit 5, claim kept, one get call" {
	mkclaim aaaaaaaaaaaa
	reply cvms-get 1 0
	run L release aaaaaaaaaaaa
	assert_failure 5
	assert_output --partial "exit 0 without a success:true JSON object; claim kept"
	[ "$(grep -c '^cvms ' "$FAKE_PHALA/log")" = 1 ]
	has_claim aaaaaaaaaaaa
}

@test "40,D7: delete rc 0 with empty stdout (a SIGTERM'd CLI) is exit 5; claim kept at releasing" {
	mkclaim aaaaaaaaaaaa
	get_json tdxlease-aaaaaaaaaaaa "$APP" "$VM" >"$T/get"
	reply cvms-get 1 0 "$T/get"
	reply cvms-delete 1 0
	run L release aaaaaaaaaaaa
	assert_failure 5
	assert_output --partial "exit 0 without success:true; claim kept at releasing"
	[ "$(claim get aaaaaaaaaaaa state)" = releasing ]
	run grep -c '^api ' "$FAKE_PHALA/log"
	assert_output 0
}

@test "D7: delete success:true without deleted:true is not done" {
	mkclaim aaaaaaaaaaaa
	get_json tdxlease-aaaaaaaaaaaa "$APP" "$VM" >"$T/get"
	reply cvms-get 1 0 "$T/get"
	reply_text cvms-delete 1 0 '{"success":true,"cvm":"tdxlease-aaaaaaaaaaaa"}'
	run L release aaaaaaaaaaaa
	assert_failure 5
	assert_output --partial "lacks deleted:true"
	has_claim aaaaaaaaaaaa
}

@test "D8: a done delete without proof of absence keeps the claim at releasing; a later release finishes" {
	mkclaim aaaaaaaaaaaa
	get_json tdxlease-aaaaaaaaaaaa "$APP" "$VM" >"$T/get"
	reply cvms-get 1 0 "$T/get"
	reply cvms-delete 1 0 "$S/delete.json"
	reply api default 0 "$S/api-200.txt"
	run L release aaaaaaaaaaaa
	assert_failure 5
	assert_output --partial "absence is not confirmed; claim kept at releasing"
	[ "$(claim get aaaaaaaaaaaa state)" = releasing ]
	[ "$(grep -c '^api -i' "$FAKE_PHALA/log")" = 2 ]
	reply cvms-get 2 1 "$S/get-not-found.json"
	absent_404
	run L release aaaaaaaaaaaa
	assert_success
	run ! has_claim aaaaaaaaaaaa
}

@test "37: release of a claim whose CVM is not listed goes straight to the get/absence check" {
	mkclaim aaaaaaaaaaaa
	reply cvms-get 1 1 "$S/get-not-found.json"
	absent_404
	run L release aaaaaaaaaaaa
	assert_success
	run grep -c '^cvms list' "$FAKE_PHALA/log"
	assert_output 0
}

@test "O5,49: a claim from another account scope is refused by release and never touched" {
	mkclaim aaaaaaaaaaaa scope_workspace=other-team
	run L release aaaaaaaaaaaa
	assert_failure 4
	assert_output --partial "in this scope"
	[ "$(calls)" = 1 ] # whoami only
	has_claim aaaaaaaaaaaa
}

@test "D9: release's CLI child runs in its own session (a terminal interrupt cannot reach it)" {
	mkclaim aaaaaaaaaaaa
	cat >"$T/phala" <<'SH'
#!/bin/sh
if [ "$1" = whoami ]; then cat "$FAKE_PHALA/../who"; exit 0; fi
echo "$$ $(ps -o sid= -p $$) $(ps -o sid= -p $PPID)" >>"$FAKE_PHALA/sids"
echo '{"success":false,"error":"Unknown API error"}'
exit 1
SH
	chmod +x "$T/phala"
	cp "$S/whoami.json" "$T/who"
	PHALA_LEASE_PHALA=$T/phala run L release aaaaaaaaaaaa
	assert_failure 1
	read -r _ own _ <"$FAKE_PHALA/sids"
	[ "$own" != "$(ps -o sid= -p $$ | tr -d ' ')" ]
}

# ---- cleanup sweep (43-49, T3-T6, §5) -------------------------------------------

# list_page PAGE TOTALPAGES ITEMS-JSON: a cvms list answer (camelCase, as the CLI builds it).
list_page() {
	printf '{\n  "success": true,\n  "page": %s,\n  "pageSize": 100,\n  "total": %s,\n  "totalPages": %s,\n  "items": [%s]\n}\n' \
		"$1" "${4:-2}" "$2" "$3"
}
item() { printf '{"appId":"%s","cvmName":"%s","status":"%s","uptime":"1m"}' "$1" "$2" "${3:-running}"; }

# answers_for_one_cvm LEASE: the CLI lists one CVM ($APP, named after LEASE),
# gets it, deletes it and then reports it absent.
answers_for_one_cvm() {
	list_page 1 1 "$(item "$APP" "tdxlease-$1")" 1 >"$T/list-one"
	reply cvms-list 1 0 "$T/list-one"
	get_json "tdxlease-$1" "$APP" "$VM" >"$T/get"
	reply cvms-get 1 0 "$T/get"
	reply cvms-delete 1 0 "$S/delete.json"
	absent_404
}

@test "43: an expired claimed CVM: list -> get -> delete -> absence; claim removed; destroy line on stdout" {
	mkclaim aaaaaaaaaaaa expires_at=1000
	answers_for_one_cvm aaaaaaaaaaaa
	run L cleanup
	assert_success
	assert_output "destroy app_id=$APP lease=aaaaaaaaaaaa reason=expired"
	run cat "$FAKE_PHALA/log"
	assert_output "whoami --json
cvms list --page 1 --page-size 100 --json
cvms get app_$APP --json
cvms delete app_$APP --force --json
api -i /cvms/app_$APP"
	run ! has_claim aaaaaaaaaaaa
}

@test "--dry-run prints would-destroy and changes nothing" {
	mkclaim aaaaaaaaaaaa expires_at=1000
	list_page 1 1 "$(item "$APP" tdxlease-aaaaaaaaaaaa)" 1 >"$T/l1"
	reply cvms-list 1 0 "$T/l1"
	get_json tdxlease-aaaaaaaaaaaa "$APP" "$VM" >"$T/get"
	reply cvms-get 1 0 "$T/get"
	run L cleanup --dry-run
	assert_success
	assert_output "would destroy app_id=$APP lease=aaaaaaaaaaaa reason=expired"
	run grep -c '^cvms delete' "$FAKE_PHALA/log"
	assert_output 0
	[ "$(claim get aaaaaaaaaaaa state)" = ready ]
}

@test "44,T3: empty list stdout, bad JSON or success:false: the sweep aborts before any action, claims kept" {
	mkclaim aaaaaaaaaaaa expires_at=1000
	reply cvms-list 1 0
	run L cleanup
	assert_failure 5
	assert_output --partial "cvms list page 1: empty output; nothing done"
	reply_text cvms-list 2 0 'not json'
	run L cleanup
	assert_failure 5
	reply_text cvms-list 3 1 '{"success":false,"error":"Unknown API error"}'
	run L cleanup
	assert_failure 1
	assert_output --partial "Unknown API error; nothing done"
	run grep -c -E '^cvms (get|delete)' "$FAKE_PHALA/log"
	assert_output 0
	has_claim aaaaaaaaaaaa
}

@test "12,45,T4: two pages fetched; a claimed CVM on page 2 keeps its claim; no delete when not expired" {
	mkclaim aaaaaaaaaaaa
	list_page 1 2 "$(item "$APP2" someone-else)" >"$T/l1"
	list_page 2 2 "$(item "$APP" tdxlease-aaaaaaaaaaaa)" >"$T/l2"
	reply cvms-list 1 0 "$T/l1"
	reply cvms-list 2 0 "$T/l2"
	run L cleanup
	assert_success
	assert_output "skip app_id=$APP lease=aaaaaaaaaaaa reason=not expired"
	log_has "^cvms list --page 1 --page-size 100 --json\$"
	log_has "^cvms list --page 2 --page-size 100 --json\$"
	[ "$(calls)" = 3 ]
	has_claim aaaaaaaaaaaa
}

@test "12,T5: an item without id, an id repeated across pages, or totals changing between pages fail the list" {
	mkclaim aaaaaaaaaaaa expires_at=1000
	list_page 1 1 '{"cvmName":"x","status":"running"}' >"$T/l"
	reply cvms-list 1 0 "$T/l"
	run L cleanup
	assert_failure 5
	assert_output --partial "an item without a valid appId; nothing done"
	list_page 1 2 "$(item "$APP" tdxlease-aaaaaaaaaaaa)" >"$T/l1"
	reply cvms-list 2 0 "$T/l1"
	reply cvms-list 3 0 "$T/l1"
	run L cleanup
	assert_failure 5
	assert_output --partial "repeated across pages"
	list_page 2 3 "$(item "$APP2" x)" >"$T/l3"
	reply cvms-list 4 0 "$T/l1"
	reply cvms-list 5 0 "$T/l3"
	run L cleanup
	assert_failure 5
	assert_output --partial "total/totalPages changed between pages"
	run grep -c -E '^cvms (get|delete)' "$FAKE_PHALA/log"
	assert_output 0
	has_claim aaaaaaaaaaaa
}

@test "T5: len(items) < total is not an error" {
	list_page 1 1 "$(item "$APP2" other)" 7 >"$T/l"
	reply cvms-list 1 0 "$T/l"
	run L cleanup
	assert_success
}

@test "46,O2: an ours-by-name CVM without a claim: only the list call, reported as skip" {
	list_page 1 1 "$(item "$APP" tdxlease-cccccccccccc)" 1 >"$T/l"
	reply cvms-list 1 0 "$T/l"
	run L cleanup
	assert_success
	assert_output "skip app_id=$APP lease=cccccccccccc reason=ours-by-name-without-claim"
	[ "$(calls)" = 2 ] # whoami, list
}

@test "47: app-id reuse (claimed id now named <prefix>-<other>): list + get, no delete, claim kept, sweep continues" {
	mkclaim aaaaaaaaaaaa expires_at=1000
	mkclaim bbbbbbbbbbbb expires_at=1000 app_id="$APP2" vm_uuid=
	list_page 1 1 "$(item "$APP" tdxlease-dddddddddddd),$(item "$APP2" tdxlease-bbbbbbbbbbbb)" >"$T/l"
	reply cvms-list 1 0 "$T/l"
	get_json tdxlease-dddddddddddd "$APP" "$VM" >"$T/g1"
	get_json tdxlease-bbbbbbbbbbbb "$APP2" "$VM" >"$T/g2"
	reply cvms-get 1 0 "$T/g1"
	reply cvms-get 2 0 "$T/g2"
	reply cvms-delete 1 0 "$S/delete.json"
	absent_404
	run L cleanup
	assert_success
	assert_line --partial "is named 'tdxlease-dddddddddddd', not tdxlease-aaaaaaaaaaaa; refused, no delete"
	assert_line "skip app_id=$APP lease=aaaaaaaaaaaa reason=ownership refused"
	assert_line "destroy app_id=$APP2 lease=bbbbbbbbbbbb reason=expired"
	[ "$(grep -c '^cvms delete' "$FAKE_PHALA/log")" = 1 ]
	log_has "^cvms delete app_$APP2 "
	has_claim aaaaaaaaaaaa
	run ! has_claim bbbbbbbbbbbb
}

@test "25,48,T6: ambiguous-create within grace is pending (no CLI call on its account); after grace a proven absence removes it" {
	now=$(date +%s)
	mkclaim aaaaaaaaaaaa app_id= vm_uuid= state=creating recovery=ambiguous-create created_at=$((now - 100))
	list_page 1 1 "" 0 >"$T/l"
	reply cvms-list default 0 "$T/l"
	run L cleanup
	assert_success
	assert_output "skip app_id=- lease=aaaaaaaaaaaa reason=ambiguous create recovery pending"
	[ "$(calls)" = 2 ]
	has_claim aaaaaaaaaaaa
	reset_log
	claim set aaaaaaaaaaaa created_at=$((now - 301)) >/dev/null
	reply api default 1 "$S/api-404.txt"
	run L cleanup
	assert_success
	assert_output "removed claim lease=aaaaaaaaaaaa reason=ambiguous-create-absent"
	log_has "^cvms list --search tdxlease-aaaaaaaaaaaa "
	log_has "^api -i /cvms/tdxlease-aaaaaaaaaaaa\$"
	run ! has_claim aaaaaaaaaaaa
}

@test "48: ambiguous-create after grace without proof of absence is kept with a warning" {
	now=$(date +%s)
	mkclaim aaaaaaaaaaaa app_id= vm_uuid= state=creating recovery=ambiguous-create created_at=$((now - 1000))
	list_page 1 1 "" 0 >"$T/l"
	reply cvms-list default 0 "$T/l"
	reply api default 0 "$S/api-200.txt"
	run L cleanup
	assert_success
	assert_output --partial "absence not proven; claim kept"
	has_claim aaaaaaaaaaaa
}

@test "48: state creating without recovery (crashed acquire) is treated as ambiguous-create; one match is adopted" {
	now=$(date +%s)
	mkclaim aaaaaaaaaaaa app_id= vm_uuid= state=creating created_at=$((now - 1000)) expires_at=$((now + 100))
	list_page 1 1 "$(item "$APP" tdxlease-aaaaaaaaaaaa)" 1 >"$T/l"
	reply cvms-list default 0 "$T/l"
	run L cleanup
	assert_success
	assert_output "skip app_id=$APP lease=aaaaaaaaaaaa reason=not expired"
	[ "$(claim get aaaaaaaaaaaa app_id)" = "$APP" ]
}

@test "48: rollback-cleanup is destroyed via the gate; kept-after-failure and keep=true are never removed" {
	mkclaim aaaaaaaaaaaa recovery=rollback-cleanup
	mkclaim bbbbbbbbbbbb recovery=kept-after-failure keep=true app_id="$APP2" expires_at=1000
	mkclaim cccccccccccc keep=true app_id=2222222222222222222222222222222222222222 expires_at=1000
	list_page 1 1 "$(item "$APP" tdxlease-aaaaaaaaaaaa),$(item "$APP2" tdxlease-bbbbbbbbbbbb),$(item 2222222222222222222222222222222222222222 tdxlease-cccccccccccc)" >"$T/l"
	reply cvms-list 1 0 "$T/l"
	get_json tdxlease-aaaaaaaaaaaa "$APP" "$VM" >"$T/get"
	reply cvms-get 1 0 "$T/get"
	reply cvms-delete 1 0 "$S/delete.json"
	absent_404
	run L cleanup
	assert_success
	assert_line "destroy app_id=$APP lease=aaaaaaaaaaaa reason=rollback-cleanup"
	assert_line "skip app_id=$APP2 lease=bbbbbbbbbbbb reason=keep"
	assert_line "skip app_id=2222222222222222222222222222222222222222 lease=cccccccccccc reason=keep"
	[ "$(grep -c '^cvms delete' "$FAKE_PHALA/log")" = 1 ]
	has_claim bbbbbbbbbbbb
	has_claim cccccccccccc
}

@test "§5: a live stopped/error status counts as expired; provisioning waits for expiry plus the margin" {
	now=$(date +%s)
	mkclaim aaaaaaaaaaaa
	mkclaim bbbbbbbbbbbb state=provisioning app_id="$APP2" vm_uuid= expires_at=$((now - 100))
	list_page 1 1 "$(item "$APP" tdxlease-aaaaaaaaaaaa stopped),$(item "$APP2" tdxlease-bbbbbbbbbbbb starting)" >"$T/l"
	reply cvms-list 1 0 "$T/l"
	get_json tdxlease-aaaaaaaaaaaa "$APP" "$VM" stopped >"$T/get"
	reply cvms-get 1 0 "$T/get"
	reply cvms-delete 1 0 "$S/delete.json"
	absent_404
	run L cleanup
	assert_success
	assert_line "destroy app_id=$APP lease=aaaaaaaaaaaa reason=stopped"
	assert_line "skip app_id=$APP2 lease=bbbbbbbbbbbb reason=not expired"
}

@test "§5 missing-CVM rule: a claim whose CVM is not listed is removed only on proof of absence" {
	mkclaim aaaaaaaaaaaa
	mkclaim bbbbbbbbbbbb app_id="$APP2" vm_uuid=
	list_page 1 1 "" 0 >"$T/l"
	reply cvms-list 1 0 "$T/l"
	reply cvms-get 1 1 "$S/get-not-found.json"
	reply_text cvms-get 2 1 '{"success":false,"error":"Unknown API error"}'
	reply api 1 1 "$S/api-404.txt"
	run L cleanup
	assert_failure 1
	assert_line "removed claim lease=aaaaaaaaaaaa app_id=$APP reason=absent"
	assert_line --partial "Unknown API error; claim kept"
	run ! has_claim aaaaaaaaaaaa
	has_claim bbbbbbbbbbbb
	run grep -c '^cvms delete' "$FAKE_PHALA/log"
	assert_output 0
}

@test "49,O5: a claim from another account scope is never touched by the sweep" {
	mkclaim aaaaaaaaaaaa scope_workspace=other-team expires_at=1000
	list_page 1 1 "$(item "$APP" tdxlease-aaaaaaaaaaaa)" 1 >"$T/l"
	reply cvms-list 1 0 "$T/l"
	run L cleanup
	assert_success
	assert_output ""
	[ "$(calls)" = 2 ]
	has_claim aaaaaaaaaaaa
}

@test "2.5: an unreadable claim is skipped; the other leases keep working" {
	mkclaim aaaaaaaaaaaa expires_at=1000
	mkclaim bbbbbbbbbbbb
	replace_text "$CLAIMS/bbbbbbbbbbbb.json" '"lease_id":"bbbbbbbbbbbb"' '"lease_id":"cccccccccccc"' 
	answers_for_one_cvm aaaaaaaaaaaa
	run L cleanup
	assert_success
	assert_line "destroy app_id=$APP lease=aaaaaaaaaaaa reason=expired"
	[ -f "$CLAIMS/bbbbbbbbbbbb.json" ]
}

# ---- attestation gate (52-60, S6, §1.2) --------------------------------------------
# Real evidence: testdata/phala-info.json (Info) and a GetQuote-shaped answer
# built from the same CVM's quote and log. Its REPORTDATA is what the real CVM
# put there, so it stands for "a quote bound to something else".

RD_REAL=997dfa609c1256a26b7b7f10cc60e5ec28bffd805fb1536a5387510787b479db9c52d3c8ea37b1e85ab673075bbe213361a61a60c95f4960aca49d12b32bfbdf
APP_REAL=944edab771280ede410e7b9e66fcaee6b2c4a12c

evidence() {
	"$BIN/phala-json" value "$DATA/phala-info.json" tcb_info >"$T/tcb.json"
	"$BIN/phala-json" object quote="$(od -An -v -tx1 "$DATA/phala-quote.bin" | tr -d ' \n')" \
		event_log="$("$BIN/phala-json" value "$T/tcb.json" event_log)" >"$T/quote.json"
	cp "$DATA/phala-info.json" "$T/info.json"
	cp "$DATA/phala-compose.yml" "$T/compose.yml"
	mkdir -p "$T/stub"
	ln -sf "$ROOT/t/helpers/stub-dcap" "$T/stub/tdx-dcap-verify"
	ln -sf "$ROOT/t/helpers/stub-dcap" "$T/stub/tdx-collateral-fetch"
	export STUB_DCAP=$T/stub PHALA_LEASE_DCAP_VERIFY=$T/stub/tdx-dcap-verify
	export PHALA_LEASE_COLLATERAL_FETCH=$T/stub/tdx-collateral-fetch
}
AV() { L attest-verify --info "$T/info.json" --quote "$T/quote.json" --compose "$T/compose.yml" "$@"; }

# syn_evidence [wrong-kernel|lite]: evidence (as above: the same app id,
# compose and REPORTDATA) of a CVM that booted the synthetic image a, made
# from the real Info and quote (mk-evidence.pl --info, --quote; the quote's
# signature broken: DCAP is the stub); wrong-kernel: it booted b while
# claiming a; lite: the real dstack-0.6.0 lite fixture's boot, vm_config and
# image. $T/c.conf (PHALA_LEASE_CONFIG) allows a as synthetic-a ($T/imgs;
# not for lite: the shipped list), whose image is in the cache: no network.
syn_evidence() {
	evidence
	I=$BATS_FILE_TMPDIR/img
	A=$(cat "$I/a/os_image_hash")
	m=$I/a/measure.json vm=$I/a/vm-config.json
	case ${1:-} in
	wrong-kernel) m=$I/b/measure.json ;;
	lite) m=$I/lite.json vm=$T/lite-vm.json
		"$BIN/phala-json" value "$DATA/dstack-tdx-lite-getquote.json" vm_config >"$vm" ;;
	esac
	perl "$ROOT/t/helpers/mk-evidence.pl" --info "$DATA/phala-info.json" "$m" "$vm" >"$T/info.json"
	perl "$ROOT/t/helpers/mk-evidence.pl" --quote "$T/info.json" "$T/quote.json" >"$T/q.json"
	mv "$T/q.json" "$T/quote.json"
	echo "$A synthetic-a" >"$T/imgs"
	: >"$T/c.conf"
	[ "${1:-}" = lite ] || echo "allowed_images = $T/imgs" >"$T/c.conf"
	export PHALA_LEASE_CONFIG=$T/c.conf
	mkdir -p "$T/image-cache"
	cp "$I"/a/mr_*.tar.gz "$T/image-cache/"
}

@test "53,54,§1.2: evidence passes replay, identity, compose, policy, image and binding; DCAP runs with fetched collateral; evidence full length" {
	syn_evidence
	run AV --app-id "$APP_REAL" --report-data "$RD_REAL"
	assert_success
	assert_line "mrtd=$("$BIN/phala-json" get "$I/a/measure.json" mrtd)"
	assert_line "rtmr1=$("$BIN/phala-json" get "$I/a/measure.json" rtmr1)"
	assert_line "rtmr3=$("$BIN/phala-json" value "$T/info.json" tcb_info | "$BIN/phala-json" get - rtmr3)"
	assert_line "compose_hash=609b684c8e7b2f31e3198885cfd5569c88feb33bec7ed18270791f13bb0f7449"
	assert_line "app_id=$APP_REAL"
	assert_line "quote_sha256=$("$BIN/phala-json" value "$T/quote.json" quote | xxd -r -p | sha256sum | cut -d' ' -f1)"
	run cat "$STUB_DCAP/log"
	assert_line --regexp "^tdx-collateral-fetch -o .*/collateral.json .*/quote.hex\$"
	assert_line --regexp "^tdx-dcap-verify --collateral .*/collateral.json .*/quote.hex\$"
}

@test "issue 11: the image is recomputed: os_image_hash allowed, MRTD and RTMR0-2 from the cached image (offline) equal the quote's; the evidence names the image" {
	syn_evidence
	run AV --app-id "$APP_REAL" --report-data "$RD_REAL"
	assert_success
	assert_line "os_image_hash=$A"
	assert_line "image=full"
	assert_line "image_name=synthetic-a"
	assert_line "acpi=log"
	# The ACPI digests from a trusted list instead of the log.
	echo "acpi_list = $I/a/acpi.json" >>"$T/c.conf"
	run AV --app-id "$APP_REAL" --report-data "$RD_REAL"
	assert_success
	assert_line "acpi=list"
	# A list without this VM's entry: refused.
	sed 's/"cpu_count": 2/"cpu_count": 8/' "$I/a/acpi.json" >"$T/acpi8.json"
	echo "acpi_list = $T/acpi8.json" >>"$T/c.conf"
	run AV --app-id "$APP_REAL" --report-data "$RD_REAL"
	assert_failure 1
	assert_output --partial "attestation: image synthetic-a ($A):"
}

@test "issue 11: dstack 0.6 lite material: the shipped list names dstack-0.6.0; no image is fetched" {
	syn_evidence lite
	rm -rf "$T/image-cache"
	run AV --app-id "$APP_REAL" --report-data "$RD_REAL"
	assert_success
	assert_line "os_image_hash=e6f5cfec20c02e7b97baa213d0f718020b55e040172d90ccbcb946d56c8b09db"
	assert_line "image=lite"
	assert_line "image_name=dstack-0.6.0"
	assert_line "acpi=log"
	[ ! -e "$T/image-cache" ]
}

@test "issue 11: a CVM whose kernel is not its image's is refused, naming RTMR1's kernel event" {
	syn_evidence wrong-kernel
	run AV --app-id "$APP_REAL" --report-data "$RD_REAL"
	assert_failure 1
	k=$("$BIN/phala-json" items "$I/a/measure.json" events imr name digest | awk '$1 == 1 && $2 == "kernel" { print $3 }')
	[ "${#k}" -eq 96 ]
	# The last line (the gate's reason) names the event, with the image's digest.
	[[ "${lines[${#lines[@]} - 1]}" == "phala-lease: attestation: the quote's registers are not those of image synthetic-a ($A): rtmr1 event 0 (kernel): expected $k, log has "* ]]
	# DCAP ran first: the recomputation comes after it.
	grep -q '^tdx-dcap-verify ' "$STUB_DCAP/log"
}

@test "issue 11: an os_image_hash not in the allowed list is refused before DCAP and any download, saying how to add one" {
	syn_evidence
	rm -rf "$T/image-cache"
	echo "$(printf '%064d' 0) another-release" >"$T/imgs"
	run AV --app-id "$APP_REAL" --report-data "$RD_REAL"
	assert_failure 1
	assert_output --partial "attestation: os_image_hash $A is not in the allowed-image list $T/imgs; to allow a release, review it (phala-lease images --service lists the service's release identities) and add the line '$A NAME' to a list of your own, named by allowed_images"
	[ ! -e "$STUB_DCAP/log" ]
	[ ! -e "$T/image-cache" ]
	# The environment names the list too (trusted).
	echo "$A synthetic-a" >"$T/imgs2"
	mkdir -p "$T/image-cache"
	cp "$I"/a/mr_*.tar.gz "$T/image-cache/"
	PHALA_LEASE_ALLOWED_IMAGES=$T/imgs2 run AV --app-id "$APP_REAL" --report-data "$RD_REAL"
	assert_success
	assert_line "image_name=synthetic-a"
}

@test "issue 11: the old register-tuple list is refused with where tuples go now; a project file cannot name the lists or the mirror" {
	syn_evidence
	cp "$ROOT/share/phala-lease/pinned-registers" "$T/imgs"
	run AV --app-id "$APP_REAL" --report-data "$RD_REAL"
	assert_failure 1
	assert_output --regexp "allowed-image list $T/imgs, line [0-9]+: an MRTD RTMR0 RTMR1 RTMR2 tuple, the list's old format"
	assert_output --partial "named by pinned_registers (see "
	assert_output --partial "share/phala-lease/pinned-registers)"
	# Untrusted: ./.phala-lease.conf may not set them.
	unset PHALA_LEASE_CONFIG
	mkdir -p "$XDG_CONFIG_HOME/phala-lease"
	echo "allowed_images = $T/imgs2" >"$XDG_CONFIG_HOME/phala-lease/config"
	echo "$A synthetic-a" >"$T/imgs2"
	printf 'allowed_images = %s\npinned_registers = %s\nimage_url = http://evil.example/{OS_IMAGE_HASH}\nimage_cache = %s\nacpi_list = %s\n' \
		"$T/imgs" "$T/imgs" "$T/x" "$T/x" >.phala-lease.conf
	run AV --app-id "$APP_REAL" --report-data "$RD_REAL"
	assert_success
	for k in allowed_images pinned_registers image_url image_cache acpi_list; do
		assert_output --partial "'$k' is not accepted from a project file; ignored"
	done
	# A bad template is a configuration error.
	PHALA_LEASE_IMAGE_URL=ftp://x/y run AV --app-id "$APP_REAL" --report-data "$RD_REAL"
	assert_failure 2
	assert_output --partial "is not an http(s) URL template with {OS_IMAGE_HASH}"
}

@test "issue 11: pinned registers, when configured, are checked in addition: a mismatch is refused" {
	syn_evidence
	echo "pinned_registers = $ROOT/share/phala-lease/pinned-registers" >>"$T/c.conf"
	run AV --app-id "$APP_REAL" --report-data "$RD_REAL"
	assert_failure 1
	assert_output --partial "attestation: the quote's MRTD $("$BIN/phala-json" get "$I/a/measure.json" mrtd) RTMR0 "
	assert_output --partial "are not pinned in $ROOT/share/phala-lease/pinned-registers (pinned_registers)"
	"$BIN/phala-json" get "$I/a/measure.json" mrtd rtmr0 rtmr1 rtmr2 | paste -sd' ' >"$T/pins"
	PHALA_LEASE_PINNED_REGISTERS=$T/pins run AV --app-id "$APP_REAL" --report-data "$RD_REAL"
	assert_success
	echo "0000 1111" >>"$T/pins"
	PHALA_LEASE_PINNED_REGISTERS=$T/pins run AV --app-id "$APP_REAL" --report-data "$RD_REAL"
	assert_failure 1
	assert_output --partial "pinned-register list $T/pins, line 2: not 'MRTD RTMR0 RTMR1 RTMR2'"
}

@test "issue 11: Info and vm_config naming different images are refused" {
	syn_evidence
	b=$(cat "$I/b/os_image_hash")
	perl -MJSON::PP -i -pe 's/"os_image_hash":"'"$A"'"/"os_image_hash":"'"$b"'"/' "$T/info.json"
	run AV --app-id "$APP_REAL" --report-data "$RD_REAL"
	assert_failure 1
	assert_output --partial "attestation: os_image_hash: Info says $b, Info's vm_config says '$A'"
}

@test "issue 11: the real dstack-dev-0.5.9 evidence: allowed, DCAP run, then its image must be fetched: without it the gate refuses, naming it" {
	evidence
	run AV --app-id "$APP_REAL" --report-data "$RD_REAL"
	assert_failure 1
	assert_output --partial "attestation: image dstack-dev-0.5.9 (de9c74f0c85d0820ce075cb4a99f8e39f7b681be632907c5bf8bdc95ea72feb9) could not be fetched"
	grep -q '^tdx-dcap-verify ' "$STUB_DCAP/log"
}

@test "§1.2 with the real tdx-dcap-verify: reduced mode (explicit) verifies the real quote (the gate goes on to its image); a flipped signature byte fails" {
	evidence
	unset PHALA_LEASE_DCAP_VERIFY PHALA_LEASE_COLLATERAL_FETCH
	[ -x "$BIN/tdx-dcap-verify" ]
	run AV --app-id "$APP_REAL" --report-data "$RD_REAL" --reduced
	assert_failure 1
	refute_output --partial "dcap:"
	assert_output --partial "attestation: image dstack-dev-0.5.9 (de9c74f0c85d0820ce075cb4a99f8e39f7b681be632907c5bf8bdc95ea72feb9) could not be fetched"
	cp "$DATA/phala-quote.bin" "$T/q.bin"
	flip_byte "$T/q.bin" 700
	"$BIN/phala-json" object quote="$(od -An -v -tx1 "$T/q.bin" | tr -d ' \n')" \
		event_log="$("$BIN/phala-json" value "$T/tcb.json" event_log)" >"$T/quote.json"
	run AV --app-id "$APP_REAL" --report-data "$RD_REAL" --reduced
	assert_failure 1
	assert_output --partial "tdx-dcap-verify rejected the quote (reduced mode)"
}

@test "§1.2 with the real tools: online mode without reachable collateral fails the gate (no silent downgrade)" {
	evidence
	unset PHALA_LEASE_DCAP_VERIFY PHALA_LEASE_COLLATERAL_FETCH
	echo "pccs = http://127.0.0.1:9" >"$T/c.conf"
	PHALA_LEASE_CONFIG=$T/c.conf run AV --app-id "$APP_REAL" --report-data "$RD_REAL"
	assert_failure 1
	assert_output --partial "cannot fetch from http://127.0.0.1:9"
}

@test "§1.2: a quote bound to another nonce/host key (REPORTDATA) is rejected" {
	evidence
	run AV --app-id "$APP_REAL" --report-data "${RD_REAL%??}00"
	assert_failure 1
	assert_output --partial "report-data:"
	assert_output --partial "is not the expected"
}

@test "55: a wrong expected app id, an extra line in the compose, a tampered app_compose: each rejected" {
	evidence
	run AV --app-id "$APP" --report-data "$RD_REAL"
	assert_failure 1
	assert_output --partial "app-id"
	echo "# extra" >>"$T/compose.yml"
	run AV --app-id "$APP_REAL" --report-data "$RD_REAL"
	assert_failure 1
	assert_output --partial "compose"
	cp "$DATA/phala-compose.yml" "$T/compose.yml"
	replace_text "$T/info.json" 'sleep' 'sleeq'
	run AV --app-id "$APP_REAL" --report-data "$RD_REAL"
	assert_failure 1
}

@test "23 (notes 8.23): app_compose policy: allowed_envs, gateway flag and pre-launch script allow-list" {
	evidence
	PHALA_LEASE_CONFIG=$T/c.conf
	export PHALA_LEASE_CONFIG
	echo "allowed_prelaunch = $T/none" >"$T/c.conf"
	run AV --app-id "$APP_REAL" --report-data "$RD_REAL"
	assert_failure 1
	assert_output --partial "pre_launch_script sha256 bf12939bc82c9bdd103b6b1226913e6da58ed7cfcfc7c7ae808ac0813715b9a8 is not in the allow-list"
	echo "allowed_images = $T/none" >"$T/c.conf"
	run AV --app-id "$APP_REAL" --report-data "$RD_REAL"
	assert_failure 1
	assert_output --partial "allowed-image list $T/none missing"
	echo "0000 1111 2222 3333" >"$T/imgs"
	echo "allowed_images = $T/imgs" >"$T/c.conf"
	run AV --app-id "$APP_REAL" --report-data "$RD_REAL"
	assert_failure 1
	assert_output --partial "allowed-image list $T/imgs, line 1: not '<os_image_hash> <name>'"
}

@test "59,§1.2: DCAP is mandatory: a missing verifier, a failed collateral fetch or a failed verification each fail the gate" {
	syn_evidence
	PHALA_LEASE_DCAP_VERIFY=$T/nothing-here run AV --app-id "$APP_REAL" --report-data "$RD_REAL"
	assert_failure 1
	PHALA_LEASE_DCAP_VERIFY='' PHALA_LEASE_COLLATERAL_FETCH=$T/no-fetch run AV --app-id "$APP_REAL" --report-data "$RD_REAL"
	assert_failure 1
	echo 5 >"$STUB_DCAP/rc"
	run AV --app-id "$APP_REAL" --report-data "$RD_REAL"
	assert_failure 1
	assert_output --partial "collateral"
	rm "$STUB_DCAP/rc" "$STUB_DCAP/log"
	echo "x" >"$T/coll.json"
	run AV --app-id "$APP_REAL" --report-data "$RD_REAL" --collateral "$T/coll.json"
	assert_success
	run cat "$STUB_DCAP/log"
	assert_output --regexp "^tdx-dcap-verify --collateral $T/coll.json .*quote.hex\$"
}

@test "52: empty Info, 'curl: (7)' text and an Info without tcb_info are rejected" {
	evidence
	: >"$T/info.json"
	run AV --app-id "$APP_REAL" --report-data "$RD_REAL"
	assert_failure 1
	echo "curl: (7) Failed to connect" >"$T/info.json"
	run AV --app-id "$APP_REAL" --report-data "$RD_REAL"
	assert_failure 1
	printf 'banner\n{"app_id":"x"}\n' >"$T/info.json"
	run AV --app-id "$APP_REAL" --report-data "$RD_REAL"
	assert_failure 1
}

@test "S6,60: attestation is on by default; a gate failure destroys the CVM even with --keep; no claim left" {
	evidence
	acquire_answers
	cp "$T/quote.json" "$T/info.json" "$FAKE_SSH/"
	reply cvms-delete 1 0 "$S/delete.json"
	absent_404
	run L acquire --keep
	assert_failure 1
	assert_output --partial "attestation failed"
	assert_output --partial "rolled back"
	[ "$(grep -c '^cvms delete' "$FAKE_PHALA/log")" = 1 ]
	[ "$(nclaims)" = 0 ]
	# accept-new only before the gate, yes for the evidence fetch
	grep -q 'StrictHostKeyChecking=accept-new .*phala-lease-ready' "$FAKE_SSH/log"
	grep -q 'StrictHostKeyChecking=yes .*sh -s quote [0-9a-f]\{64\} phala-lease-ssh$' "$FAKE_SSH/log"
}

@test "60,§6: an untrusted project file cannot disable attestation" {
	evidence
	acquire_answers
	cp "$T/quote.json" "$T/info.json" "$FAKE_SSH/"
	reply cvms-delete 1 0 "$S/delete.json"
	absent_404
	echo "attest = false" >.phala-lease.conf
	run L acquire
	assert_failure 1
	assert_output --partial "untrusted file may only turn attestation on"
	assert_output --partial "attestation failed"
}

@test "60: a trusted user config may disable attestation; the claim records it; a claim that requires it and is not attested is refused" {
	acquire_answers
	mkdir -p "$XDG_CONFIG_HOME/phala-lease"
	echo "attest = false" >"$XDG_CONFIG_HOME/phala-lease/config"
	run L acquire
	assert_success
	assert_output --partial "attestation disabled by config $XDG_CONFIG_HOME/phala-lease/config: attest"
	l=$(only_claim)
	[ "$(claim get "$l" attested)" = false ]
	[ "$(claim get "$l" attest_required)" = false ]
	mkclaim aaaaaaaaaaaa attested=false
	run L ssh aaaaaaaaaaaa true
	assert_failure 4
	assert_output --partial "not attested; not usable"
}

# ---- list, status, resolve, touch (9, 11, 22-26, 41, 42, U1-U3) ---------------------

@test "9,11,O2-O4: list shows claimed leases only; empty items are valid; foreign and ours-by-name CVMs are not listed" {
	list_page 1 1 "" 0 >"$T/l0"
	reply cvms-list 1 0 "$T/l0"
	run L list
	assert_success
	assert_output "$(printf 'LEASE\tSLUG\tAPP_ID\tSTATE\tLIVE\tUSABLE\tEXPIRES\tHOST')"
	mkclaim aaaaaaaaaaaa slug=web
	list_page 1 1 "$(item "$APP" tdxlease-aaaaaaaaaaaa),$(item "$APP2" production-db),$(item 2222222222222222222222222222222222222222 tdxlease-cccccccccccc)" >"$T/l"
	reply cvms-list 2 0 "$T/l"
	run L list --json
	assert_success
	assert_line --regexp '^\{"leases":\[\{"lease_id":"aaaaaaaaaaaa","slug":"web","app_id":"'"$APP"'","state":"ready","recovery":null,"live_status":"running","usable":true,.*\}\]\}$'
	refute_output --partial production-db
	assert_line --partial "CVM tdxlease-cccccccccccc (app_2222222222222222222222222222222222222222) looks like ours but has no claim"
}

@test "24: only an exact <prefix>-<12 hex> name is ours-by-name" {
	list_page 1 1 "$(item "$APP" tdxlease-),$(item "$APP2" tdxlease-AAAAAAAAAAAA),$(item 2222222222222222222222222222222222222222 tdxlease-aaaaaaaaaaaa0)" >"$T/l"
	reply cvms-list 1 0 "$T/l"
	run L cleanup
	assert_success
	assert_output ""
}

@test "13,41,U3: status reads the claim and one get (nested shape); it writes nothing and never bootstraps" {
	mkclaim aaaaaaaaaaaa slug=web
	rev=$(claim get aaaaaaaaaaaa revision)
	get_json tdxlease-aaaaaaaaaaaa "$APP" "$VM" >"$T/get"
	reply cvms-get 1 0 "$T/get"
	run L status aaaaaaaaaaaa
	assert_success
	assert_line "  live running"
	assert_line "  host $APP-22.dstack-pha-prod7.phala.network:443"
	[ "$(calls)" = 1 ]
	[ "$(claim get aaaaaaaaaaaa revision)" = "$rev" ]
	run grep -c . "$FAKE_SSH/log"
	assert_failure
}

@test "13,§5: status decodes the flat 2025-10-28 shape; a live error status overrides the claim state; not found => absent" {
	mkclaim aaaaaaaaaaaa
	reply_text cvms-get default 0 "{\"success\":true,\"id\":7,\"name\":\"tdxlease-aaaaaaaaaaaa\",\"status\":\"error\",\"in_progress\":false,\"app_id\":\"$APP\",\"vm_uuid\":\"$VM\",\"gateway_domain\":\"gw.example:8443\"}"
	run L status --json aaaaaaaaaaaa
	assert_failure 1
	assert_output --partial '"state":"error","recovery":null,"live_status":"error","usable":false,"reason":"CVM error"'
	run L status aaaaaaaaaaaa
	assert_failure 1
	assert_line "  state error"
	rm -r "$FAKE_PHALA/cvms-get"
	reply cvms-get default 1 "$S/get-not-found.json"
	absent_404
	run L status aaaaaaaaaaaa
	assert_failure 4
	assert_line "  live absent"
	has_claim aaaaaaaaaaaa
}

@test "42,U2: an exact lease id or app id wins over a slug; several slug matches are exit 2" {
	mkclaim aaaaaaaaaaaa slug=bbbbbbbbbbbb
	mkclaim bbbbbbbbbbbb app_id="$APP2" vm_uuid= slug=x
	mkclaim cccccccccccc app_id=2222222222222222222222222222222222222222 vm_uuid= slug=x
	reply_text cvms-get default 1 '{"success":false,"error":"Unknown API error"}'
	run L status bbbbbbbbbbbb
	assert_line "lease bbbbbbbbbbbb (x)"
	run L status "app_$APP"
	assert_line "lease aaaaaaaaaaaa (bbbbbbbbbbbb)"
	run L status x
	assert_failure 2
	assert_output --partial "matches 2 leases by slug"
	run L status nope
	assert_failure 4
}

@test "22,26: acquire --slug uses the slug exactly, shows it in the result line; list shows it; later writes never blank it" {
	acquire_answers
	run L acquire --no-attest --slug my-box
	assert_success
	l=$(only_claim)
	assert_line --regexp "^lease=$l slug=my-box app_id=$APP host=.* port=443\$"
	[ "$(claim get "$l" slug)" = my-box ]
	list_page 1 1 "$(item "$APP" "tdxlease-$l")" 1 >"$T/l"
	reply cvms-list 1 0 "$T/l"
	run L list
	assert_line --partial "$l	my-box	"
	claim set "$l" last_touched_at=5 >/dev/null
	[ "$(claim get "$l" slug)" = my-box ]
}

@test "23: touch (ssh) updates last_touched_at and expires_at, keeps created_at, keep and gateway_host" {
	mkclaim aaaaaaaaaaaa created_at=1000 last_touched_at=1000 expires_at=2800 keep=true
	host=$(claim get aaaaaaaaaaaa gateway_host)
	PHALA_LEASE_NOW=5000 run L ssh aaaaaaaaaaaa echo hi
	assert_success
	assert_output "fake-ssh: echo hi"
	[ "$(claim get aaaaaaaaaaaa created_at)" = 1000 ]
	[ "$(claim get aaaaaaaaaaaa last_touched_at)" = 5000 ]
	[ "$(claim get aaaaaaaaaaaa expires_at)" = 6400 ] # min(5000+1800, 1000+5400)
	[ "$(claim get aaaaaaaaaaaa keep)" = true ]
	[ "$(claim get aaaaaaaaaaaa gateway_host)" = "$host" ]
	[ "$(calls)" = 0 ]
}

@test "U1: ssh refuses recovery claims, non-ready claims and non-attested claims" {
	mkclaim aaaaaaaaaaaa recovery=rollback-cleanup
	mkclaim bbbbbbbbbbbb app_id="$APP2" state=provisioning
	mkclaim cccccccccccc app_id=2222222222222222222222222222222222222222 attested=false
	for l in aaaaaaaaaaaa bbbbbbbbbbbb cccccccccccc; do
		run L ssh "$l" true
		assert_failure 4
	done
	run grep -c . "$FAKE_SSH/log"
	assert_failure
}

# ---- gateway, proxy, ssh-config (14-18) ------------------------------------------------

@test "14,15,17: gateway host from app_id + base_domain, :port honoured, a long host stored untruncated" {
	long=$(printf 'd%.0s' $(seq 60)).$(printf 'e%.0s' $(seq 60)).gateway.example # host > 140 bytes
	sed "s/\"tdx-lease-01\"/\"@NAME@\"/; s/dstack-pha-prod7.phala.network\"/$long:8443\"/" "$S/get.json" >"$T/g"
	sed 's/tdx-lease-01/@NAME@/' "$S/deploy.out" >"$T/d"
	reply deploy 1 0 "$T/d"
	reply cvms-get default 0 "$T/g"
	run L acquire --no-attest --json
	assert_success
	assert_line --regexp "^\{\"lease_id\":\"[0-9a-f]{12}\",\"name\":\"tdxlease-[0-9a-f]{12}\",\"slug\":null,\"app_id\":\"$APP\",\"gateway_host\":\"$APP-22.$long\",\"gateway_port\":8443,"
	log_has "^cvms get app_$APP --json\$"
	l=$(only_claim)
	[ "$(claim get "$l" gateway_host)" = "$APP-22.$long" ]
	PHALA_LEASE_ATTEST=false run L ssh-config "$l"
	assert_line "  HostName $APP-22.$long"
	assert_line "  Port 8443"
	assert_line --regexp "^  ProxyCommand .* --port 8443 $APP-22.$long\$"
}

@test "15: a running CVM without a gateway domain is not ready (bounded wait, then rollback)" {
	sed 's/"tdx-lease-01"/"@NAME@"/; s/"base_domain": "dstack-pha-prod7.phala.network"/"base_domain": null/' "$S/get.json" >"$T/g"
	sed 's/tdx-lease-01/@NAME@/' "$S/deploy.out" >"$T/d"
	reply deploy 1 0 "$T/d"
	reply cvms-get default 0 "$T/g"
	reply cvms-delete 1 0 "$S/delete.json"
	absent_404
	PHALA_LEASE_READY_TIMEOUT=1 run L acquire --no-attest
	assert_failure 1
	assert_output --partial "not ready after 1s; rolled back"
	[ "$(nclaims)" = 0 ]
}

@test "fleet: on PostgreSQL the ProxyCommand pins no claims directory; the proxy finds the claim there" {
	on_pg
	mkclaim aaaaaaaaaaaa
	run L ssh-config aaaaaaaaaaaa
	assert_success
	assert_line --regexp "^  ProxyCommand [^ ]*phala-proxy --port 443 $APP-22.dstack-pha-prod7.phala.network\$"
	refute_output --partial -- --claims
	run "$BIN/phala-proxy" --print-host aaaaaaaaaaaa
	assert_success
	assert_output "$APP-22.dstack-pha-prod7.phala.network 443"
	# the user config's claims_url chooses PostgreSQL too
	url=$PHALA_CLAIMS_URL
	unset PHALA_CLAIMS_URL
	mkdir -p "$XDG_CONFIG_HOME/phala-lease"
	printf 'claims_url = %s\n' "$url" >"$XDG_CONFIG_HOME/phala-lease/config"
	run L ssh-config aaaaaaaaaaaa
	assert_success
	refute_output --partial -- --claims
	# an empty claims_url is the directory: pinned again (the claim is not there)
	printf 'claims_url =\n' >"$XDG_CONFIG_HOME/phala-lease/config"
	mkclaim aaaaaaaaaaaa
	run L ssh-config aaaaaaaaaaaa
	assert_success
	assert_line "  ProxyCommand $BIN/phala-proxy --claims $CLAIMS --port 443 $APP-22.dstack-pha-prod7.phala.network"
}

@test "fleet: ssh and run --lease from another machine name the machine that holds the key (exit 4)" {
	on_pg
	acquire_answers
	run L acquire --no-attest
	assert_success
	l=$(only_claim)
	id=$(head -c 32 "$XDG_STATE_HOME/phala-lease/machine-id")
	[ "$(claim get "$l" machine_id)" = "$id" ]
	[ "$(claim get "$l" machine_name)" = "$(uname -n)" ]
	# machine B: its own state directory, the same database
	XDG_STATE_HOME=$T/state-b run L ssh "$l" -- true
	assert_failure 4
	assert_output "phala-lease: the key of lease $l is on machine $(uname -n) (id $id); run this there"
	XDG_STATE_HOME=$T/state-b run L run --lease "$l" -- true
	assert_failure 4
	assert_output --partial "the key of lease $l is on machine $(uname -n) (id $id); run this there"
	[ "$(head -c 32 "$T/state-b/phala-lease/machine-id")" != "$id" ]
	# machine A, which has the key, is not refused
	run L ssh "$l" -- true
	refute_output --partial "run this there"
}

@test "fleet: a lease acquired on machine A is listed and status'd on machine B; release on B destroys it through the gate" {
	on_pg
	mkclaim aaaaaaaaaaaa
	B=$T/state-b
	list_page 1 1 "$(item "$APP" tdxlease-aaaaaaaaaaaa)" 1 >"$T/l1"
	reply cvms-list default 0 "$T/l1"
	get_json tdxlease-aaaaaaaaaaaa "$APP" "$VM" >"$T/get"
	reply cvms-get default 0 "$T/get"
	XDG_STATE_HOME=$B run L list
	assert_success
	assert_output --partial aaaaaaaaaaaa
	refute_output --partial "no claim"
	XDG_STATE_HOME=$B run L status aaaaaaaaaaaa
	assert_success
	assert_output --partial aaaaaaaaaaaa
	# the directory store of B knows nothing of it
	PHALA_CLAIMS_URL='' XDG_STATE_HOME=$B run L release aaaaaaaaaaaa
	assert_failure 4
	assert_output "phala-lease: no local claim for lease aaaaaaaaaaaa"
	reset_log
	reply cvms-delete 1 0 "$S/delete.json"
	absent_404
	XDG_STATE_HOME=$B run L release aaaaaaaaaaaa
	assert_success
	assert_output "destroy app_id=$APP lease=aaaaaaaaaaaa reason=release"
	[ "$(grep -c '^cvms delete app_'"$APP"' --force --json$' "$FAKE_PHALA/log")" = 1 ]
	run ! has_claim aaaaaaaaaaaa
}

@test "fleet: cleanup on machine B reaps what machine A leaked, once expired, and only then" {
	on_pg
	mkclaim aaaaaaaaaaaa
	rm -rf "$XDG_STATE_HOME"  # machine A is gone, with its state directory
	answers_for_one_cvm aaaaaaaaaaaa
	XDG_STATE_HOME=$T/state-b run L cleanup
	assert_success
	refute_output --partial destroy
	run grep -c '^cvms delete' "$FAKE_PHALA/log"
	assert_output 0
	claim set aaaaaaaaaaaa expires_at=1000 >/dev/null
	reset_log
	XDG_STATE_HOME=$T/state-b run L cleanup
	assert_success
	assert_output "destroy app_id=$APP lease=aaaaaaaaaaaa reason=expired"
	run ! has_claim aaaaaaaaaaaa
}

@test "16,18: ssh-config: tool path with spaces quoted, % doubled, host last; per-lease known_hosts, strict checking" {
	mkclaim aaaaaaaaaaaa slug=web
	mkdir -p "$T/my tools%1"
	PHALA_LEASE_PROXY="$T/my tools%1/phala-proxy" run L ssh-config aaaaaaaaaaaa
	assert_success
	kd=$XDG_STATE_HOME/phala-lease/leases/aaaaaaaaaaaa
	assert_line "Host aaaaaaaaaaaa.phala web.phala"
	assert_line "  ProxyCommand '$T/my tools%%1/phala-proxy' --claims $CLAIMS --port 443 $APP-22.dstack-pha-prod7.phala.network"
	assert_line "  UserKnownHostsFile $kd/known_hosts"
	assert_line "  StrictHostKeyChecking yes"
	assert_line "  IdentityFile $kd/id_ed25519"
	assert_line "  IdentitiesOnly yes"
	assert_line "  ForwardAgent no"
	[ "$(calls)" = 0 ]
}

@test "ssh-config without a lease prints an Include-able file with every usable lease and no unusable one" {
	mkclaim aaaaaaaaaaaa
	mkclaim bbbbbbbbbbbb recovery=kept-after-failure keep=true
	run L ssh-config
	assert_success
	assert_line "Host aaaaaaaaaaaa.phala"
	refute_output --partial bbbbbbbbbbbb
}

@test "ssh passes the §7 options with the pinned key and the lease's known_hosts" {
	mkclaim aaaaaaaaaaaa
	run L ssh aaaaaaaaaaaa uname -a
	assert_success
	kd=$XDG_STATE_HOME/phala-lease/leases/aaaaaaaaaaaa
	run cat "$FAKE_SSH/log"
	assert_output --partial "-F none -i $kd/id_ed25519 -o BatchMode=yes -o IdentitiesOnly=yes -o ForwardAgent=no -o ForwardX11=no -o UserKnownHostsFile=$kd/known_hosts -o ServerAliveInterval=15 -o ServerAliveCountMax=4 -o ControlMaster=no"
	assert_output --partial "-o StrictHostKeyChecking=yes"
	assert_output --partial "-p 443 -l root $APP-22.dstack-pha-prod7.phala.network uname -a"
}

@test "ssh_user: the login user of ssh and ssh-config (default root); a bad name is exit 2, a project file cannot set it" {
	mkclaim aaaaaaaaaaaa
	PHALA_LEASE_SSH_USER=alice run L ssh aaaaaaaaaaaa true
	assert_success
	run cat "$FAKE_SSH/log"
	assert_output --partial "-p 443 -l alice $APP-22.dstack-pha-prod7.phala.network true"
	printf 'ssh_user = Bob.Smith-2\n' >"$T/trusted.conf"
	PHALA_LEASE_CONFIG=$T/trusted.conf run L ssh-config aaaaaaaaaaaa
	assert_success
	assert_line "  User Bob.Smith-2"
	run L ssh-config aaaaaaaaaaaa
	assert_line "  User root"
	for bad in 'root -oProxyCommand=x' '-lx' 'j.doe@corp' "\$(id)" '' "$(printf '%033d' 0)"; do
		printf 'ssh_user = %s\n' "$bad" >"$T/trusted.conf"
		PHALA_LEASE_CONFIG=$T/trusted.conf run L ssh-config aaaaaaaaaaaa
		assert_failure 2
		assert_output --partial "ssh_user: '$bad' is not a user name"
	done
	printf 'ssh_user = mallory\n' >.phala-lease.conf
	run L ssh-config aaaaaaaaaaaa
	assert_success
	assert_output --partial "'ssh_user' is not accepted from a project file; ignored"
	assert_line "  User root"
}

# ---- doctor, config (50, 61-64) ------------------------------------------------------

@test "50: doctor runs --version, whoami --json (success required), then a list" {
	list_page 1 1 "" 0 >"$T/l"
	reply cvms-list 1 0 "$T/l"
	run L doctor
	assert_success
	assert_line "account: workspace=my-team api=$API node=none"
	run cat "$FAKE_PHALA/log"
	assert_output "--version
whoami --json
cvms list --page 1 --page-size 100 --json"
	reply_text whoami 2 1 '{"success":false,"error":"Not authenticated. Run \"phala login\" first."}'
	run L doctor
	assert_failure 1
	assert_output --partial "Not authenticated"
	reply_text whoami 3 0 ''
	run L doctor
	assert_failure 5
}

@test "61,64: defaults, trusted file, env and flags in precedence order; node trimmed" {
	acquire_answers
	mkdir -p "$XDG_CONFIG_HOME/phala-lease"
	printf 'instance_type = tdx.large\nnode =   7  \nttl = 2h\nclaims_url =\n' >"$XDG_CONFIG_HOME/phala-lease/config"
	run L acquire --no-attest
	assert_success
	run grep '^deploy ' "$FAKE_PHALA/log"
	assert_output --regexp " -t tdx.large .*--node-id 7\$"
	l=$(only_claim)
	[ "$(claim get "$l" ttl_secs)" = 7200 ]
	[ "$(claim get "$l" scope_node)" = 7 ]
	reset_log
	PHALA_LEASE_TYPE=tdx.medium PHALA_LEASE_NODE=8 run L --node 9 acquire --no-attest
	run grep '^deploy ' "$FAKE_PHALA/log"
	assert_output --regexp " -t tdx.medium .*--node-id 9\$"
}

@test "62: an untrusted project file cannot change CLI path, API base, node or compose, but can set type and work dir" {
	acquire_answers
	printf 'phala = /bin/false\napi_prefix = http://evil.example/api/v1\nnode = 3\ncompose = x.yml\ninstance_type = tdx.medium\nwork_dir = /var/volatile/x\nclaims_url = postgresql://evil.example/x\n' >.phala-lease.conf
	run L acquire --no-attest
	assert_success
	assert_output --partial "'phala' is not accepted from a project file; ignored"
	assert_output --partial "'claims_url' is not accepted from a project file; ignored"
	assert_output --partial "'api_prefix' is not accepted from a project file; ignored"
	run grep '^deploy ' "$FAKE_PHALA/log"
	assert_output --partial " -t tdx.medium --dev-os "
	refute_output --partial "--node-id"
	refute_output --partial "x.yml"
}

@test "63: exit 2 for a bad instance type, a work dir outside /var/volatile/, a compose URL or one escaping via .." {
	echo "instance_type = ../x" >.phala-lease.conf
	run L acquire --no-attest
	assert_failure 2
	echo "work_dir = /tmp/x" >.phala-lease.conf
	run L acquire --no-attest
	assert_failure 2
	assert_output --partial "strict subdirectory of /var/volatile/"
	echo "work_dir = /var/volatile/" >.phala-lease.conf
	run L acquire --no-attest
	assert_failure 2
	rm .phala-lease.conf
	run L acquire --no-attest -c https://example.com/c.yml
	assert_failure 2
	run L acquire --no-attest -c ../c.yml
	assert_failure 2
	run L acquire --no-attest -t 'Tdx;rm'
	assert_failure 2
	[ "$(calls)" = 0 ]
}

@test "6: PHALA_LEASE_CONFIG names the only file read; the API base from trusted env reaches the CLI" {
	list_page 1 1 "" 0 >"$T/l"
	reply cvms-list 1 0 "$T/l"
	echo "api_prefix = http://127.0.0.1:9/api/v1" >"$T/only.conf"
	echo "api_prefix = http://ignored/api/v1" >.phala-lease.conf
	cat >"$T/phala" <<'SH'
#!/bin/sh
echo "${PHALA_CLOUD_API_PREFIX:-unset} ${PHALA_DISABLE_UPDATE_CHECK:-} ${DEBUG:-nodebug}" >>"$FAKE_PHALA/env"
exec "$ROOT/t/helpers/fake-phala" "$@"
SH
	chmod +x "$T/phala"
	PHALA_LEASE_CONFIG=$T/only.conf DEBUG=1 PHALA_LEASE_PHALA=$T/phala run L doctor
	assert_success
	assert_line "account: workspace=my-team api=http://127.0.0.1:9/api/v1 node=none"
	run sort -u "$FAKE_PHALA/env"
	assert_output "http://127.0.0.1:9/api/v1 1 nodebug"
}

@test "usage errors are exit 2" {
	run L
	assert_failure 2
	run L frobnicate
	assert_failure 2
	run L acquire --bogus
	assert_failure 2
	run L status
	assert_failure 2
	run L --help
	assert_success
	assert_output --partial "usage: phala-lease"
}

# contrib/examples/crabbox-run.sh is phala-lease run: t/phala-lease-run.bats.

@test "contrib/fleet: the central sweep from cron, its URL from a 0600 environment file, reaps an expired lease of another machine" {
	on_pg
	mkclaim aaaaaaaaaaaa expires_at=1000
	answers_for_one_cvm aaaaaaaaaaaa
	mkdir -p "$HOME/.config/phala-lease" "$HOME/.local/state/phala-lease"
	(umask 077 && printf "PHALA_CLAIMS_URL='%s'\nPHALA_CLAIMS_SCHEMA=%s\n" "$PHALA_CLAIMS_URL" "$PHALA_CLAIMS_SCHEMA" \
		>"$HOME/.config/phala-lease/fleet.env")
	line=$(grep -v '^#' "$ROOT/contrib/fleet/phala-lease-fleet-cleanup.cron")
	case $line in *"$PHALA_CLAIMS_URL"* | *PGPASSWORD*) false ;; esac
	cmd=$(printf '%s\n' "$line" | cut -d' ' -f6-)
	# the sweeping host: its own state directory, nothing but the file's URL
	env -u PHALA_CLAIMS_URL -u PHALA_CLAIMS_SCHEMA XDG_STATE_HOME="$T/state-sweeper" sh -c "$cmd"
	run cat "$HOME/.local/state/phala-lease/fleet-cleanup.log"
	assert_output "destroy app_id=$APP lease=aaaaaaaaaaaa reason=expired"
	run ! has_claim aaaaaaaaaaaa
	# the systemd unit reads the same file and runs the same sweep
	u=$ROOT/contrib/fleet/phala-lease-fleet-cleanup.service
	grep -qx 'EnvironmentFile=%h/.config/phala-lease/fleet.env' "$u"
	grep -qx 'ExecStart=/usr/local/bin/phala-lease cleanup' "$u"
	grep -qx 'OnUnitActiveSec=10min' "$ROOT/contrib/fleet/phala-lease-fleet-cleanup.timer"
}

@test "contrib/systemd: the sweep service runs cleanup; the timer triggers it" {
	grep -qx 'ExecStart=/usr/local/bin/phala-lease cleanup' "$ROOT/contrib/systemd/phala-lease-cleanup.service"
	grep -qx 'OnUnitActiveSec=10min' "$ROOT/contrib/systemd/phala-lease-cleanup.timer"
	run grep -c 'PHALA_CLOUD_API_KEY=' "$ROOT/contrib/systemd/phala-lease-cleanup.service"
	assert_output 1 # only in the comment that tells where the key goes
}

# ---- fault run (issue 6: every step of acquire fails in turn) ----------------------------

FOREIGN=ffffffffffffffffffffffffffffffffffffffff
OURS_NO_CLAIM=eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee

# world_check: no CVM created by acquire without a claim; nothing deleted
# that was not claimed; the foreign and the unclaimed ours-by-name CVMs live.
world_check() {
	for f in "$FAKE_WORLD"/cvms/*; do
		[ -f "$f" ] || continue
		app=$(basename "$f")
		read -r name _ _ <"$f"
		case $app in "$FOREIGN" | "$OURS_NO_CLAIM") continue ;; esac
		l=${name#tdxlease-}
		has_claim "$l" || { echo "$1: CVM $name ($app) exists without a claim"; return 1; }
	done
	[ -f "$FAKE_WORLD/cvms/$FOREIGN" ] || { echo "$1: the foreign CVM was deleted"; return 1; }
	[ -f "$FAKE_WORLD/cvms/$OURS_NO_CLAIM" ] || { echo "$1: the unclaimed ours-by-name CVM was deleted"; return 1; }
	if [ -f "$FAKE_WORLD/deleted" ]; then
		while read -r app name; do
			grep -q -- "-n $name " "$FAKE_WORLD/log" || { echo "$1: deleted $name ($app), never deployed by us"; return 1; }
		done <"$FAKE_WORLD/deleted"
	fi
}

@test "fault run: each acquire step fails in turn (definitive, Unknown API error, timeout, empty rc 0, SIGKILL); cleanup leaves nothing unclaimed and deletes nothing foreign" {
	export FAKE_WORLD_TEMPLATES=$S PHALA_LEASE_PHALA=$ROOT/t/helpers/fake-phala-world PHALA_LEASE_CLI_TIMEOUT=2
	export PHALA_LEASE_READY_TIMEOUT=4 PHALA_LEASE_SSH_TRIES=1 PHALA_LEASE_GRACE=0
	n=0
	for fault in "version 1 unknown" "version 1 empty" "version 1 kill" "whoami 1 unknown" "whoami 1 timeout" "whoami 1 empty" \
		"deploy 1 definitive" "deploy 1 unknown" "deploy 1 timeout" "deploy 1 empty" "deploy 1 kill" \
		"cvms-get 1 unknown" "cvms-get 1 timeout" "cvms-get 1 empty" "cvms-get 1 kill" \
		"ssh - fail" "cvms-delete 1 unknown" "cvms-delete 1 timeout" "cvms-delete 1 empty" "cvms-delete 1 kill" \
		"api 1 unknown" "api 1 kill" "cvms-list 1 unknown" "cvms-list 1 empty"; do
		n=$((n + 1))
		export FAKE_WORLD=$T/world$n
		mkdir -p "$FAKE_WORLD/cvms"
		echo "production-db 11111111-0000-4000-8000-000000000000 running" >"$FAKE_WORLD/cvms/$FOREIGN"
		echo "tdxlease-0123456789ab 22222222-0000-4000-8000-000000000000 running" >"$FAKE_WORLD/cvms/$OURS_NO_CLAIM"
		rm -f "$FAKE_SSH/fail"
		step=${fault%% *}
		if [ "$step" = ssh ]; then
			touch "$FAKE_SSH/fail"
		else
			echo "$fault" >"$FAKE_WORLD/faults"
			# the later steps only happen after a failure: make SSH fail so
			# that rollback (get, delete, api) runs
			case $step in cvms-delete | api) touch "$FAKE_SSH/fail" ;; esac
		fi
		"$BIN/phala-lease" acquire --no-attest >"$T/acq$n.out" 2>"$T/acq$n.err" &
		echo $! >"$FAKE_WORLD/lease.pid"
		rc=0
		wait "$(cat "$FAKE_WORLD/lease.pid")" || rc=$?
		echo "$fault: acquire rc $rc" >>"$T/summary"
		world_check "$fault (after acquire, rc $rc)" || { cat "$T/acq$n.err"; false; }
		# cleanup, fault-free, a day later
		rm -f "$FAKE_WORLD/faults" "$FAKE_WORLD"/*.count
		PHALA_LEASE_NOW=$(($(date +%s) + 86400)) "$BIN/phala-lease" cleanup >"$T/cl$n.out" 2>"$T/cl$n.err" ||
			{ echo "$fault: cleanup failed"; cat "$T/acq$n.err" "$T/cl$n.err"; false; }
		world_check "$fault (after cleanup)" || { cat "$T/acq$n.err" "$T/cl$n.err"; false; }
		sed "s/^/  cleanup: /" "$T/cl$n.out" >>"$T/summary"
		left=$(find "$FAKE_WORLD/cvms" -type f | wc -l)
		[ "$left" = 2 ] || { echo "$fault: $left CVMs left after cleanup"; ls "$FAKE_WORLD/cvms"; cat "$T/cl$n.err"; false; }
		[ "$(nclaims)" = 0 ] || { echo "$fault: claims left after cleanup"; leases; cat "$T/acq$n.err" "$T/cl$n.err"; false; }
	done
	# The faults did strike: kills killed, and the sweep had work to do.
	run cat "$T/summary"
	assert_line "deploy 1 kill: acquire rc 137"
	assert_line "cvms-get 1 kill: acquire rc 137"
	assert_line "cvms-delete 1 kill: acquire rc 137"
	assert_line "deploy 1 definitive: acquire rc 1"
	assert_line "whoami 1 empty: acquire rc 5"
	assert_line "ssh - fail: acquire rc 1"
	[ "$(grep -c '^  cleanup: destroy ' "$T/summary")" -ge 8 ]
	[ "$(grep -c '^  cleanup: removed claim ' "$T/summary")" -ge 1 ]
}

@test "a claim write refused during acquire (a gateway domain phala-claim rejects) rolls back through the gate" {
	sed 's/"tdx-lease-01"/"@NAME@"/; s/dstack-pha-prod7.phala.network"/bad_domain!.example"/' "$S/get.json" >"$T/g"
	sed 's/tdx-lease-01/@NAME@/' "$S/deploy.out" >"$T/d"
	reply deploy 1 0 "$T/d"
	reply cvms-get default 0 "$T/g"
	reply cvms-delete 1 0 "$S/delete.json"
	absent_404
	run L acquire --no-attest
	assert_failure 1
	assert_output --partial "write failed"
	assert_output --partial "rolled back"
	[ "$(grep -c '^cvms delete' "$FAKE_PHALA/log")" = 1 ]
	[ "$(nclaims)" = 0 ]
}

@test "§1.2: the binding SHA-512(tag : nonce host-key-blob) that the guest and the client share matches an independent computation" {
	nonce=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
	blob=$(cut -d' ' -f2 "$T/ssh/hostkey.pub")
	want=$({ printf 'phala-lease-ssh:'; perl -e 'print pack("H*", $ARGV[0])' "$nonce"; printf '%s' "$blob" | base64 -d; } |
		openssl dgst -sha512 -r | cut -c1-128)
	run sh "$ROOT/share/phala-lease/guest-evidence.sh" report-data "$nonce" phala-lease-ssh "$blob"
	assert_output "$want"
	run sh "$ROOT/share/phala-lease/guest-evidence.sh" report-data "${nonce%?}0" phala-lease-ssh "$blob"
	refute_output "$want"
}

@test "41,U3: status --wait polls read-only gets until running; the cached host is shown; nothing is written or bootstrapped" {
	mkclaim aaaaaaaaaaaa
	rev=$(claim get aaaaaaaaaaaa revision)
	get_json tdxlease-aaaaaaaaaaaa "$APP" "$VM" starting >"$T/g1"
	get_json tdxlease-aaaaaaaaaaaa "$APP" "$VM" running >"$T/g2"
	reply cvms-get 1 0 "$T/g1"
	reply cvms-get 2 0 "$T/g1"
	reply cvms-get 3 0 "$T/g2"
	run L status --wait aaaaaaaaaaaa
	assert_success
	assert_line "  live running"
	assert_line "  host $APP-22.dstack-pha-prod7.phala.network:443"
	run cat "$FAKE_PHALA/log"
	assert_output "cvms get app_$APP --json
cvms get app_$APP --json
cvms get app_$APP --json"
	[ "$(claim get aaaaaaaaaaaa revision)" = "$rev" ]
	[ ! -e "$FAKE_SSH/log" ]
	rm -rf "$FAKE_PHALA"/*.count "$FAKE_PHALA/cvms-get"
	reply cvms-get default 0 "$T/g1"
	PHALA_LEASE_READY_TIMEOUT=1 run L status --wait aaaaaaaaaaaa
	assert_failure 5
	assert_line "  live starting"
}

@test "65: the live smoke test never runs the tool without the opt-in: environment_blocked" {
	run env -u PHALA_LEASE_LIVE BIN="$T/no-bin" sh "$ROOT/t/live/phala-lease-live.sh"
	assert_success
	assert_output environment_blocked
	PHALA_LEASE_LIVE=1 run env -u PHALA_CLOUD_API_KEY BIN="$T/no-bin" sh "$ROOT/t/live/phala-lease-live.sh"
	assert_output environment_blocked
}

@test "65: live smoke verdicts: login text => environment_blocked, quota text => quota_blocked, happy path => passed (fake CLI)" {
	list_page 1 1 "" 0 >"$T/l0"
	reply cvms-list default 0 "$T/l0"
	reply_text whoami 1 1 '{"success":false,"error":"Not authenticated. Run \"phala login\" first."}'
	PHALA_LEASE_LIVE=1 PHALA_CLOUD_API_KEY=k run sh "$ROOT/t/live/phala-lease-live.sh"
	assert_output environment_blocked
	reply deploy 1 1 "" "$S/deploy-api-error.err"
	PHALA_LEASE_LIVE=1 PHALA_CLOUD_API_KEY=k PHALA_LEASE_ATTEST=false run sh "$ROOT/t/live/phala-lease-live.sh"
	assert_output quota_blocked
	acquire_answers
	rm -rf "$FAKE_PHALA/deploy" "$FAKE_PHALA/whoami/1.rc" "$FAKE_PHALA/whoami/1.out" "$FAKE_PHALA"/*.count
	sed 's/tdx-lease-01/@NAME@/' "$S/deploy.out" >"$T/deploy.out"
	reply deploy 1 0 "$T/deploy.out"
	reply cvms-delete 1 0 "$S/delete.json"
	absent_404
	PHALA_LEASE_LIVE=1 PHALA_CLOUD_API_KEY=k PHALA_LEASE_ATTEST=false run sh "$ROOT/t/live/phala-lease-live.sh"
	assert_output passed
	log_has "^cvms delete app_$APP --force --json\$"
	[ "$(nclaims)" = 0 ]
}

@test "installed (staged DESTDIR): phala-lease finds its helpers and companions next to its bin/" {
	make -s -C "$ROOT" install DESTDIR="$T/dest" PREFIX=/opt/pt BIN="$BIN" >/dev/null
	run "$T/dest/opt/pt/bin/phala-lease" --help
	assert_success
	evidence
	unset PHALA_LEASE_DCAP_VERIFY PHALA_LEASE_COLLATERAL_FETCH
	# The real sample: its replay, DCAP (reduced) and the image step each find
	# their tool; the image itself cannot be had offline.
	PATH=/usr/bin:/bin run "$T/dest/opt/pt/bin/phala-lease" attest-verify --info "$T/info.json" --quote "$T/quote.json" \
		--compose "$T/compose.yml" --app-id "$APP_REAL" --report-data "$RD_REAL" --reduced
	assert_failure 1
	assert_output --partial "image dstack-dev-0.5.9 (de9c74f0c85d0820ce075cb4a99f8e39f7b681be632907c5bf8bdc95ea72feb9) could not be fetched"
	refute_output --partial "not found"
	# A synthetic image from the cache (DCAP stubbed): the whole gate passes.
	syn_evidence
	PATH=/usr/bin:/bin run "$T/dest/opt/pt/bin/phala-lease" attest-verify --info "$T/info.json" --quote "$T/quote.json" \
		--compose "$T/compose.yml" --app-id "$APP_REAL" --report-data "$RD_REAL"
	assert_success
	assert_line "app_id=$APP_REAL"
	assert_line "image_name=synthetic-a"
}

@test "interrupts: SIGINT to the whole process group (as a terminal sends it) during readiness polling still rolls back" {
	acquire_answers
	sed 's/"tdx-lease-01"/"@NAME@"/; s/"running"/"starting"/' "$S/get.json" >"$T/g"
	reply cvms-get default 0 "$T/g"
	reply cvms-delete 1 0 "$S/delete.json"
	absent_404
	export PHALA_LEASE_POLL=1
	acquire_signalled INT cvms-get group
	assert_rolled_back_once "rolled back" "$T/err" 130
}

# ---- issue 13: phala-lease as a user meets it --------------------------------------

@test "13.2: every --json output (acquire, status, list, doctor) has the documented type for every member" {
	command -v jq >/dev/null || fail "jq not installed (.ci/deps)"
	acquire_answers
	run L acquire --no-attest --json
	assert_success
	acq=$(grep '^{' <<<"$output")
	check_schema acquire "$acq"
	[ "$(jq -r '.gateway_port | type' <<<"$acq")" = number ]
	# Unattested: .attested is false, so jq -e fails (it succeeded on strings).
	run jq -e .attested <<<"$acq"
	assert_failure
	l=$(jq -r .lease_id <<<"$acq")
	mkclaim aaaaaaaaaaaa app_id= vm_uuid= gateway_host= gateway_port= state=creating slug=web
	reply cvms-get default 0 "$T/get-running.json"
	for one in "$l" aaaaaaaaaaaa; do
		run L status --json "$one"
		assert_success
		check_schema status "$output"
	done
	run jq -r '[.app_id, .gateway_port, .usable, .keep] | map(type) | join(" ")' <<<"$output"
	assert_output "null null boolean boolean"
	list_page 1 1 "$(item "$APP" "tdxlease-$l")" 1 >"$T/l"
	reply cvms-list default 0 "$T/l"
	run L list --json
	assert_success
	check_schema list "$output"
	[ "$(jq '.leases | length' <<<"$output")" = 2 ]
	for i in 0 1; do check_schema list.leases "$(jq -c ".leases[$i]" <<<"$output")"; done
	run L doctor --json
	assert_success
	check_schema doctor "$output"
	[ "$(jq -r '.tools | to_entries | map(.value | type) | unique | join(",")' <<<"$output")" = string ]
	run jq -r '.attestation, (.cvms | type)' <<<"$output"
	assert_output "true
number"
}

@test "13.5: --slug is used exactly or refused (exit 2) with the reason, before any deploy; the result line shows it" {
	mkclaim aaaaaaaaaaaa slug=waitme
	for bad in 'Bad_Slug!|may hold only lowercase letters, digits and' 'waitme|is taken by lease aaaaaaaaaaaa' \
		'-x|needs a value' "$(printf 'a%.0s' $(seq 41))|longer than 40" '0123456789ab|looks like a lease id'; do
		run L acquire --no-attest --slug "${bad%%|*}"
		assert_failure 2
		assert_output --partial "phala-lease: --slug: "
		assert_output --partial "${bad#*|}"
	done
	[ "$(calls)" = 0 ] # refused before any CLI call
	[ "$(nclaims)" = 1 ]
	acquire_answers
	run L acquire --no-attest --slug waitme2
	assert_success
	assert_line --regexp "^lease=[0-9a-f]{12} slug=waitme2 app_id="
	# release by slug takes the lease that has it, not an older one
	[ "$(claim get aaaaaaaaaaaa slug)" = waitme ]
}

@test "13.6: status --wait waits on a creating lease until it is usable (claim ready and attested, CVM running)" {
	mkclaim aaaaaaaaaaaa app_id= vm_uuid= gateway_host= gateway_port= state=creating attested=false
	get_json tdxlease-aaaaaaaaaaaa "$APP" "$VM" >"$T/get"
	reply cvms-get default 0 "$T/get"
	# An acquire elsewhere moves the claim on.
	(sleep 1; claim set aaaaaaaaaaaa app_id="$APP" state=provisioning >/dev/null
		sleep 1; claim set aaaaaaaaaaaa gateway_host="$APP-22.gw.example" gateway_port=443 >/dev/null
		sleep 1; claim set aaaaaaaaaaaa state=ready attested=true >/dev/null) &
	PHALA_LEASE_POLL=1 run L status --wait aaaaaaaaaaaa
	wait
	assert_success
	assert_line "  usable yes"
	assert_line --regexp "^phala-lease: lease aaaaaaaaaaaa is usable \\(after [0-9]+s\\)$"
	[ "$(claim get aaaaaaaaaaaa attested)" = true ]
}

@test "13.6: status --wait: a provisioning lease never attested times out (exit 5); a failed one returns at once (exit 1)" {
	mkclaim aaaaaaaaaaaa state=provisioning attested=false
	get_json tdxlease-aaaaaaaaaaaa "$APP" "$VM" >"$T/get"
	reply cvms-get default 0 "$T/get"
	PHALA_LEASE_POLL=1 PHALA_LEASE_READY_TIMEOUT=2 run L status --wait aaaaaaaaaaaa
	assert_failure 5
	assert_line --partial "lease aaaaaaaaaaaa is not usable: not usable after waiting 2s (ready_timeout): state provisioning"
	[ "$(grep -c '^cvms get' "$FAKE_PHALA/log")" -ge 2 ]
	mkclaim bbbbbbbbbbbb recovery=kept-after-failure keep=true
	reset_log
	PHALA_LEASE_POLL=1 run L status --wait bbbbbbbbbbbb
	assert_failure 1
	assert_line "  usable no: recovery=kept-after-failure (release it)"
	[ "$(grep -c '^cvms get' "$FAKE_PHALA/log")" = 1 ]
}

@test "13.7: durations: the forms people type are accepted, 0 and nonsense refused naming the forms; --keep with --ttl says what it means" {
	acquire_answers
	run L acquire --no-attest --ttl 1h30m --idle 1d
	assert_success
	l=$(only_claim)
	[ "$(claim get "$l" ttl_secs)" = 5400 ]
	[ "$(claim get "$l" idle_secs)" = 86400 ]
	reset_log
	for d in 0 0s 30s 59; do
		run L acquire --no-attest --ttl "$d"
		assert_failure 2
		assert_output "phala-lease: --ttl: '$d' is too short (at least 1m)"
		run L acquire --no-attest --idle "$d"
		assert_failure 2
	done
	for d in 10x 1m1h 1.5h 1h1h 100000000000000000000 367d; do
		run L acquire --no-attest --ttl "$d"
		assert_failure 2
		assert_output --partial "phala-lease: --ttl: '$d' is not a duration (forms: 300, 300s, 90m, 2h, 1d, 1h30m"
	done
	[ "$(calls)" = 0 ]
	printf 'ttl = 0\n' >"$T/c.conf"
	PHALA_LEASE_CONFIG=$T/c.conf run L acquire
	assert_failure 2
	assert_output "phala-lease: config $T/c.conf: ttl: '0' is too short (at least 1m)"
	acquire_answers
	run L acquire --no-attest --keep --ttl 30m
	assert_success
	assert_output --partial "--keep: cleanup never reaps this lease; its ttl and idle only mark it expired"
}

@test "13.7: --no-attest is recorded in the claim: use follows it with no setting on later commands; status and list say what keep means" {
	acquire_answers
	run L acquire --no-attest --keep
	assert_success
	assert_output --partial "attestation disabled by --no-attest"
	refute_output --partial "trusted configuration"
	l=$(only_claim)
	[ "$(claim get "$l" attest_required)" = false ]
	run L ssh "$l" true
	assert_success
	reply cvms-get default 0 "$T/get-running.json"
	run L status "$l"
	assert_line "  attested no (not required: attestation was off at acquire)"
	assert_line "  keep yes: cleanup never reaps it, whatever its expiry; release it yourself"
	assert_line "  usable yes"
	list_page 1 1 "$(item "$APP" "tdxlease-$l")" 1 >"$T/l"
	reply cvms-list default 0 "$T/l"
	run L list
	assert_line --regexp "^$l	-	$APP	ready	running	yes	kept \\(in (29m[0-9]+s|30m)\\)	"
}

@test "13.8: a missing option value, an empty one or a huge number is one line 'phala-lease: OPTION: why', exit 2; no shell internals" {
	for args in "acquire --ttl" "acquire --ttl=" "acquire -t" "acquire -c" "acquire --node" "acquire --slug" \
		"--node" "--phala" "release --app-id" "status --wait --json=1 x"; do
		# shellcheck disable=SC2086 # one word per argument
		run L $args
		assert_failure 2
		[ "${#lines[@]}" = 1 ] || fail "$args: ${#lines[@]} lines: $output"
		assert_output --regexp "^phala-lease: (-t|-c|--[a-z-]+): (needs a value|takes no value) \\(see 'phala-lease( [a-z-]+)? --help'\\)$"
	done
	run L acquire --ttl ''
	assert_failure 2
	assert_output "phala-lease: --ttl: needs a value (see 'phala-lease acquire --help')"
	run L acquire --idle 99999999999999999999
	assert_failure 2
	refute_output --partial "Illegal number"
	refute_output --partial "parameter not set"
	[ "$(calls)" = 0 ]
}

@test "13.8: the phala CLI missing from PATH says how to install the pinned version the suite is tested with" {
	pinned=$(sed -n 's/.*"phala": *"\([0-9.]*\)".*/\1/p' "$ROOT/t/sim/phala-cli/package.json" | head -n 1)
	[ -n "$pinned" ]
	PHALA_LEASE_PHALA=phala PATH=$BIN:/usr/bin:/bin run L doctor
	assert_failure 4
	assert_output "phala-lease: the phala CLI 'phala' is not installed or not executable; install the version this suite is tested with: npm install -g phala@$pinned (or name it with --phala, PHALA_LEASE_PHALA or phala = in the config)"
	refute_output --partial "timeout:"
}

@test "13.9: every command takes -h/--help (usage on stdout, exit 0, nothing run) and refuses unknown arguments (exit 2)" {
	run L --version
	assert_success
	assert_output "phala-lease (phala-tools) $(sed -n "s/^VERSION = //p" "$ROOT/Makefile")"
	for c in doctor acquire run status list ssh ssh-config release cleanup attest-verify; do
		for h in -h --help; do
			run --separate-stderr L "$c" "$h"
			assert_success
			[ -z "$stderr" ] || fail "$c $h wrote to stderr: $stderr"
			assert_line --index 0 --regexp "^usage: phala-lease $c( |\$)"
		done
		run L "$c" --bogus
		assert_failure 2
		assert_output "phala-lease: --bogus: unknown option (see 'phala-lease $c --help')"
	done
	run L release --help 0123456789ab
	assert_success
	run L doctor foo
	assert_failure 2
	assert_output "phala-lease: foo: unexpected argument (see 'phala-lease doctor --help')"
	run L list extra
	assert_failure 2
	run L status a b
	assert_failure 2
	[ "$(calls)" = 0 ]
	[ ! -e "$CLAIMS" ]
}

@test "13.10: no /tmp/phala-lease.* is left by a failure, an early interrupt or a closed output pipe" {
	export TMPDIR=$T/tmp
	mkdir -p "$TMPDIR"
	reply deploy 1 1 "" "$S/deploy-api-error.err"
	run L acquire --no-attest
	assert_failure 1
	run ls -A "$TMPDIR"
	assert_output ""
	# Ctrl-C while whoami runs (before any claim)
	echo 3 >"$FAKE_PHALA/whoami/default.sleep"
	set -m
	"$BIN/phala-lease" doctor >/dev/null 2>&1 &
	pid=$!
	set +m
	for _ in $(seq 50); do [ -f "$FAKE_PHALA/whoami.count" ] && break; sleep 0.1; done
	kill -INT "$pid"
	rc=0
	wait "$pid" || rc=$?
	[ "$rc" = 130 ]
	rm "$FAKE_PHALA/whoami/default.sleep"
	run ls -A "$TMPDIR"
	assert_output ""
	for l in aaaaaaaaaaaa bbbbbbbbbbbb cccccccccccc; do mkclaim "$l"; done
	run sh -c '"$1" ssh-config | head -n 1' sh "$BIN/phala-lease"
	assert_success
	run ls -A "$TMPDIR"
	assert_output ""
}

@test "13.10: an interrupted acquire --json prints nothing but JSON on stdout and exits 130" {
	acquire_answers
	echo 2 >"$FAKE_PHALA/deploy/1.sleep"
	reply cvms-delete 1 0 "$S/delete.json"
	absent_404
	set -m
	"$BIN/phala-lease" acquire --no-attest --json >"$T/out" 2>"$T/err" &
	pid=$!
	set +m
	for _ in $(seq 100); do [ -f "$FAKE_PHALA/deploy.count" ] && break; sleep 0.1; done
	kill -INT "$pid"
	rc=0
	wait "$pid" || rc=$?
	[ "$rc" = 130 ] || { cat "$T/err"; fail "rc=$rc"; }
	[ ! -s "$T/out" ] || fail "stdout: $(cat "$T/out")"
	grep -q '^destroy app_id=' "$T/err"
	[ "$(nclaims)" = 0 ]
}

@test "13.10: ssh to a CVM deleted behind the tool's back says so (exit 4); status exits 4 with live absent" {
	mkclaim aaaaaaaaaaaa
	touch "$FAKE_SSH/fail"
	reply cvms-get default 1 "$S/get-not-found.json"
	absent_404
	run L ssh aaaaaaaaaaaa true
	assert_failure 4
	assert_output --partial "its CVM app_$APP no longer exists (deleted outside phala-lease); phala-lease release aaaaaaaaaaaa removes the claim"
	run L status aaaaaaaaaaaa
	assert_failure 4
	assert_line "  live absent"
	assert_line --partial "  usable no: its CVM no longer exists"
	has_claim aaaaaaaaaaaa
}

@test "13.10: list and status show expiry as time, with an expired marker; no raw epoch, no 'host -:-'; a directory as compose is named" {
	now=$(date +%s)
	mkclaim aaaaaaaaaaaa expires_at=$((now - 200))
	mkclaim bbbbbbbbbbbb app_id= vm_uuid= gateway_host= gateway_port= state=creating
	list_page 1 1 "$(item "$APP" tdxlease-aaaaaaaaaaaa)" 1 >"$T/l"
	reply cvms-list default 0 "$T/l"
	run L list
	assert_success
	assert_line --regexp "^aaaaaaaaaaaa	.*	expired 3m(1[0-9]|2[0-9])?s? ago	"
	refute_output --partial "$((now - 200))"
	run L status bbbbbbbbbbbb
	assert_success
	assert_line "  host -"
	assert_line --regexp "^  expires [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}Z \\(in (29m[0-9]*s?|30m)\\)$"
	mkdir "$T/work/compose.d"
	run L acquire --no-attest -c compose.d
	assert_failure 2
	assert_output "phala-lease: compose 'compose.d': a directory, not a compose file"
}

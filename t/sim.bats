#!/usr/bin/env bats
# check: sanitizer-only
# End to end against the local Phala simulator (t/sim/sim): the real phala CLI
# and mock API, a real sshd per CVM behind a TLS gateway, a dstack guest agent
# whose quotes are signed by a TEST root. The attestation gate is on: fresh
# nonce, host-key binding, replay, DCAP against the test root, app id and
# compose binding. Each misbehaving CVM must be refused and destroyed.

load helpers/common
load helpers/mock-api
load helpers/sim
bats_require_minimum_version 1.5.0

setup() {
	need_sim
	sim_start
	cd "$BATS_TEST_TMPDIR/work" || return 1
}

teardown() {
	sim_stop
}

lease_of() { printf '%s\n' "$1" | sed -n 's/^lease=\([0-9a-f]*\) .*/\1/p'; }

# refused MODE: an acquire against a CVM misbehaving in MODE fails with exit 1,
# the CVM it made is deleted (a DELETE in the request log, no record left), no claim.
refused() {
	"$SIM" mode "$SIM_DIR" "$1"
	run "$BIN/phala-lease" acquire
	assert_failure 1
	assert_output --partial "rolled back (CVM destroyed, claim removed)"
	acq=$output
	app=$(sed -n 's/.*destroy app_id=\([0-9a-f]*\) .*/\1/p' <<<"$output")
	[ -n "$app" ]
	grep -q " DELETE /cvms/app_$app " "$MOCK_DIR/requests.txt"
	run sim_cvms
	assert_output ""
	[ ! -d "$SIM_DIR/cvms/$app" ]
	run "$BIN/phala-json" items - claims lease_id <<<"$("$BIN/phala-claim" --json list)"
	assert_output ""
	output=$acq # for the caller's assertions on the refusal message
}

@test "acquire with the gate on, ssh, release: the CVM's quote verifies against the TEST root only" {
	run "$BIN/phala-lease" acquire
	assert_success
	# The verdict says what DCAP established, and against which root.
	assert_output --partial "attestation passed (DCAP: quote, PCK chain and collateral verified, TCB status UpToDate accepted; root: NOT the pinned Intel root)"
	l=$(lease_of "$output")
	app=$(sed -n 's/.* app_id=\([0-9a-f]*\) .*/\1/p' <<<"$output")
	[ -n "$l" ] && [ -n "$app" ]
	run "$BIN/phala-lease" ssh "$l" -- cat /etc/ssh/ssh_host_ed25519_key.pub
	assert_success
	assert_output "$(cat "$SIM_DIR/cvms/$app/hostkey.pub")"
	# The CVM's sshd and its sessions are the unprivileged test user, never root.
	user=$(sh "$ROOT/t/helpers/test-user.sh")
	run "$BIN/phala-lease" ssh "$l" -- 'id -un; id -u'
	assert_success
	assert_line --index 0 "$user"
	[ "${lines[1]}" -ne 0 ]
	run ps -o uid= -p "$(cat "$SIM_DIR/cvms/$app/sshd.pid")"
	assert_output --regexp "^ *$(id -u "$user")\$"
	# Its /tmp is its own: a file written there is not on this machine's /tmp.
	run "$BIN/phala-lease" ssh "$l" -- "echo x >/tmp/sim-private-$l"
	assert_success
	[ ! -e "/tmp/sim-private-$l" ]
	# The same agent's quote: DCAP accepts it under the test root, Intel's root refuses it.
	curl -fsS --unix-socket "$SIM_DIR/cvms/$app/dstack.sock" "http://dstack/GetQuote?report_data=00" >"$BATS_TEST_TMPDIR/q.json"
	"$BIN/phala-json" value "$BATS_TEST_TMPDIR/q.json" quote >"$BATS_TEST_TMPDIR/q.hex"
	# Its log is stripped as dstack >= 0.5.6 strips it: runtime digests empty,
	# boot payloads empty but for the three "ACPI DATA" events.
	run node -e '
		const q = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
		const log = JSON.parse(q.event_log), rt = log.filter((e) => e.imr === 3);
		console.log(rt.length, rt.filter((e) => e.digest !== "").length,
			log.filter((e) => e.imr !== 3 && e.event_payload !== "").map((e) => e.event_payload).join(","));
	' "$BATS_TEST_TMPDIR/q.json"
	assert_output "10 0 414350492044415441,414350492044415441,414350492044415441"
	run "$BIN/tdx-dcap-verify" --root-ca "$SIM_ROOT_CA" --collateral "$SIM_DIR/collateral.json" "$BATS_TEST_TMPDIR/q.hex"
	assert_success
	# The CVM booted the synthetic image a: its vm_config names it and its
	# quote's MRTD and RTMR0-2 are what tdx-measure recomputes from it.
	a=$(cat "$SIM_DIR/image/a/os_image_hash")
	run "$BIN/tdx-measure" --image "$SIM_DIR/image/a/image" "$BATS_TEST_TMPDIR/q.json"
	assert_success
	assert_line "os_image_hash: $a (the claimed one: its sha256sum.txt matches)"
	assert_line "result: all four registers equal the evidence's quote"
	run "$BIN/tdx-dcap-verify" --collateral "$SIM_DIR/collateral.json" "$BATS_TEST_TMPDIR/q.hex"
	assert_failure
	run "$BIN/phala-lease" release "$l"
	assert_success
	assert_output "destroy app_id=$app lease=$l reason=release"
	run sim_cvms
	assert_output ""
	[ ! -d "$SIM_DIR/cvms/$app" ]
}

@test "gate refuses a quote for another app id; CVM destroyed" {
	refused wrong-app
	assert_output --partial "app-id"
}

@test "gate refuses a compose other than the deployed one; CVM destroyed" {
	refused wrong-compose
	assert_output --partial "compose"
}

@test "gate refuses a stale quote (not over our nonce); CVM destroyed" {
	refused stale
	assert_output --partial "report"
}

@test "gate refuses a quote bound to another SSH host key; CVM destroyed" {
	refused wrong-hostkey
	assert_output --partial "report"
}

@test "issue 11: the image is recomputed: fetched once from the mirror, then from the cache offline; the claim's evidence names it" {
	a=$(cat "$SIM_DIR/image/a/os_image_hash")
	run "$BIN/phala-lease" acquire
	assert_success
	assert_output --partial "attestation: image dstack-sim-a ($a): MRTD and RTMR0-2 recomputed from its full material equal the quote's; the ACPI tables' digests from the event log, not verified"
	l=$(lease_of "$output")
	run sh -c 'for f in os_image_hash image image_name acpi mrtd; do "$1" get "$2" "evidence_$f"; done' sh "$BIN/phala-claim" "$l"
	assert_output "$(printf '%s\nfull\ndstack-sim-a\nlog\n%s' "$a" "$("$BIN/phala-json" get "$SIM_DIR/image/size-1-2147483648/a/measure.json" mrtd)")"
	run cat "$SIM_DIR/mirror.log"
	assert_output "GET /mr_$a.tar.gz 200"
	[ -f "$SIM_DIR/image-cache/mr_$a.tar.gz" ]
	# A second lease: the cached image, no request to the mirror.
	run "$BIN/phala-lease" acquire
	assert_success
	l2=$(lease_of "$output")
	run cat "$SIM_DIR/mirror.log"
	assert_output "GET /mr_$a.tar.gz 200"
	[ "$("$BIN/phala-claim" get "$l2" evidence_image_name)" = dstack-sim-a ]
	"$BIN/phala-lease" release "$l" >/dev/null
	"$BIN/phala-lease" release "$l2" >/dev/null
}

# vm_size APP: the cpu_count and memory_size of APP's vm_config in its guest
# agent's Info and in its GetQuote answer (one line each).
vm_size() {
	local a
	for a in Info GetQuote; do
		curl -fsS --unix-socket "$SIM_DIR/cvms/$1/dstack.sock" "http://dstack/$a" |
			node -e 'const v = JSON.parse(JSON.parse(require("fs").readFileSync(0, "utf8")).vm_config);
				console.log(process.argv[1], v.cpu_count, v.memory_size);' "$a"
	done
}

@test "issue 11: each CVM's evidence is at its instance type's size: tdx.small and tdx.medium both pass the gate, their RTMR0 differ" {
	for t in tdx.small tdx.medium; do
		run "$BIN/phala-lease" acquire -t "$t"
		assert_success
		assert_output --partial "MRTD and RTMR0-2 recomputed from its full material equal the quote's"
		eval "l_${t#tdx.}=\$(lease_of \"\$output\")"
		eval "app_${t#tdx.}=\$(sed -n 's/.* app_id=\([0-9a-f]*\) .*/\1/p' <<<\"\$output\")"
	done
	# shellcheck disable=SC2154 # set by the eval above
	[ -n "$l_small" ] && [ -n "$l_medium" ] && [ -n "$app_small" ] && [ -n "$app_medium" ]
	# The API's size of each type (mock-api.js SIZES) is the size its CVM booted.
	[ "$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).vcpu)' "$MOCK_DIR/cvms/$app_medium.json")" = 2 ]
	run vm_size "$app_small"
	assert_output "$(printf 'Info 1 2147483648\nGetQuote 1 2147483648')"
	run vm_size "$app_medium"
	assert_output "$(printf 'Info 2 4294967296\nGetQuote 2 4294967296')"
	# The claims' evidence: the same image, registers of another size (the TD HOB in RTMR0).
	C() { "$BIN/phala-claim" get "$@"; }
	[ "$(C "$l_small" evidence_os_image_hash)" = "$(C "$l_medium" evidence_os_image_hash)" ]
	r_small=$(C "$l_small" evidence_rtmr0) r_medium=$(C "$l_medium" evidence_rtmr0)
	[[ $r_small =~ ^[0-9a-f]{96}$ ]] && [[ $r_medium =~ ^[0-9a-f]{96}$ ]]
	[ "$r_small" != "$r_medium" ]
	[ "$r_small" = "$("$BIN/phala-json" get "$SIM_DIR/image/size-1-2147483648/a/measure.json" rtmr0)" ]
	[ "$r_medium" = "$("$BIN/phala-json" get "$SIM_DIR/image/size-2-4294967296/a/measure.json" rtmr0)" ]
	# Made once per size: a second tdx.small CVM reuses the first one's.
	run "$BIN/phala-lease" acquire
	assert_success
	l3=$(lease_of "$output")
	run sh -c 'cd "$1/image" && ls -d size-*' sh "$SIM_DIR"
	assert_output "$(printf 'size-1-2147483648\nsize-2-4294967296')"
	for l in "$l_small" "$l_medium" "$l3"; do "$BIN/phala-lease" release "$l" >/dev/null; done
}

@test "issue 11: a CVM with dstack's lite material: recomputed from its vm_config, nothing fetched; the claim says lite" {
	"$SIM" mode "$SIM_DIR" lite
	run "$BIN/phala-lease" acquire
	assert_success
	assert_output --partial "attestation: image dstack-sim-lite ($(cat "$SIM_DIR/image/d/os_image_hash")): MRTD and RTMR0-2 recomputed from its lite material equal the quote's"
	l=$(lease_of "$output")
	[ "$("$BIN/phala-claim" get "$l" evidence_image)" = lite ]
	[ "$("$BIN/phala-claim" get "$l" evidence_image_name)" = dstack-sim-lite ]
	run cat "$SIM_DIR/mirror.log"
	assert_output ""
	"$BIN/phala-lease" release "$l" >/dev/null
}

@test "issue 11: a CVM whose kernel is not the one of the image it claims is refused, naming RTMR1's kernel event; CVM destroyed" {
	refused wrong-kernel
	assert_output --regexp "registers are not those of image dstack-sim-a \([0-9a-f]{64}\): rtmr1 event 0 \(kernel\): expected [0-9a-f]{96}, log has [0-9a-f]{96}"
}

@test "issue 11: an os_image_hash that is not allowed is refused before any download; CVM destroyed" {
	refused unknown-image
	assert_output --partial "os_image_hash $(cat "$SIM_DIR/image/c/os_image_hash") is not in the allowed-image list $SIM_DIR/allowed-images; to allow a release"
	run cat "$SIM_DIR/mirror.log"
	assert_output ""
}

@test "issue 11: the image mirror serves only its files, logs each request, and stops with the simulator or on its orphan guard" {
	m=$(cat "$SIM_DIR/mirror.pid")
	port=$(cat "$SIM_DIR/mirror.port")
	a=$(cat "$SIM_DIR/image/a/os_image_hash")
	curl -fsS -o "$BATS_TEST_TMPDIR/a.tgz" "http://127.0.0.1:$port/mr_$a.tar.gz"
	cmp "$BATS_TEST_TMPDIR/a.tgz" "$SIM_DIR/image/a/mr_$a.tar.gz"
	run curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/"
	assert_output 403
	run curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/../env"
	assert_output 404
	run cat "$SIM_DIR/mirror.log"
	assert_output "$(printf 'GET /mr_%s.tar.gz 200\nGET / 403\nGET /env 404' "$a")"
	# gone PID: it exits within 5 s (a TERM is not waited for).
	gone() { for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done; return 1; }
	"$SIM" stop "$SIM_DIR"
	gone "$m"
	# A simulator whose watched process dies: its mirror goes by itself.
	sleep 300 &
	w=$!
	SIM_BIN=$BIN "$SIM" start "$BATS_TEST_TMPDIR/sim2" --watch-pid "$w" >/dev/null
	m2=$(cat "$BATS_TEST_TMPDIR/sim2/mirror.pid")
	kill -0 "$m2"
	kill "$w"
	gone "$m2"
	"$SIM" stop "$BATS_TEST_TMPDIR/sim2"
}

@test "a gateway certificate from another CA: the proxy refuses before SSH starts; CVM destroyed" {
	refused rogue-tls
	assert_output --partial "not reachable"
	# The user is told why: the proxy's refusal, not only ssh's "connection closed".
	assert_output --partial "untrusted issuer"
	# The client aborted every handshake (unknown CA); no connection reached sshd.
	grep -q 'tls error: .*unknown ca' "$SIM_DIR/gw/log"
	run grep -c 'route=' "$SIM_DIR/gw/log"
	assert_output 0
}

@test "load: 5 leases acquired and released concurrently with cleanup looping: none lost, none leaked, foreign CVM kept" {
	sim_stop # load.sh runs its own simulator
	SIM_DIR=''
	run sh "$ROOT/t/sim/load.sh" 5
	assert_success
	assert_line --regexp '^load: 5 leases: [0-9]+ ok, [0-9]+ failed cleanly; .* claims left 0; CVMs leaked 0; foreign CVM kept$'
	refute_line --partial 'FAIL'
}

@test "13.3, 13.4: ssh, scp and rsync -e ssh reach a lease by name alone through a real ~/.ssh/config; each connection is use" {
	# The README's set-up: ~/.ssh/config includes contrib's snippet, which
	# includes the file phala-lease keeps current (default state directory).
	export XDG_STATE_HOME=$HOME/.local/state
	mkdir -p "$HOME/.ssh"
	chmod 700 "$HOME/.ssh"
	printf 'Include %s\n' "$ROOT/contrib/ssh_config.d/phala.conf" >"$HOME/.ssh/config"
	chmod 600 "$HOME/.ssh/config"
	run "$BIN/phala-lease" acquire --slug box
	assert_success
	l=$(lease_of "$output")
	[ -n "$l" ]
	grep -q "^Host $l.phala box.phala\$" "$XDG_STATE_HOME/phala-lease/ssh_config"
	# ssh reads ~/.ssh/config of the passwd home: this test's home takes its
	# place in a mount namespace of the client's own.
	root_home=$(getent passwd 0 | cut -d: -f6)
	by_name() { sh "$ROOT/t/helpers/in-mount-ns.sh" "$HOME" "$root_home" "$@"; }
	C() { "$BIN/phala-claim" "$@"; }
	C set "$l" last_touched_at=1000 >/dev/null
	t0=$(date +%s)
	run by_name ssh "$l.phala" true
	assert_success
	[ "$(C get "$l" last_touched_at)" -ge "$t0" ] # the proxy recorded the use
	[ "$(C get "$l" expires_at)" -gt "$t0" ]
	# shellcheck disable=SC2016 # expanded by the remote shell
	run by_name ssh box.phala 'echo $((6 * 7))'
	assert_success
	assert_output 42
	head -c 100000 /dev/urandom >"$BATS_TEST_TMPDIR/blob"
	run by_name scp -q "$BATS_TEST_TMPDIR/blob" "$l.phala:/tmp/blob"
	assert_success
	run by_name scp -q "$l.phala:/tmp/blob" "$BATS_TEST_TMPDIR/blob.back"
	assert_success
	cmp "$BATS_TEST_TMPDIR/blob" "$BATS_TEST_TMPDIR/blob.back"
	mkdir -p "$BATS_TEST_TMPDIR/tree/sub"
	echo one >"$BATS_TEST_TMPDIR/tree/a"
	echo two >"$BATS_TEST_TMPDIR/tree/sub/b"
	run by_name rsync -a -e ssh "$BATS_TEST_TMPDIR/tree/" "$l.phala:/tmp/tree/"
	assert_success
	run by_name rsync -a -e ssh "$l.phala:/tmp/tree/" "$BATS_TEST_TMPDIR/tree.back/"
	assert_success
	diff -r "$BATS_TEST_TMPDIR/tree" "$BATS_TEST_TMPDIR/tree.back"
	run "$BIN/phala-lease" release "$l"
	assert_success
	run grep -c "$l" "$XDG_STATE_HOME/phala-lease/ssh_config"
	assert_output 0
	run by_name ssh "$l.phala" true
	assert_failure
}

#!/usr/bin/env bats
# Contract test: phala-lease driving the REAL `phala` CLI (npm phala@1.1.18,
# installed by t/sim/install-phala-cli.sh into build/phala-cli) against a loopback mock of the Phala
# Cloud API (t/helpers/mock-phala-api.js) that records the requests it got.
# SSH is the fake (the CVM does not exist); attestation is off here (its gate
# is covered in phala-lease.bats and, live, by the simulator of issue 7).

load helpers/common
bats_require_minimum_version 1.5.0

PHALA_REAL=${PHALA_REAL_CLI:-$ROOT/build/phala-cli/node_modules/.bin/phala}

setup() {
	[ -x "$PHALA_REAL" ] || skip "real phala CLI not installed (sh t/sim/install-phala-cli.sh)"
	command -v node >/dev/null || skip "node not installed"
	T=$BATS_TEST_TMPDIR
	mkdir -p "$T/mock" "$T/ssh" "$T/home" "$T/work"
	node "$ROOT/t/helpers/mock-phala-api.js" "$T/mock" &
	echo $! >"$T/mock.pid"
	for _ in $(seq 100); do [ -s "$T/mock/port" ] && break; sleep 0.05; done
	[ -s "$T/mock/port" ]
	export HOME=$T/home XDG_STATE_HOME=$T/state XDG_CONFIG_HOME=$T/config PHALA_CLOUD_DIR=$T/pc
	port=$(cat "$T/mock/port")
	export PHALA_CLOUD_API_KEY=test-key PHALA_CLOUD_API_PREFIX=http://127.0.0.1:$port/api/v1
	export PHALA_LEASE_PHALA=$PHALA_REAL PHALA_LEASE_SSH=$ROOT/t/helpers/fake-ssh FAKE_SSH=$T/ssh
	export PHALA_LEASE_CLAIM=$BIN/phala-claim PATH=$BIN:$PATH PHALA_LEASE_POLL=0
	export PHALA_LEASE_ABSENCE_TRIES=3 PHALA_LEASE_ATTEST=false
	ssh-keygen -q -t ed25519 -N '' -f "$T/ssh/hostkey"
	cd "$T/work" || return 1
}

teardown() {
	if [ -f "$T/mock.pid" ]; then kill "$(cat "$T/mock.pid")" 2>/dev/null || true; fi
}

# The recorded requests as "METHOD URL VERSION KEY-OK" lines, and one field.
requests() {
	{ printf '['; paste -sd, "$T/mock/requests.jsonl"; printf ']'; } >"$T/requests.json"
	"$BIN/phala-json" items "$T/requests.json" '' method url version key
}

@test "acquire (to the SSH step) and release drive the real CLI; the API sees exactly the expected requests" {
	run "$BIN/phala-lease" acquire --json
	assert_success
	line=$(printf '%s\n' "$output" | grep '^{')
	l=$(printf '%s\n' "$line" | "$BIN/phala-json" get - lease_id)
	app=$(printf '%s\n' "$line" | "$BIN/phala-json" get - app_id)
	[ "$(printf '%s\n' "$line" | "$BIN/phala-json" get - gateway_host)" = "$app-22.gw.test.example" ]
	run requests
	assert_output "$(printf 'GET\t/api/v1/auth/me\t2026-01-21\ttrue
POST\t/api/v1/cvms/provision\t2025-10-28\ttrue
POST\t/api/v1/cvms\t2025-10-28\ttrue
GET\t/api/v1/cvms/app_%s\t2026-01-21\ttrue' "$app")"
	# The provision request: our name, type, dev image, the lease key's env only, our compose.
	"$BIN/phala-json" items "$T/requests.json" '' body.name body.instance_type body.prefer_dev body.kms >"$T/prov"
	run sed -n 2p "$T/prov"
	assert_output "$(printf 'tdxlease-%s\ttdx.small\ttrue\tPHALA' "$l")"
	run sh -c "sed -n 2p '$T/mock/requests.jsonl' | '$BIN/phala-json' value - body.compose_file.allowed_envs"
	assert_output '["DSTACK_AUTHORIZED_KEYS"]'
	sed -n 2p "$T/mock/requests.jsonl" | "$BIN/phala-json" value - body.compose_file.docker_compose_file >"$T/sent.yml"
	cmp "$T/sent.yml" "$ROOT/share/phala-lease/default-compose.yml"

	: >"$T/mock/requests.jsonl"
	run "$BIN/phala-lease" release "$l"
	assert_success
	assert_output "destroy app_id=$app lease=$l reason=release"
	run requests
	assert_output "$(printf 'GET\t/api/v1/auth/me\t2026-01-21\ttrue
GET\t/api/v1/cvms/app_%s\t2026-01-21\ttrue
GET\t/api/v1/cvms/app_%s\t2026-01-21\ttrue
DELETE\t/api/v1/cvms/app_%s\t2026-01-21\ttrue
GET\t/api/v1/cvms/app_%s\t2026-01-21\ttrue' "$app" "$app" "$app" "$app")"
	run "$BIN/phala-json" items - claims lease_id <<<"$("$PHALA_LEASE_CLAIM" --json list)"
	assert_output ""
}

@test "cleanup with the real CLI: paginated list, expired lease destroyed, a foreign-named CVM untouched" {
	printf 'services: {}\n' >"$T/other.yml"
	mkdir "$T/empty"
	(cd "$T/empty" && "$PHALA_REAL" deploy --json -n production-db -c "$T/other.yml" --dev-os --ssh-pubkey "$T/ssh/hostkey.pub" </dev/null >/dev/null)
	foreign=$(printf production-db | sha1sum | cut -c1-40) # the mock's app id rule
	run "$BIN/phala-lease" acquire --ttl 1s
	assert_success
	: >"$T/mock/requests.jsonl"
	PHALA_LEASE_NOW=$(($(date +%s) + 60)) run "$BIN/phala-lease" cleanup
	assert_success
	assert_line --regexp '^destroy app_id=[0-9a-f]{40} lease=[0-9a-f]{12} reason=expired$'
	run requests
	assert_line --regexp $'^GET\t/api/v1/apps\\?page=1&page_size=100\t2026-01-21\ttrue$'
	assert_line --partial $'POST\t/api/v1/status/batch'
	run grep -c '"method":"DELETE"' "$T/mock/requests.jsonl"
	assert_output 1
	run grep -c "\"url\":\"/api/v1/cvms/app_$foreign\"" "$T/mock/requests.jsonl"
	assert_output 0
	run grep -c '"method":"PATCH"' "$T/mock/requests.jsonl"
	assert_output 0
}

@test "without credentials the real CLI's whoami fails locally: exit 1, no request sent, no claim, no key" {
	PHALA_CLOUD_API_KEY='' run "$BIN/phala-lease" acquire
	assert_failure 1
	assert_output --partial 'Not authenticated'
	[ ! -e "$T/mock/requests.jsonl" ]
	[ ! -e "$XDG_STATE_HOME/phala-lease/leases" ] || [ -z "$(ls "$XDG_STATE_HOME/phala-lease/leases")" ]
}

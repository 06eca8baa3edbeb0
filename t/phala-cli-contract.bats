#!/usr/bin/env bats
# check: build-independent
# Contract of the real `phala` CLI (pinned 1.1.18, t/sim/install-phala-cli.sh)
# against the loopback mock of the Phala Cloud API (t/sim/mock-api.sh): the
# streams, shapes and exit codes of ../shared/notes/phala-cli.md and its
# samples (testdata/phala-samples/), and the requests the CLI sends.
# Every test skips, with the reason, when the CLI could not be installed;
# the mock's own behaviour is tested without the CLI in t/mock-api.bats.

bats_require_minimum_version 1.5.0
load helpers/common
load helpers/mock-api

S=$DATA/phala-samples
NAME=tdx-lease-01

setup() {
	need_phala_cli
	mock_start
	printf 'services:\n  app:\n    image: alpine@sha256:%s\n' "$(printf '0%.0s' $(seq 64))" >"$BATS_TEST_TMPDIR/compose.yml"
	ssh-keygen -q -t ed25519 -N '' -C lease-key -f "$BATS_TEST_TMPDIR/lease_key" </dev/null >/dev/null
}

teardown() {
	mock_stop
}

# deploy: the recommended create invocation (phala-cli.md §4).
deploy() {
	phala deploy --json -n "$NAME" -c "$BATS_TEST_TMPDIR/compose.yml" -t tdx.small --dev-os \
		--ssh-pubkey "$BATS_TEST_TMPDIR/lease_key.pub"
}

# deployed: deploys and prints the new app id.
deployed() {
	deploy >"$BATS_TEST_TMPDIR/deploy.out" || return 1
	sed 1d "$BATS_TEST_TMPDIR/deploy.out" | json o.app_id
}

# seeded: seeds a CVM named $NAME in the mock (as a deploy would leave it) and
# prints its app id; faster than a deploy where the deploy is not under test.
seeded() { "$MOCK_API" add "$MOCK_DIR" name="$NAME"; }

# nokey ARGS...: the CLI with no key at all (run's subshell keeps the unset local).
nokey() {
	unset PHALA_CLOUD_API_KEY
	phala "$@"
}

# keys FILE: the sorted top-level keys of a JSON object.
keys() { json 'Object.keys(o).sort().join(" ")' "$1"; }

@test "the CLI is the pinned version" {
	run --separate-stderr "$PHALA_CLI" --version
	assert_success
	assert_output --regexp '^v1\.1\.18\+[0-9a-f]+$'
}

@test "whoami --json: pre-flight on GET /auth/me with the key header" {
	run --separate-stderr phala whoami --json
	assert_success
	[ -z "$stderr" ]
	assert_equal "$(printf '%s' "$output" | json 'Object.keys(o).join(" ")')" "success username email workspace profile"
	assert_equal "$(printf '%s' "$output" | json o.workspace)" sim-team
	run cat "$MOCK_DIR/requests.txt"
	assert_output "1 GET /auth/me key=ok ver=2026-01-21 status=200"
}

@test "a wrong key is refused by the mock: success false on stdout, rc 1" {
	PHALA_CLOUD_API_KEY=not-the-key run --separate-stderr phala whoami --json
	assert_failure 1
	assert_equal "$output" "$(printf '{\n  "success": false,\n  "error": "Invalid API key"\n}')"
	run cat "$MOCK_DIR/requests.txt"
	assert_output "1 GET /auth/me key=bad ver=2026-01-21 status=401"
}

@test "without any key, cvms list is sent without X-API-Key and fails" {
	run --separate-stderr nokey cvms list --json
	assert_failure 1
	assert_equal "$(printf '%s' "$output" | json o.success)" false
	run cat "$MOCK_DIR/requests.txt"
	assert_output "1 GET /apps?page=1&page_size=50 key=missing ver=2026-01-21 status=401"
}

@test "deploy --json: progress line then the sample's keys on stdout; provision then create" {
	run --separate-stderr deploy
	assert_success
	assert_equal "$stderr" ""
	assert_line --index 0 "Provisioning CVM $NAME..."
	sed 1d <<<"$output" >"$BATS_TEST_TMPDIR/got.json"
	sed 1d "$S/01-deploy--json.stdout.txt" >"$BATS_TEST_TMPDIR/want.json"
	# Same keys, in the same order, as the captured sample.
	assert_equal "$(json 'Object.keys(o).join(" ")' "$BATS_TEST_TMPDIR/got.json")" \
		"$(json 'Object.keys(o).join(" ")' "$BATS_TEST_TMPDIR/want.json")"
	app=$(json o.app_id "$BATS_TEST_TMPDIR/got.json")
	uuid=$(json o.vm_uuid "$BATS_TEST_TMPDIR/got.json")
	assert_regex "$app" '^[0-9a-f]{40}$'
	assert_equal "$(json o.name "$BATS_TEST_TMPDIR/got.json")" "$NAME"
	assert_equal "$(json o.dashboard_url "$BATS_TEST_TMPDIR/got.json")" "https://cloud.phala.com/dashboard/cvms/$uuid"
	# Exactly two requests, both with the key, in version 2025-10-28.
	run cat "$MOCK_DIR/requests.txt"
	assert_output "$(printf '%s\n' \
		"1 POST /cvms/provision key=ok ver=2025-10-28 status=200" \
		"2 POST /cvms key=ok ver=2025-10-28 status=200")"
	# The provision body (§13 A2).
	assert_equal "$(mock_request 1 o.body.name)" "$NAME"
	assert_equal "$(mock_request 1 o.body.instance_type)" tdx.small
	assert_equal "$(mock_request 1 o.body.prefer_dev)" true
	assert_equal "$(mock_request 1 o.body.kms)" PHALA
	assert_equal "$(mock_request 1 o.body.listed)" false
	assert_equal "$(mock_request 1 o.body.compose_file.allowed_envs)" '["DSTACK_AUTHORIZED_KEYS"]'
	assert_equal "$(mock_request 1 o.body.compose_file.docker_compose_file)" "$(cat "$BATS_TEST_TMPDIR/compose.yml")"
	# The create body carries the provisioned app id and the sealed env.
	assert_equal "$(mock_request 2 'Object.keys(o.body).sort().join(" ")')" "app_id compose_hash encrypted_env"
	assert_equal "$(mock_request 2 o.body.app_id)" "$app"
	# The mock opened the env: the lease's public key is the only authorized key.
	assert_equal "$(json 'o.env.map((e) => e.key).join(" ")' "$MOCK_DIR/cvms/$app.env")" DSTACK_AUTHORIZED_KEYS
	assert_equal "$(json 'o.env[0].value' "$MOCK_DIR/cvms/$app.env")" "$(cat "$BATS_TEST_TMPDIR/lease_key.pub")"
}

@test "deploy --json, API error on provision: sample 02 on stderr, progress line only, no create" {
	"$MOCK_API" fault "$MOCK_DIR" provision '{"status":400,"body":{"detail":{"error_code":"ERR-01-005","message":"No available resources match your requirements","details":[{"field":"instance_type","value":"tdx.small"}],"suggestions":["Try another region"],"links":[]}}}'
	run --separate-stderr deploy
	assert_failure 1
	assert_equal "$output" "Provisioning CVM $NAME..."
	assert_equal "$stderr" "$(cat "$S/02-deploy--json-api-error.stderr.json")"
	run mock_calls
	assert_output "POST /cvms/provision"
	run ls "$MOCK_DIR/cvms"
	assert_output ""
}

@test "deploy --json, API unreachable: Unknown API error on stderr, rc 1" {
	mock_stop
	run --separate-stderr deploy
	assert_failure 1
	assert_equal "$output" "Provisioning CVM $NAME..."
	assert_equal "$stderr" "$(printf '{\n  "success": false,\n  "error": "Unknown API error"\n}')"
}

@test "deploy with no key is refused locally: no request" {
	run --separate-stderr nokey deploy --json -n "$NAME" -c "$BATS_TEST_TMPDIR/compose.yml" --dev-os \
		--ssh-pubkey "$BATS_TEST_TMPDIR/lease_key.pub"
	assert_failure 1
	assert_equal "$output" ""
	assert_equal "$(printf '%s' "$stderr" | json o.error)" "API token is required. Please run 'phala login' or set PHALA_CLOUD_API_KEY environment variable"
	run cat "$MOCK_DIR/requests.txt"
	assert_output ""
}

@test "cvms get --json: the sample's key set, unknown server fields dropped, readiness fields" {
	app=$(seeded)
	run --separate-stderr phala cvms get "app_$app" --json
	assert_success
	assert_equal "$stderr" ""
	printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/get.json"
	assert_equal "$(keys "$BATS_TEST_TMPDIR/get.json")" "$(keys "$S/03-cvms-get--json.stdout.json")"
	assert_equal "$(json o.mock_extra_field "$BATS_TEST_TMPDIR/get.json")" undefined
	assert_equal "$(json o.app_id "$BATS_TEST_TMPDIR/get.json")" "$app"
	assert_equal "$(json o.status "$BATS_TEST_TMPDIR/get.json")" running
	assert_equal "$(json o.gateway.base_domain "$BATS_TEST_TMPDIR/get.json")" dstack-sim.invalid
	assert_equal "$(json 'Object.keys(o.resource).join(" ")' "$BATS_TEST_TMPDIR/get.json")" \
		"$(json 'Object.keys(o.resource).join(" ")' "$S/03-cvms-get--json.stdout.json")"
	run cat "$MOCK_DIR/requests.txt"
	assert_output "1 GET /cvms/app_$app key=ok ver=2026-01-21 status=200"
}

@test "cvms get: identifier forms become the documented paths (§10)" {
	app=$(seeded)
	uuid=$(json o.vm_uuid "$MOCK_DIR/cvms/$app.json")
	for id in "$app" "$uuid" "$NAME"; do
		run --separate-stderr phala cvms get "$id" --json
		assert_success
		assert_equal "$(printf '%s' "$output" | json o.app_id)" "$app"
	done
	run mock_calls
	assert_output "$(printf '%s\n' "GET /cvms/app_$app" "GET /cvms/${uuid//-/}" "GET /cvms/$NAME")"
}

@test "cvms get --api-version 2025-10-28: the flat legacy shape with gateway_domain" {
	app=$(seeded)
	run --separate-stderr phala cvms get "app_$app" --json --api-version 2025-10-28
	assert_success
	assert_equal "$(printf '%s' "$output" | json 'typeof o.id')" number
	assert_equal "$(printf '%s' "$output" | json o.gateway_domain)" dstack-sim.invalid
	assert_equal "$(printf '%s' "$output" | json o.in_progress)" false
	run tail -n 1 "$MOCK_DIR/requests.txt"
	assert_output --partial "GET /cvms/app_$app key=ok ver=2025-10-28 status=200"
}

@test "not found: get prints sample 06 on stdout, rc 1; delete stops after the GET" {
	zero=0000000000000000000000000000000000000000
	run --separate-stderr phala cvms get "app_$zero" --json
	assert_failure 1
	assert_equal "$output" "$(cat "$S/06-cvms-get--json-not-found.stdout.json")"
	assert_equal "$stderr" ""
	run --separate-stderr phala cvms delete "app_$zero" --force --json
	assert_failure 1
	assert_equal "$output" "$(cat "$S/06-cvms-get--json-not-found.stdout.json")"
	run cat "$MOCK_DIR/requests.txt"
	assert_output "$(printf '%s\n' \
		"1 GET /cvms/app_$zero key=ok ver=2026-01-21 status=404" \
		"2 GET /cvms/app_$zero key=ok ver=2026-01-21 status=404")"
}

@test "cvms list --json: the sample's camelCase shape; /apps then /status/batch" {
	foreign=$("$MOCK_API" add "$MOCK_DIR" name=someone-else status=stopped)
	app=$(seeded)
	run --separate-stderr phala cvms list --json
	assert_success
	printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/list.json"
	assert_equal "$(json 'Object.keys(o).join(" ")' "$BATS_TEST_TMPDIR/list.json")" \
		"$(json 'Object.keys(o).join(" ")' "$S/04-cvms-list--json.stdout.json")"
	assert_equal "$(json 'Object.keys(o.items[0]).join(" ")' "$BATS_TEST_TMPDIR/list.json")" \
		"$(json 'Object.keys(o.items[0]).join(" ")' "$S/04-cvms-list--json.stdout.json")"
	assert_equal "$(json 'o.items.map((i) => i.appId + ":" + i.cvmName + ":" + i.status).join(" ")' "$BATS_TEST_TMPDIR/list.json")" \
		"$foreign:someone-else:stopped $app:$NAME:running"
	assert_equal "$(json '[o.page, o.pageSize, o.total, o.totalPages].join(" ")' "$BATS_TEST_TMPDIR/list.json")" "1 50 2 1"
	run mock_calls
	assert_output "$(printf '%s\n' "GET /apps?page=1&page_size=50" "POST /status/batch")"
	assert_equal "$(mock_request 2 'o.body.vm_uuids.length')" 2
}

@test "cvms list: --page/--page-size/--search reach the query; an empty page is valid" {
	"$MOCK_API" add "$MOCK_DIR" name=tdx-lease-aa >/dev/null
	"$MOCK_API" add "$MOCK_DIR" name=tdx-lease-bb >/dev/null
	run --separate-stderr phala cvms list --page 2 --page-size 1 --json
	assert_success
	assert_equal "$(printf '%s' "$output" | json 'o.items.map((i) => i.cvmName).join(" ")')" tdx-lease-bb
	run --separate-stderr phala cvms list --page 1 --page-size 100 --search nothing-like-this --json
	assert_success
	assert_equal "$(printf '%s' "$output" | json 'o.items.length + " " + o.total')" "0 0"
	run mock_calls
	assert_line --index 0 "GET /apps?page=2&page_size=1"
	assert_line --index 2 "GET /apps?page=1&page_size=100&search=nothing-like-this"
}

@test "cvms delete --force --json: sample 05 shape; GET then DELETE on the same path; gone" {
	app=$(deployed)
	run --separate-stderr phala cvms delete "app_$app" --force --json
	assert_success
	assert_equal "$output" "$(cat "$S/05-cvms-delete--force--json.stdout.json")"
	run mock_calls
	assert_output "$(printf '%s\n' "POST /cvms/provision" "POST /cvms" "GET /cvms/app_$app" "DELETE /cvms/app_$app")"
	run tail -n 1 "$MOCK_DIR/requests.txt"
	assert_output --partial "key=ok ver=2026-01-21 status=204"
	[ ! -e "$MOCK_DIR/cvms/$app.json" ]
	run --separate-stderr phala cvms get "app_$app" --json
	assert_failure 1
	assert_equal "$output" "$(cat "$S/06-cvms-get--json-not-found.stdout.json")"
}

@test "delete refused by the API: success false with the CLI's prefix, CVM kept" {
	app=$(seeded)
	"$MOCK_API" fault "$MOCK_DIR" delete '{"status":403,"body":{"detail":"organization does not exist"}}'
	run --separate-stderr phala cvms delete "app_$app" --force --json
	assert_failure 1
	assert_equal "$(printf '%s' "$output" | json o.success)" false
	assert_equal "$(printf '%s' "$output" | json o.error)" "Failed to delete CVM $NAME: organization does not exist"
	[ -e "$MOCK_DIR/cvms/$app.json" ]
}

@test "API error on get: the server's message surfaces; a 5xx GET is retried once by the CLI" {
	app=$(seeded)
	err='{"status":500,"body":{"detail":{"error_code":"ERR-99","message":"gateway endpoint not found (upstream route unavailable)","details":[],"suggestions":[],"links":[]}},"times":2}'
	"$MOCK_API" fault "$MOCK_DIR" get "$err"
	run --separate-stderr phala cvms get "app_$app" --json
	assert_failure 1
	assert_equal "$output" "$(printf '{\n  "success": false,\n  "error": "gateway endpoint not found (upstream route unavailable)"\n}')"
	run mock_calls
	assert_output "$(printf '%s\n' "GET /cvms/app_$app" "GET /cvms/app_$app")"
	# One failure only: the retry answers, the CLI succeeds.
	"$MOCK_API" fault "$MOCK_DIR" get '{"status":503,"body":{"detail":"busy"},"times":1}'
	run --separate-stderr phala cvms get "app_$app" --json
	assert_success
	# A 4xx is not retried.
	"$MOCK_API" fault "$MOCK_DIR" get '{"status":401,"body":{"detail":"Invalid API key"},"times":1}'
	run --separate-stderr phala cvms get "app_$app" --json
	assert_failure 1
	assert_equal "$(grep -c "GET /cvms/app_$app" "$MOCK_DIR/requests.txt")" 5
	# The fault was used up: the CVM is still there, untouched.
	[ ! -e "$MOCK_DIR/faults/get.json" ]
}

@test "a CVM that boots: starting without a gateway for N gets, then running with one" {
	app=$("$MOCK_API" add "$MOCK_DIR" name="$NAME" status=starting boot_gets=1)
	for want in starting:null running:dstack-sim.invalid; do
		run --separate-stderr phala cvms get "app_$app" --json
		assert_success
		assert_equal "$(printf '%s' "$output" | json 'o.status + ":" + o.gateway.base_domain')" "$want"
	done
}

@test "phala.toml in the cwd turns deploy into an update: the mock records and refuses the PATCH" {
	app=$("$MOCK_API" add "$MOCK_DIR" name=someone-elses-cvm)
	printf 'app_id = "%s"\n' "$app" >"$PHALA_CWD/phala.toml"
	run --separate-stderr deploy
	assert_failure 1
	run mock_calls
	assert_line "GET /cvms/app_$app"
	assert_line "PATCH /cvms/app_$app"
	refute_line "POST /cvms/provision"
	run ls "$MOCK_DIR/cvms"
	assert_output "$app.json"
}

@test "runtime-config: the deployed key, from the env the mock opened" {
	app=$(deployed)
	run --separate-stderr phala runtime-config "app_$app" --json
	assert_success
	assert_equal "$(printf '%s' "$output" | json 'o.ssh_authorized_keys.join("|")')" "$(cat "$BATS_TEST_TMPDIR/lease_key.pub")"
	assert_equal "$(printf '%s' "$output" | json o.default_gateway_domain)" dstack-sim.invalid
}

@test "hooks: create and delete run with the app id; output merges; stop tears down the rest" {
	mock_stop
	cat >"$BATS_TEST_TMPDIR/hook" <<-EOF
		#!/bin/sh
		echo "\$1 \$2 \$(basename "\$MOCK_API_CVM")" >>"$BATS_TEST_TMPDIR/hook.log"
		[ "\$1" = create ] && printf '{"base_domain":"localhost:8443"}\n'
		exit 0
	EOF
	chmod +x "$BATS_TEST_TMPDIR/hook"
	mock_start --hook "$BATS_TEST_TMPDIR/hook"
	app=$(deployed)
	app2=$("$MOCK_API" add "$MOCK_DIR" name=tdx-lease-02)
	# The CVM is starting until its hook has finished.
	for _ in $(seq 50); do
		[ "$(json o.status "$MOCK_DIR/cvms/$app.json")" = running ] && break
		sleep 0.1
	done
	run --separate-stderr phala cvms get "app_$app" --json
	assert_equal "$(printf '%s' "$output" | json 'o.status + " " + o.gateway.base_domain')" "running localhost:8443"
	run --separate-stderr phala cvms delete "app_$app" --force --json
	assert_success
	mock_stop
	# A seeded CVM has no create hook; stop deletes it.
	run cat "$BATS_TEST_TMPDIR/hook.log"
	assert_output "$(printf '%s\n' "create $app $app.json" "delete $app $app.json" "delete $app2 $app2.json")"
}


@test "absence proof: api -i shows the HTTP status line (404 absent, 200 present)" {
	app=$(seeded)
	zero=0000000000000000000000000000000000000000
	run --separate-stderr phala api -i "/cvms/app_$zero"
	assert_failure 1
	assert_line --index 0 "HTTP/1.1 404 Not Found"
	assert_output --partial '"detail": "CVM not found"'
	run --separate-stderr phala api -i "/cvms/app_$app"
	assert_success
	assert_line --index 0 "HTTP/1.1 200 OK"
	run cat "$MOCK_DIR/requests.txt"
	assert_output "$(printf '%s\n' \
		"1 GET /cvms/app_$zero key=ok ver=2026-01-21 status=404" \
		"2 GET /cvms/app_$app key=ok ver=2026-01-21 status=200")"
}

@test "cvms attestation: GET /cvms/{id} then the app's attestation path" {
	app=$(seeded)
	run --separate-stderr phala cvms attestation "app_$app" --json
	assert_success
	assert_equal "$(printf '%s' "$output" | json 'o.success + " " + o.is_online + " " + o.tcb_info')" "true true null"
	run mock_calls
	assert_output "$(printf '%s\n' "GET /cvms/app_$app" "GET /cvms/app_$app/attestation")"
}

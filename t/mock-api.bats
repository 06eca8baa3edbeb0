#!/usr/bin/env bats
# check: build-independent
# The loopback mock of the Phala Cloud API itself (t/sim/mock-api.sh), driven
# with curl: lifecycle, the key check, routes, failure injection, seeding,
# hooks. Its contract with the real CLI is t/phala-cli-contract.bats.

bats_require_minimum_version 1.5.0
load helpers/common
load helpers/mock-api

setup() {
	command -v node >/dev/null 2>&1 || skip "node not installed (Debian nodejs): the mock cannot run"
	command -v curl >/dev/null 2>&1 || skip "curl not installed"
	mock_start
}

teardown() {
	mock_stop
}

# api [curl options] PATH: a request with the right key; prints the body
# then a last line "HTTP <status>".
api() {
	local p=${*: -1}
	curl -sS -H "X-API-Key: $PHALA_CLOUD_API_KEY" -H 'X-Phala-Version: 2026-01-21' \
		-w '\nHTTP %{http_code}\n' "${@:1:$#-1}" "$MOCK_PREFIX$p"
}

# create NAME: provision + create as the CLI does them (no env); prints the app id.
create() {
	local p app hash
	p=$(api -X POST -H 'Content-Type: application/json' \
		-d "{\"name\":\"$1\",\"compose_file\":{\"docker_compose_file\":\"x\"}}" /cvms/provision | head -n 1)
	app=$(json o.app_id <<<"$p")
	hash=$(json o.compose_hash <<<"$p")
	api -X POST -H 'Content-Type: application/json' -d "{\"app_id\":\"$app\",\"compose_hash\":\"$hash\"}" /cvms |
		grep -qx 'HTTP 200' || return 1
	echo "$app"
}

@test "start prints the loopback prefix and writes port and pid; stop ends it and frees the port" {
	assert_regex "$MOCK_PREFIX" '^http://127\.0\.0\.1:[0-9]+/api/v1$'
	assert_equal "$MOCK_PREFIX" "http://127.0.0.1:$(cat "$MOCK_DIR/port")/api/v1"
	pid=$(cat "$MOCK_DIR/pid")
	kill -0 "$pid"
	run "$MOCK_API" env "$MOCK_DIR"
	assert_success
	assert_line "PHALA_CLOUD_API_PREFIX=$MOCK_PREFIX"
	assert_line "PHALA_DISABLE_UPDATE_CHECK=1"
	run "$MOCK_API" stop "$MOCK_DIR"
	assert_success
	run kill -0 "$pid"
	assert_failure
	run curl -sS "$MOCK_PREFIX/auth/me"
	assert_failure 7
	[ ! -e "$MOCK_DIR/pid" ] && [ ! -e "$MOCK_DIR/port" ]
	# Idempotent.
	run "$MOCK_API" stop "$MOCK_DIR"
	assert_success
	run "$MOCK_API" env "$MOCK_DIR"
	assert_failure 4
}

@test "a second start on a running directory is refused; bad options are usage errors" {
	run "$MOCK_API" start "$MOCK_DIR"
	assert_failure 4
	assert_output --partial "already running"
	run "$MOCK_API" start "$BATS_TEST_TMPDIR/other" --bogus x
	assert_failure 2
	run "$MOCK_API" start "$BATS_TEST_TMPDIR/other" --boot-gets many
	assert_failure 2
	run "$MOCK_API" start "$BATS_TEST_TMPDIR/other" --key "$(printf 'a\tb')"
	assert_failure 2
	run "$MOCK_API" start
	assert_failure 2
	[ ! -e "$BATS_TEST_TMPDIR/other/pid" ]
}

@test "X-API-Key: missing and wrong keys get 401 with a detail; every request is logged" {
	run curl -sS -w '\nHTTP %{http_code}\n' "$MOCK_PREFIX/auth/me"
	assert_output "$(printf '{"detail":"Not authenticated"}\nHTTP 401')"
	run curl -sS -H 'X-API-Key: nope' -w '\nHTTP %{http_code}\n' "$MOCK_PREFIX/auth/me"
	assert_output "$(printf '{"detail":"Invalid API key"}\nHTTP 401')"
	run api /auth/me
	assert_line "HTTP 200"
	assert_equal "$(head -n 1 <<<"$output" | json o.workspace.slug)" sim-team
	run cat "$MOCK_DIR/requests.txt"
	assert_output "$(printf '%s\n' \
		"1 GET /auth/me key=missing ver=- status=401" \
		"2 GET /auth/me key=bad ver=- status=401" \
		"3 GET /auth/me key=ok ver=2026-01-21 status=200")"
	assert_equal "$(mock_request 3 o.endpoint)" auth_me
}

@test "unknown routes and paths outside the prefix: 404 Not Found" {
	run api /no/such/route
	assert_output "$(printf '{"detail":"Not Found"}\nHTTP 404')"
	run curl -sS -w '\nHTTP %{http_code}\n' "${MOCK_PREFIX%/api/v1}/auth/me"
	assert_output "$(printf '{"detail":"Not Found"}\nHTTP 404')"
	run api -X PUT /cvms/x
	assert_line "HTTP 404"
}

@test "seeded CVMs: get by app_ id, uuid, name; 404 otherwise; add refuses bad or duplicate ids" {
	app=$("$MOCK_API" add "$MOCK_DIR" name=seed-one status=stopped)
	assert_regex "$app" '^[0-9a-f]{40}$'
	uuid=$(json o.vm_uuid "$MOCK_DIR/cvms/$app.json")
	for id in "app_$app" "${uuid//-/}" seed-one; do
		run api "/cvms/$id"
		assert_line "HTTP 200"
		assert_equal "$(head -n 1 <<<"$output" | json 'o.app_id + " " + o.status + " " + o.gateway.base_domain')" "$app stopped null"
	done
	run api "/cvms/app_0000000000000000000000000000000000000000"
	assert_output "$(printf '{"detail":"CVM not found"}\nHTTP 404')"
	run "$MOCK_API" add "$MOCK_DIR" app_id="$app"
	assert_failure 1
	run "$MOCK_API" add "$MOCK_DIR" app_id=0xABC
	assert_failure 2
	run "$MOCK_API" add "$MOCK_DIR" name
	assert_failure 2
	run ls "$MOCK_DIR/cvms"
	assert_output "$app.json"
}

@test "faults: status and body for N requests, then normal; any; clear; unknown endpoint refused" {
	"$MOCK_API" fault "$MOCK_DIR" auth_me '{"status":503,"body":{"detail":"maintenance"},"times":2}'
	run api /auth/me
	assert_output "$(printf '{"detail":"maintenance"}\nHTTP 503')"
	run api /auth/me
	assert_line "HTTP 503"
	run api /auth/me
	assert_line "HTTP 200"
	assert_equal "$(mock_request 1 o.fault.status)" 503
	assert_equal "$(mock_request 3 o.fault)" undefined
	# "any" applies to every endpoint until cleared; the key check comes after it.
	"$MOCK_API" fault "$MOCK_DIR" any '{"status":500}'
	run curl -sS -w '\nHTTP %{http_code}\n' "$MOCK_PREFIX/apps"
	assert_output "$(printf '{"detail":"injected failure"}\nHTTP 500')"
	"$MOCK_API" clear "$MOCK_DIR"
	run api /apps
	assert_line "HTTP 200"
	run "$MOCK_API" fault "$MOCK_DIR" nowhere '{"status":500}'
	assert_failure 2
	run "$MOCK_API" fault "$MOCK_DIR" get 'not json'
	assert_failure 2
}

@test "faults: a delay still answers; a hang accepts and never answers" {
	"$MOCK_API" fault "$MOCK_DIR" auth_me '{"delay_ms":200,"times":1}'
	run api /auth/me
	assert_line "HTTP 200"
	assert_equal "$(mock_request 1 o.fault.delay_ms)" 200
	"$MOCK_API" fault "$MOCK_DIR" apps '{"hang":true}'
	run api --max-time 1 /apps
	assert_failure 28
	# The server is still serving other endpoints.
	run api /auth/me
	assert_line "HTTP 200"
}

@test "create without a matching provision, bad bodies and PATCH are refused and recorded" {
	run api -X POST -H 'Content-Type: application/json' -d '{"app_id":"00","compose_hash":"11"}' /cvms
	assert_output "$(printf '{"detail":"unknown provision (app_id/compose_hash)"}\nHTTP 400')"
	run api -X POST -H 'Content-Type: application/json' -d '{"nope":1}' /cvms/provision
	assert_line "HTTP 422"
	app=$("$MOCK_API" add "$MOCK_DIR" name=seed-two)
	run api -X PATCH -d '{}' "/cvms/app_$app"
	assert_line "HTTP 405"
	run mock_calls
	assert_output "$(printf '%s\n' "POST /cvms" "POST /cvms/provision" "PATCH /cvms/app_$app")"
	assert_equal "$(mock_request 1 o.body.app_id)" 00
	run ls "$MOCK_DIR/cvms"
	assert_output "$app.json"
}

@test "--delete-gets: a deleted CVM shows as deleting for N gets, then is gone" {
	mock_stop
	mock_start --delete-gets 1
	app=$("$MOCK_API" add "$MOCK_DIR" name=seed-three delete_gets=1)
	run api -X DELETE "/cvms/app_$app"
	assert_output "$(printf '\nHTTP 204')"
	run api "/cvms/app_$app"
	assert_line "HTTP 200"
	assert_equal "$(head -n 1 <<<"$output" | json o.status)" deleting
	run api "/cvms/app_$app"
	assert_line "HTTP 404"
	[ ! -e "$MOCK_DIR/cvms/$app.json" ]
}

@test "list and status batch: pages of apps, statuses by vm_uuid" {
	a=$("$MOCK_API" add "$MOCK_DIR" name=seed-a)
	b=$("$MOCK_API" add "$MOCK_DIR" name=seed-b status=starting)
	run api "/apps?page=2&page_size=1"
	assert_line "HTTP 200"
	assert_equal "$(head -n 1 <<<"$output" | json '[o.page, o.page_size, o.total, o.total_pages, o.dstack_apps[0].app_id, o.dstack_apps[0].current_cvm.status].join(" ")')" \
		"2 1 2 2 $b starting"
	ub=$(json o.vm_uuid "$MOCK_DIR/cvms/$b.json")
	run api -X POST -H 'Content-Type: application/json' -d "{\"vm_uuids\":[\"$ub\",\"not-a-cvm\"]}" /status/batch
	assert_line "HTTP 200"
	assert_equal "$(head -n 1 <<<"$output" | json 'Object.keys(o).join(" ") + " " + o[Object.keys(o)[0]].status + " " + o[Object.keys(o)[0]].in_progress')" \
		"$ub starting true"
	run api "/apps?search=seed-a"
	assert_equal "$(head -n 1 <<<"$output" | json 'o.dstack_apps.map((x) => x.app_id).join(" ")')" "$a"
}

@test "stop runs the delete hook of every CVM still there" {
	mock_stop
	# shellcheck disable=SC2016 # the hook's own $1 $2
	printf '#!/bin/sh\necho "$1 $2" >>"%s/hook.log"\n' "$BATS_TEST_TMPDIR" >"$BATS_TEST_TMPDIR/hook"
	chmod +x "$BATS_TEST_TMPDIR/hook"
	mock_start --hook "$BATS_TEST_TMPDIR/hook"
	a=$("$MOCK_API" add "$MOCK_DIR" name=seed-a)
	b=$("$MOCK_API" add "$MOCK_DIR" name=seed-b)
	mock_stop
	run cat "$BATS_TEST_TMPDIR/hook.log"
	assert_output "$(printf 'delete %s\ndelete %s' "$a" "$b")"
}

@test "stop ends what the hooks left behind in the mock's process group" {
	mock_stop
	# shellcheck disable=SC2016 # the hook's own variables
	printf '#!/bin/sh\n[ "$1" = create ] || exit 0\nsleep 1000 >/dev/null 2>&1 &\necho $! >"%s/daemon.pid"\n' \
		"$BATS_TEST_TMPDIR" >"$BATS_TEST_TMPDIR/hook"
	chmod +x "$BATS_TEST_TMPDIR/hook"
	mock_start --hook "$BATS_TEST_TMPDIR/hook"
	create seed-four >/dev/null
	for _ in $(seq 100); do
		[ -s "$BATS_TEST_TMPDIR/daemon.pid" ] && break
		sleep 0.1
	done
	daemon=$(cat "$BATS_TEST_TMPDIR/daemon.pid")
	kill -0 "$daemon"
	mock_stop
	# Gone, or a zombie waiting for init to reap it.
	for _ in $(seq 50); do
		case $(ps -o stat= -p "$daemon") in '' | Z*) break ;; esac
		sleep 0.1
	done
	run ps -o stat= -p "$daemon"
	refute_output --regexp '^[^Z]'
}

@test "add takes JSON values: a seeded attestation is served by A9, user_config by A10" {
	app=$("$MOCK_API" add "$MOCK_DIR" name=seed-five base_domain=localhost:8443 \
		'attestation={"is_online":true,"is_public":true,"error":null,"app_certificates":[],"tcb_info":null,"compose_file":"x"}')
	run api "/cvms/app_$app/attestation"
	assert_line "HTTP 200"
	assert_equal "$(head -n 1 <<<"$output" | json 'o.compose_file + " " + o.app_certificates.length')" "x 0"
	run api "/cvms/app_$app/user_config"
	assert_equal "$(head -n 1 <<<"$output" | json 'o.default_gateway_domain + " " + o.ssh_authorized_keys.length')" "localhost:8443 0"
	run "$MOCK_API" add "$MOCK_DIR" 'attestation={broken'
	assert_failure 2
	run api "/cvms/app_0000000000000000000000000000000000000000/attestation"
	assert_line "HTTP 404"
}

@test "orphan guard: the mock stops by itself when the watched process or its directory goes" {
	mock_stop
	sleep 60 &
	watched=$!
	"$MOCK_API" start "$BATS_TEST_TMPDIR/m1" --watch-pid "$watched" >/dev/null
	"$MOCK_API" start "$BATS_TEST_TMPDIR/m2" >/dev/null
	p1=$(cat "$BATS_TEST_TMPDIR/m1/pid")
	p2=$(cat "$BATS_TEST_TMPDIR/m2/pid")
	kill "$watched"
	wait "$watched" || :
	rm -rf "$BATS_TEST_TMPDIR/m2"
	for _ in $(seq 100); do
		case $(ps -o stat= -p "$p1")$(ps -o stat= -p "$p2") in '' | Z | ZZ) break ;; esac
		sleep 0.1
	done
	run ps -o stat= -p "$p1"
	refute_output --regexp '^[^Z]'
	run ps -o stat= -p "$p2"
	refute_output --regexp '^[^Z]'
	"$MOCK_API" stop "$BATS_TEST_TMPDIR/m1"
}

@test "a delete during the create hook waits for it: the delete hook sees a finished create" {
	mock_stop
	# shellcheck disable=SC2016 # the hook's own variables
	printf '#!/bin/sh\necho "$1 start" >>"%s/hook.log"\n[ "$1" = create ] && sleep 1\necho "$1 end" >>"%s/hook.log"\n' \
		"$BATS_TEST_TMPDIR" "$BATS_TEST_TMPDIR" >"$BATS_TEST_TMPDIR/hook"
	chmod +x "$BATS_TEST_TMPDIR/hook"
	mock_start --hook "$BATS_TEST_TMPDIR/hook"
	app=$(create seed-six)
	run api "/cvms/app_$app"
	assert_equal "$(head -n 1 <<<"$output" | json o.status)" starting
	run api -X DELETE "/cvms/app_$app"
	assert_line "HTTP 204"
	run cat "$BATS_TEST_TMPDIR/hook.log"
	assert_output "$(printf '%s\n' "create start" "create end" "delete start" "delete end")"
	run api "/cvms/app_$app"
	assert_line "HTTP 404"
}

@test "20 concurrent create/get/delete cycles: all answered, ids unique, nothing left" {
	cycle() {
		local app
		app=$(create "load-$1") || return 1
		api "/cvms/app_$app" | grep -qx 'HTTP 200' || return 1
		api -X DELETE "/cvms/app_$app" | grep -qx 'HTTP 204' || return 1
		echo "$app" >"$BATS_TEST_TMPDIR/app.$1"
	}
	pids=
	for i in $(seq 20); do
		cycle "$i" &
		pids="$pids $!"
	done
	for p in $pids; do wait "$p"; done
	assert_equal "$(cat "$BATS_TEST_TMPDIR"/app.* | sort -u | wc -l)" 20
	run ls "$MOCK_DIR/cvms" "$MOCK_DIR/provisions"
	refute_output --partial .json
	assert_equal "$(grep -c ' status=2' "$MOCK_DIR/requests.txt")" 80
	assert_equal "$(wc -l <"$MOCK_DIR/requests.txt")" 80
}

@test "a create whose encrypted_env does not open is refused; the provision stays usable" {
	p=$(api -X POST -H 'Content-Type: application/json' \
		-d '{"name":"seed-seven","compose_file":{"docker_compose_file":"x"}}' /cvms/provision | head -n 1)
	app=$(json o.app_id <<<"$p")
	hash=$(json o.compose_hash <<<"$p")
	assert_regex "$(json o.app_env_encrypt_pubkey <<<"$p")" '^[0-9a-f]{64}$'
	# The compose hash is sha256 over the key-sorted compose JSON.
	assert_equal "$hash" "$(printf '{"docker_compose_file":"x"}' | sha256sum | cut -d' ' -f1)"
	bad=$(printf '%0120d' 0)
	run api -X POST -H 'Content-Type: application/json' \
		-d "{\"app_id\":\"$app\",\"compose_hash\":\"$hash\",\"encrypted_env\":\"$bad\"}" /cvms
	assert_line "HTTP 400"
	assert_output --partial "encrypted_env does not open"
	run api -X POST -H 'Content-Type: application/json' -d "{\"app_id\":\"$app\",\"compose_hash\":\"$hash\"}" /cvms
	assert_line "HTTP 200"
	[ -e "$MOCK_DIR/cvms/$app.json" ] && [ ! -e "$MOCK_DIR/cvms/$app.env" ]
}

@test "a failing create hook leaves the CVM in status error, without a gateway" {
	mock_stop
	# shellcheck disable=SC2016 # the hook's own $1
	printf '#!/bin/sh\n[ "$1" = delete ] || exit 3\n' >"$BATS_TEST_TMPDIR/hook"
	chmod +x "$BATS_TEST_TMPDIR/hook"
	mock_start --hook "$BATS_TEST_TMPDIR/hook"
	app=$(create seed-eight)
	for _ in $(seq 50); do
		[ "$(json o.status "$MOCK_DIR/cvms/$app.json")" = error ] && break
		sleep 0.1
	done
	run api "/cvms/app_$app"
	assert_line "HTTP 200"
	assert_equal "$(head -n 1 <<<"$output" | json 'o.status + " " + o.gateway.base_domain')" "error null"
}

@test "--boot-gets: a created CVM is starting, without a gateway, for N gets" {
	mock_stop
	mock_start --boot-gets 2 --domain localhost:8443
	app=$(create seed-nine)
	for want in starting:null starting:null running:localhost:8443 running:localhost:8443; do
		run api "/cvms/app_$app"
		assert_equal "$(head -n 1 <<<"$output" | json 'o.status + ":" + o.gateway.base_domain')" "$want"
	done
}

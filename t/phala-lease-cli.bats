#!/usr/bin/env bats
# check: sanitizer-only
# Contract test: phala-lease driving the REAL `phala` CLI (npm phala@1.1.18,
# installed by t/sim/install-phala-cli.sh into build/phala-cli) against the
# loopback mock of the Phala Cloud API (t/sim/mock-api.sh, helpers/mock-api),
# which records the requests it got. SSH is the fake (the CVM does not exist);
# attestation is off here (its gate is covered in phala-lease.bats and, end to
# end, against the simulator of issue 7 in t/sim.bats).

# Each @test runs in its own subshell: what it exports stays its own.
# shellcheck disable=SC2030,SC2031
load helpers/common
load helpers/mock-api
bats_require_minimum_version 1.5.0

setup() {
	need_phala_cli
	T=$BATS_TEST_TMPDIR
	mock_start --domain gw.test.example --boot-gets 1
	mkdir -p "$T/ssh" "$T/home" "$T/work"
	export HOME=$T/home XDG_STATE_HOME=$T/state XDG_CONFIG_HOME=$T/config
	export PHALA_LEASE_PHALA=$PHALA_CLI PHALA_LEASE_SSH=$ROOT/t/helpers/fake-ssh FAKE_SSH=$T/ssh
	export PHALA_LEASE_CLAIM=$BIN/phala-claim PATH=$BIN:$PATH PHALA_LEASE_POLL=0
	export PHALA_LEASE_ABSENCE_TRIES=3 PHALA_LEASE_ATTEST=false TMPDIR=$T/tmp
	mkdir -p "$TMPDIR"
	ssh-keygen -q -t ed25519 -N '' -f "$T/ssh/hostkey"
	cd "$T/work" || return 1
}

teardown() {
	mock_stop
}

# The recorded requests as "METHOD PATH VERSION KEY" lines (tab-separated).
requests() {
	awk -v OFS='\t' '{ sub(/^ver=/, "", $5); sub(/^key=/, "", $4); print $2, $3, $5, $4 }' "$MOCK_DIR/requests.txt"
}

@test "acquire (to the SSH step) and release drive the real CLI; the API sees exactly the expected requests" {
	run "$BIN/phala-lease" acquire --json
	assert_success
	line=$(printf '%s\n' "$output" | grep '^{')
	l=$(printf '%s\n' "$line" | "$BIN/phala-json" get - lease_id)
	app=$(printf '%s\n' "$line" | "$BIN/phala-json" get - app_id)
	[ "$(printf '%s\n' "$line" | "$BIN/phala-json" get - gateway_host)" = "$app-22.gw.test.example" ]
	# --boot-gets 1: the first get sees "starting" without a domain, the poll loop asks again.
	run requests
	assert_output "$(printf 'GET\t/auth/me\t2026-01-21\tok
POST\t/cvms/provision\t2025-10-28\tok
POST\t/cvms\t2025-10-28\tok
GET\t/cvms/app_%s\t2026-01-21\tok
GET\t/cvms/app_%s\t2026-01-21\tok' "$app" "$app")"
	# The provision request: our name, type, dev image, the lease key's env only, our compose.
	run mock_request 2 '[o.body.name, o.body.instance_type, o.body.prefer_dev, o.body.kms].join("\t")'
	assert_output "$(printf 'tdxlease-%s\ttdx.small\ttrue\tPHALA' "$l")"
	run mock_request 2 'o.body.compose_file.allowed_envs'
	assert_output '["DSTACK_AUTHORIZED_KEYS"]'
	mock_request 2 'o.body.compose_file.docker_compose_file' | head -c -1 >"$T/sent.yml" # the helper adds a newline
	cmp "$T/sent.yml" "$ROOT/share/phala-lease/default-compose.yml"
	# The lease key is the only authorized key the deploy carried.
	run json 'o.env.map((e) => e.key + "=" + e.value.trim()).join("\n")' "$MOCK_DIR/cvms/$app.env"
	assert_output "DSTACK_AUTHORIZED_KEYS=$(cat "$XDG_STATE_HOME/phala-lease/leases/$l/id_ed25519.pub")"

	: >"$MOCK_DIR/requests.txt"
	run "$BIN/phala-lease" release "$l"
	assert_success
	assert_output "destroy app_id=$app lease=$l reason=release"
	run requests
	assert_output "$(printf 'GET\t/auth/me\t2026-01-21\tok
GET\t/cvms/app_%s\t2026-01-21\tok
GET\t/cvms/app_%s\t2026-01-21\tok
DELETE\t/cvms/app_%s\t2026-01-21\tok
GET\t/cvms/app_%s\t2026-01-21\tok' "$app" "$app" "$app" "$app")"
	run "$BIN/phala-json" items - claims lease_id <<<"$("$PHALA_LEASE_CLAIM" --json list)"
	assert_output ""
	run ls "$MOCK_DIR/cvms"
	assert_output ""
}

@test "cleanup with the real CLI: paginated list, expired lease destroyed, a foreign-named CVM untouched" {
	foreign=$("$MOCK_API" add "$MOCK_DIR" name=production-db)
	run "$BIN/phala-lease" acquire --ttl 1m
	assert_success
	: >"$MOCK_DIR/requests.txt"
	PHALA_LEASE_NOW=$(($(date +%s) + 120)) run "$BIN/phala-lease" cleanup
	assert_success
	assert_line --regexp '^destroy app_id=[0-9a-f]{40} lease=[0-9a-f]{12} reason=expired$'
	run requests
	assert_line --regexp $'^GET\t/apps\\?page=1&page_size=100\t2026-01-21\tok$'
	assert_line --partial $'POST\t/status/batch'
	run grep -c ' DELETE ' "$MOCK_DIR/requests.txt"
	assert_output 1
	run grep -c "/cvms/app_$foreign" "$MOCK_DIR/requests.txt"
	assert_output 0
	run grep -c ' PATCH ' "$MOCK_DIR/requests.txt"
	assert_output 0
	[ -f "$MOCK_DIR/cvms/$foreign.json" ]
}

@test "without credentials the real CLI's whoami fails locally: exit 1, no request sent, no claim, no key" {
	PHALA_CLOUD_API_KEY='' run "$BIN/phala-lease" acquire
	assert_failure 1
	assert_output --partial 'Not authenticated'
	[ ! -s "$MOCK_DIR/requests.txt" ]
	[ ! -e "$XDG_STATE_HOME/phala-lease/leases" ] || [ -z "$(ls "$XDG_STATE_HOME/phala-lease/leases")" ]
}

# ---- issue 13, item 1: a deploy is classified by what the API answered ----

# The leases with a claim, one a line.
claims() { "$BIN/phala-json" items - claims lease_id <<<"$("$PHALA_LEASE_CLAIM" --json list)"; }
# The requests after the deploy's (POST /cvms/provision), "METHOD PATH" a line.
after_deploy() { awk '$3 == "/cvms/provision" { on = 1; next } on { print $2, $3 }' "$MOCK_DIR/requests.txt"; }

@test "1: a deploy the API refuses (ERR-01-005, 401) leaves nothing: no claim, no key, no temporary directory, no search" {
	for shape in \
		'{"status":400,"body":{"detail":{"error_code":"ERR-01-005","message":"No available resources match your requirements","details":[],"suggestions":[],"links":[]}}}|No available resources match your requirements' \
		'{"status":401,"body":{"detail":"API key expired"}}|API key expired'; do
		: >"$MOCK_DIR/requests.txt"
		"$MOCK_API" fault "$MOCK_DIR" provision "${shape%|*}"
		run "$BIN/phala-lease" acquire
		assert_failure 1
		assert_output --partial "phala deploy: ${shape#*|} (the API refused it; nothing created)"
		run claims
		assert_output ""
		run ls -A "$XDG_STATE_HOME/phala-lease/leases" "$TMPDIR"
		assert_output --regexp '^[^ ]*leases:
+[^ ]*tmp:$'
		# exactly one deploy (provision refused), no search, no get
		run after_deploy
		assert_output ""
		run grep -c ' POST /cvms/provision ' "$MOCK_DIR/requests.txt"
		assert_output 1
		"$MOCK_API" clear "$MOCK_DIR"
	done
}

@test "1: a 5xx or a hung deploy is ambiguous: searched by name, a recoverable claim kept; release finishes it on proof of absence" {
	export PHALA_LEASE_SEARCH=1 PHALA_LEASE_CLI_TIMEOUT=4
	for shape in '{"status":500,"body":{"detail":"Internal Server Error"},"times":1}' '{"hang":true,"times":1}'; do
		"$MOCK_API" fault "$MOCK_DIR" provision "$shape"
		: >"$MOCK_DIR/requests.txt"
		run "$BIN/phala-lease" acquire
		assert_failure 1
		assert_output --partial "recovery=ambiguous-create"
		l=$(claims)
		[ -n "$l" ]
		[ "$("$PHALA_LEASE_CLAIM" get "$l" recovery)" = ambiguous-create ]
		[ -f "$XDG_STATE_HOME/phala-lease/leases/$l/id_ed25519" ]
		run after_deploy
		assert_line "GET /apps?page=1&page_size=100&search=tdxlease-$l"
		run ls -A "$TMPDIR"
		assert_output ""
		# After the grace period: no CVM by that name and a 404 for it remove the claim and the key.
		: >"$MOCK_DIR/requests.txt"
		PHALA_LEASE_NOW=$(($(date +%s) + 400)) run "$BIN/phala-lease" release "$l"
		assert_success
		assert_output "removed claim lease=$l reason=ambiguous-create-absent"
		run grep -c " GET /cvms/tdxlease-$l .*status=404" "$MOCK_DIR/requests.txt"
		assert_output 1
		run claims
		assert_output ""
		[ ! -e "$XDG_STATE_HOME/phala-lease/leases/$l" ]
		run grep -c ' DELETE ' "$MOCK_DIR/requests.txt"
		assert_output 0
	done
}

@test "1: release within the grace period watches the name: a CVM that appears late is adopted and destroyed through the gate" {
	export PHALA_LEASE_SEARCH=1 PHALA_LEASE_POLL=1
	"$MOCK_API" fault "$MOCK_DIR" provision '{"status":500,"body":{"detail":"Internal Server Error"},"times":1}'
	run "$BIN/phala-lease" acquire
	assert_failure 1
	l=$(claims)
	# The server finishes the create after all, while release watches
	# (after release's first search found nothing).
	: >"$MOCK_DIR/requests.txt"
	(while ! grep -q "search=tdxlease-$l" "$MOCK_DIR/requests.txt"; do sleep 0.1; done
		"$MOCK_API" add "$MOCK_DIR" name="tdxlease-$l" >"$T/late") &
	PHALA_LEASE_GRACE=60 run "$BIN/phala-lease" release "$l"
	wait
	assert_success
	assert_line --partial "ambiguous create, no CVM named tdxlease-$l yet; watching for"
	assert_line "destroy app_id=$(cat "$T/late") lease=$l reason=release"
	run claims
	assert_output ""
	[ ! -e "$MOCK_DIR/cvms/$(cat "$T/late").json" ]
}

@test "images: the allowed releases from the list, without a CLI call; an old register tuple or a malformed line is refused" {
	run "$BIN/phala-lease" images
	assert_success
	assert_line "allowed-images: $ROOT/share/phala-lease/allowed-images"
	refute_line --partial "service:"
	assert_line --partial "To accept a release: review it first"
	[ ! -s "$MOCK_DIR/requests.txt" ]
	h1=$(printf '%064d' 1) h2=$(printf 'ab%062d' 0)
	printf '# reviewed\n%s test-1\n\n  %s  test-2\n' "$h1" "$h2" >"$T/imgs"
	PHALA_LEASE_ALLOWED_IMAGES=$T/imgs run "$BIN/phala-lease" images
	assert_success
	assert_output --partial "$(printf 'allowed-images: %s\nallowed: %s test-1\nallowed: %s test-2\nTo accept' "$T/imgs" "$h1" "$h2")"
	# The gate's reading of the list: an old register tuple, or a line that
	# is not an entry, is refused (exit 2) with what is wrong.
	t=$(printf '%096d' 7); printf '%s test-1\n%s %s %s %s\n' "$h1" "$t" "$t" "$t" "$t" >"$T/old"
	PHALA_LEASE_ALLOWED_IMAGES=$T/old run "$BIN/phala-lease" images
	assert_failure 2
	assert_output --partial "phala-lease: allowed-image list $T/old, line 2: an MRTD RTMR0 RTMR1 RTMR2 tuple, the list's old format"
	printf '%s two words\n' "$h1" >"$T/bad"
	PHALA_LEASE_ALLOWED_IMAGES=$T/bad run "$BIN/phala-lease" images
	assert_failure 2
	assert_output "phala-lease: allowed-image list $T/bad, line 1: not '<os_image_hash> <name>' (64 hex digits, then one word)"
	: >"$T/empty"
	PHALA_LEASE_ALLOWED_IMAGES=$T/empty run "$BIN/phala-lease" images
	assert_line "allowed: none (the gate refuses every CVM)"
	PHALA_LEASE_ALLOWED_IMAGES=$T/missing run "$BIN/phala-lease" images
	assert_failure 4
	assert_output "phala-lease: allowed-image list $T/missing: no such file"
}

@test "images --service: the service's releases (phala os-images --all) marked allowed or NOT allowed, never added" {
	h=$(printf 'cd%062d' 0)
	cat >"$MOCK_DIR/os-images.json" <<EOT
[{"name":"dstack-0.5.9","slug":"dstack-0-5-9","version":"0.5.9","is_dev":false,"requires_gpu":false,"os_image_hash":"$h"},
 {"name":"dstack-dev-0.5.9","slug":"dstack-dev-0-5-9","version":"0.5.9","is_dev":true,"requires_gpu":false,
  "os_image_hash":"de9c74f0c85d0820ce075cb4a99f8e39f7b681be632907c5bf8bdc95ea72feb9"}]
EOT
	cp "$ROOT/share/phala-lease/allowed-images" "$T/before"
	printf 'de9c74f0c85d0820ce075cb4a99f8e39f7b681be632907c5bf8bdc95ea72feb9 dstack-dev-0.5.9\n' >"$T/imgs"
	PHALA_LEASE_ALLOWED_IMAGES=$T/imgs run "$BIN/phala-lease" images --service
	assert_success
	assert_line "service: $h dstack-0.5.9 0.5.9 prod NOT allowed"
	assert_line "service: de9c74f0c85d0820ce075cb4a99f8e39f7b681be632907c5bf8bdc95ea72feb9 dstack-dev-0.5.9 0.5.9 dev allowed"
	run requests
	assert_output "$(printf 'GET\t/os-images?page=1&page_size=100\t2026-01-21\tok')"
	PHALA_LEASE_ALLOWED_IMAGES=$T/imgs run "$BIN/phala-lease" images --service --json
	assert_success
	[ "$(printf '%s' "$output" | "$BIN/phala-json" items - service os_image_hash name is_dev allowed)" = "$(printf '%s\tdstack-0.5.9\tfalse\tfalse\nde9c74f0c85d0820ce075cb4a99f8e39f7b681be632907c5bf8bdc95ea72feb9\tdstack-dev-0.5.9\ttrue\ttrue' "$h")" ]
	[ "$(printf '%s' "$output" | "$BIN/phala-json" items - allowed name)" = dstack-dev-0.5.9 ]
	[ "$(printf '%s' "$output" | "$BIN/phala-json" get - allowed_images)" = "$T/imgs" ]
	check_schema images "$output"
	for m in allowed.0 service.0 service.1; do check_schema "images.${m%.*}" "$(jq -c ".${m%.*}[${m#*.}]" <<<"$output")"; done
	# Listing is never trusting: the lists are unchanged.
	cmp "$T/imgs" <(printf 'de9c74f0c85d0820ce075cb4a99f8e39f7b681be632907c5bf8bdc95ea72feb9 dstack-dev-0.5.9\n')
	cmp "$T/before" "$ROOT/share/phala-lease/allowed-images"
	# The API's failure is the CLI's: exit status and message, nothing printed on stdout.
	"$MOCK_API" fault "$MOCK_DIR" os_images '{"status":500,"body":{"detail":"boom"}}'
	run --separate-stderr "$BIN/phala-lease" images --service
	[ "$status" -ne 0 ]
	[ -z "$output" ]
	# shellcheck disable=SC2154 # $stderr: set by run --separate-stderr
	[[ "$stderr" == "phala-lease: phala os-images: "* ]]
}

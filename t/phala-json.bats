#!/usr/bin/env bats
# phala-json: JSON access for shell glue (scenario 10 of lease-contract.md §9:
# trailing noise, braces inside strings, a leading progress line).

load helpers/common

V=$ROOT/t/vectors/phala-lease
J() { "$BIN/phala-json" "$@"; }

@test "get: deploy stdout (progress line + JSON) with --embedded" {
	run J --embedded get "$V/deploy.out" success app_id vm_uuid name
	assert_success
	assert_output "true
3f2a9c4d8e7b6a5f4c3d2e1f0a9b8c7d6e5f4a3b
4b0e8a52-7c1d-4e9f-9a3b-2d6c5e8f1a07
tdx-lease-01"
	run J get "$V/deploy.out" success
	assert_failure 3
}

@test "get: nested paths, A|B alternatives, null and absent as empty lines, top-level name not the nested one" {
	run sh -c '"$1" get "$2" name status "gateway.base_domain|gateway_domain" node_info.id os.os_image_hash missing | tr "\n" "|"' \
		_ "$BIN/phala-json" "$V/get.json"
	assert_success
	assert_output "tdx-lease-01|running|dstack-pha-prod7.phala.network|12|||"
	run J get - 'gateway.base_domain|gateway_domain' <<<'{"gateway_domain":"gw.example:8443"}'
	assert_output "gw.example:8443"
}

@test "10: trailing noise, } inside strings, escapes, braces on the progress line" {
	run J --embedded get - a b <<<'progress {x}
{"a":"}{\"","b":"line"} trailing } noise {'
	assert_success
	assert_output '}{"
line'
}

@test "--embedded: the first balanced object must be valid JSON; no object or an unterminated one is exit 3" {
	run J --embedded get - a <<<'Provisioning CVM x...'
	assert_failure 3
	assert_output --partial "no JSON object"
	run J --embedded get - a <<<'{"a":"b"'
	assert_failure 3
	assert_output --partial "unterminated"
	run J --embedded get - a <<<'x {"a":"b"}'
	assert_failure 3
	assert_output --partial "no JSON object"
	run J --embedded get - a <<<'{"a":01}'
	assert_failure 3
}

@test "a value that would forge a line or a field (newline, tab) and a container in get are exit 3" {
	run J get - a <<<'{"a":"x\ny"}'
	assert_failure 3
	assert_output --partial "control character"
	run J items - items f <<<'{"items":[{"f":"a\tb"}]}'
	assert_failure 3
	run J get "$V/get.json" gateway
	assert_failure 3
	assert_output --partial "expected a scalar, got an object"
}

@test "items: camelCase list items, tab-separated; empty arrays; non-object elements and missing arrays are exit 3" {
	run J items "$V/list.json" items appId cvmName status
	assert_success
	assert_output "$(printf '3f2a9c4d8e7b6a5f4c3d2e1f0a9b8c7d6e5f4a3b\ttdx-lease-01\trunning')"
	run J items - items appId <<<'{"items":[]}'
	assert_success
	assert_output ""
	run J items - items appId <<<'{"items":[1]}'
	assert_failure 3
	run J items - nope appId <<<'{"items":[]}'
	assert_failure 3
	run J items - '' lease_id <<<'[{"lease_id":"a"},{"lease_id":"b"}]'
	assert_output "a
b"
}

@test "value: strings exactly (no newline added), containers as JSON text, absent is exit 1" {
	run J value - s <<<'{"s":"a\nb"}'
	assert_output "a
b"
	run J value - o <<<'{"o":{"k":[1, 2]}}'
	assert_output '{"k":[1, 2]}'
	run J value - nope <<<'{"o":1}'
	assert_failure 1
	run J value - o <<<'{"o":null}'
	assert_failure 1
}

@test "object: strings escaped, := for literals and JSON; bad JSON and bad arguments rejected" {
	run J object a=b 'q=x"y\z' n:=12 t:=true o:='{"k":[1]}' e=
	assert_success
	assert_output '{"a":"b","q":"x\"y\\z","n":12,"t":true,"o":{"k":[1]},"e":""}'
	run J object n:=1x
	assert_failure 3
	run J object novalue
	assert_failure 2
	run J object =x
	assert_failure 2
}

@test "usage errors are exit 2" {
	run J
	assert_failure 2
	run J frob x
	assert_failure 2
	run J get
	assert_failure 2
	run J value f a b
	assert_failure 2
	run J --help
	assert_success
}

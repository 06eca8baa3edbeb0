#!/usr/bin/env bats
# check: build-independent
# t/sim/install-phala-cli.sh: idempotent, and a clear refusal without node/npm
# or without the npm registry (the contract tests then skip).

bats_require_minimum_version 1.5.0
load helpers/common
load helpers/mock-api

INSTALL=$ROOT/t/sim/install-phala-cli.sh

@test "an installed CLI of the pinned version is left alone (no npm call)" {
	need_phala_cli
	[ "$PHALA_CLI" = "$ROOT/build/phala-cli/node_modules/.bin/phala" ] || skip "PHALA_CLI points elsewhere"
	npm_config_registry=http://127.0.0.1:9/ run "$INSTALL"
	assert_success
	assert_output "install-phala-cli: phala 1.1.18 already in $ROOT/build/phala-cli"
}

@test "no registry: exit 5 with the reason, no CLI left behind" {
	command -v npm >/dev/null 2>&1 || skip "npm not installed"
	prefix=$BATS_TEST_TMPDIR/prefix
	PHALA_CLI_PREFIX=$prefix npm_config_cache=$BATS_TEST_TMPDIR/cache npm_config_registry=http://127.0.0.1:9/ \
		npm_config_fetch_retry_mintimeout=100 npm_config_fetch_retry_maxtimeout=200 run "$INSTALL"
	assert_failure 5
	assert_line "install-phala-cli: npm could not install phala 1.1.18 (is the npm registry reachable?); full log: $prefix/npm.log"
	[ ! -e "$prefix/node_modules/.bin/phala" ]
}

@test "no node or npm: exit 4 naming the Debian packages" {
	mkdir "$BATS_TEST_TMPDIR/bin"
	for t in dirname cmp mkdir cp; do ln -s "$(command -v "$t")" "$BATS_TEST_TMPDIR/bin/$t"; done
	PATH=$BATS_TEST_TMPDIR/bin PHALA_CLI_PREFIX=$BATS_TEST_TMPDIR/prefix run /bin/sh "$INSTALL"
	assert_failure 4
	assert_output "install-phala-cli: node not found: install the Debian packages nodejs and npm (sudo sh .ci/deps)"
}

# Bats helpers for tests that drive the real `phala` CLI against the loopback
# mock of the Phala Cloud API (t/sim/mock-api.sh, t/sim/README.md).
# Load after helpers/common:   load helpers/common; load helpers/mock-api
# shellcheck shell=bash

MOCK_API=$ROOT/t/sim/mock-api.sh
PHALA_CLI=${PHALA_CLI:-$ROOT/build/phala-cli/node_modules/.bin/phala}
export MOCK_API PHALA_CLI

# need_phala_cli: skips the test, with the reason, when the pinned CLI is not
# installed (t/sim/install-phala-cli.sh could not reach the npm registry).
need_phala_cli() {
	command -v node >/dev/null 2>&1 || skip "node not installed (Debian nodejs); the real phala CLI cannot run"
	[ -x "$PHALA_CLI" ] || skip "phala CLI not installed at $PHALA_CLI (sh t/sim/install-phala-cli.sh needs the npm registry)"
}

# mock_start [mock-api start options]: starts the mock in $BATS_TEST_TMPDIR/mock
# (MOCK_DIR) and points the CLI at it: API prefix and key in the environment,
# an empty config dir, no update check, no DEBUG. PHALA_CWD is a private empty
# working directory (no phala.toml). The mock watches this test's process and
# stops by itself if the test run is killed before its teardown.
mock_start() {
	MOCK_DIR=$BATS_TEST_TMPDIR/mock
	PHALA_CWD=$BATS_TEST_TMPDIR/cwd
	mkdir -p "$PHALA_CWD" "$BATS_TEST_TMPDIR/phala-cloud"
	MOCK_PREFIX=$("$MOCK_API" start "$MOCK_DIR" --watch-pid "$$" "$@") || return 1
	PHALA_CLOUD_API_PREFIX=$MOCK_PREFIX
	PHALA_CLOUD_API_KEY=$(cat "$MOCK_DIR/api-key")
	PHALA_CLOUD_DIR=$BATS_TEST_TMPDIR/phala-cloud
	PHALA_DISABLE_UPDATE_CHECK=1
	export MOCK_DIR MOCK_PREFIX PHALA_CWD PHALA_CLOUD_API_PREFIX PHALA_CLOUD_API_KEY PHALA_CLOUD_DIR PHALA_DISABLE_UPDATE_CHECK
	unset DEBUG
}

# mock_stop: stops the mock (safe to call twice, and from teardown).
mock_stop() {
	[ -z "${MOCK_DIR:-}" ] || "$MOCK_API" stop "$MOCK_DIR"
}

# phala ARGS...: the real CLI, in the private cwd, stdin /dev/null.
phala() {
	(cd "$PHALA_CWD" && "$PHALA_CLI" "$@" </dev/null)
}

# mock_calls: the requests the mock received, one "METHOD PATH" a line.
mock_calls() {
	awk '{ print $2, $3 }' "$MOCK_DIR/requests.txt"
}

# json EXPR [FILE]: evaluates a JavaScript expression over the JSON document
# in FILE (default stdin), bound to `o`; strings print bare, others as JSON.
json() {
	node -e '
		const fs = require("fs");
		const o = JSON.parse(fs.readFileSync(process.argv[2] || 0, "utf8"));
		const v = eval(process.argv[1]);
		process.stdout.write((typeof v === "string" ? v : JSON.stringify(v)) + "\n");
	' "$1" "${2:-}"
}

# mock_request SEQ EXPR: EXPR over the recorded request number SEQ (fields:
# seq, method, path, query, endpoint, key, version, body, status, fault).
mock_request() {
	node -e '
		const fs = require("fs");
		const lines = fs.readFileSync(process.argv[3], "utf8").split("\n").filter(Boolean);
		const o = lines.map(JSON.parse).find((r) => r.seq === Number(process.argv[1]));
		if (!o) { process.stderr.write("no request " + process.argv[1] + "\n"); process.exit(1); }
		const v = eval(process.argv[2]);
		process.stdout.write((typeof v === "string" ? v : JSON.stringify(v)) + "\n");
	' "$1" "$2" "$MOCK_DIR/requests.jsonl"
}

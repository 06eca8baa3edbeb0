#!/bin/sh
# Cost of one real `phala` CLI call against the loopback mock (t/sim/), next
# to the same request made by curl: what every CLI call of phala-lease (and
# the uncached path of phala-proxy) pays, and how much of it is the CLI's own
# start-up. Figures only; nothing here fails on time.
set -eu
cd "$(dirname "$0")/../.." || exit 4
cli=${PHALA_CLI:-$PWD/build/phala-cli/node_modules/.bin/phala}
for t in node curl hyperfine; do
	command -v "$t" >/dev/null 2>&1 || { echo "skipped: $t not installed"; exit 0; }
done
[ -x "$cli" ] || { echo "skipped: phala CLI not installed (sh t/sim/install-phala-cli.sh)"; exit 0; }

mock=$PWD/t/sim/mock-api.sh
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-phala-cli.XXXXXX")
trap '"$mock" stop "$tmp/mock" || :; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP PIPE
prefix=$("$mock" start "$tmp/mock")
app=$("$mock" add "$tmp/mock" name=bench-lease-01)
mkdir "$tmp/cwd" "$tmp/cfg"
PHALA_CLOUD_API_PREFIX=$prefix PHALA_CLOUD_API_KEY=$(cat "$tmp/mock/api-key") PHALA_CLOUD_DIR=$tmp/cfg \
	PHALA_DISABLE_UPDATE_CHECK=1
export PHALA_CLOUD_API_PREFIX PHALA_CLOUD_API_KEY PHALA_CLOUD_DIR PHALA_DISABLE_UPDATE_CHECK
cd "$tmp/cwd"
hyperfine -N --style basic --warmup 1 --runs "${RUNS:-5}" --export-json "$tmp/h.json" \
	-n 'curl GET /cvms/{id} (the mock alone)' "curl -sf -H 'X-API-Key: $PHALA_CLOUD_API_KEY' $prefix/cvms/app_$app" \
	-n 'phala --version (CLI start-up)' "$cli --version" \
	-n 'phala cvms get --json' "$cli cvms get app_$app --json" \
	-n 'phala cvms list --json (2 requests)' "$cli cvms list --json" </dev/null
node -e '
	const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).results;
	const ms = (x) => (x.mean * 1000).toFixed(1) + " ms";
	console.log("phala-cli: curl " + ms(r[0]) + ", CLI start-up " + ms(r[1]) + ", cvms get " + ms(r[2]) +
		", cvms list " + ms(r[3]) + "; cvms get / curl = " + (r[2].mean / r[0].mean).toFixed(0) + "x, start-up share " +
		(100 * r[1].mean / r[2].mean).toFixed(0) + "%");
' "$tmp/h.json"

#!/bin/sh
# install-phala-cli.sh: installs the real `phala` CLI, pinned to the version
# the notes were written against (t/sim/phala-cli/package.json and its lock
# file), into a local prefix outside the tracked files (default
# build/phala-cli; PHALA_CLI_PREFIX overrides). The CLI is then
# PREFIX/node_modules/.bin/phala.
#
# Idempotent: an installed CLI of the pinned version with the same lock file
# is left alone. Exit 0 installed; 4 node/npm missing or a local failure;
# 5 the registry could not be reached (the contract tests then skip).
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
src=$root/t/sim/phala-cli
prefix=${PHALA_CLI_PREFIX:-$root/build/phala-cli}
want=1.1.18

say() { printf 'install-phala-cli: %s\n' "$*" >&2; }

installed() {
	[ -x "$prefix/node_modules/.bin/phala" ] && cmp -s "$src/package-lock.json" "$prefix/package-lock.json" || return 1
	v=$(PHALA_DISABLE_UPDATE_CHECK=1 "$prefix/node_modules/.bin/phala" --version </dev/null 2>/dev/null) || return 1
	case $v in "v$want+"* | "v$want") return 0 ;; esac
	return 1
}

if installed; then
	say "phala $want already in $prefix"
	exit 0
fi

for t in node npm; do
	command -v "$t" >/dev/null 2>&1 || {
		say "$t not found: install the Debian packages nodejs and npm (sudo sh .ci/deps)"
		exit 4
	}
done

mkdir -p "$prefix" || { say "cannot create $prefix"; exit 4; }
cp "$src/package.json" "$src/package-lock.json" "$prefix/" || { say "cannot write $prefix"; exit 4; }

# Bounded: one retry, 30 s per request, 10 min in all; no stdin.
to=
command -v timeout >/dev/null 2>&1 && to="timeout 600"
say "installing phala $want into $prefix (npm ci)"
# shellcheck disable=SC2086 # $to is empty or two words
if ! (cd "$prefix" && $to npm ci --no-audit --no-fund --ignore-scripts --loglevel=error \
	--fetch-retries=1 --fetch-timeout=30000 </dev/null >"$prefix/npm.log" 2>&1); then
	tail -n 5 "$prefix/npm.log" >&2
	say "npm could not install phala $want (is the npm registry reachable?); full log: $prefix/npm.log"
	exit 5
fi
if ! installed; then
	say "phala in $prefix does not report version $want"
	exit 4
fi
say "phala $want installed: $prefix/node_modules/.bin/phala"

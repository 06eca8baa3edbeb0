#!/bin/sh
# A stand-in for the phala CLI in the phala-proxy tests. Each call appends its
# argv as one line to $FAKE_PHALA_LOG and one line of its environment facts
# (entries in the cwd, DEBUG, PHALA_DISABLE_UPDATE_CHECK, stdin) to
# $FAKE_PHALA_LOG.env; then sleeps $FAKE_PHALA_SLEEP seconds if set, prints
# the file $FAKE_PHALA_STDOUT, the text $FAKE_PHALA_STDERR on stderr, and
# exits $FAKE_PHALA_RC (default 0).
set -eu
printf '%s\n' "$*" >>"${FAKE_PHALA_LOG:?}"
entries=$(find . -mindepth 1 -maxdepth 1 | wc -l)
stdin=tty-or-other
[ "$(readlink -f /dev/stdin)" = /dev/null ] && stdin=devnull
printf 'cwd-entries=%s debug=%s update-check-disabled=%s stdin=%s\n' "$entries" "${DEBUG-unset}" \
	"${PHALA_DISABLE_UPDATE_CHECK-unset}" "$stdin" >>"$FAKE_PHALA_LOG.env"
if [ -n "${FAKE_PHALA_SLEEP:-}" ]; then sleep "$FAKE_PHALA_SLEEP"; fi
if [ -n "${FAKE_PHALA_STDOUT:-}" ]; then cat "$FAKE_PHALA_STDOUT"; fi
if [ -n "${FAKE_PHALA_STDERR:-}" ]; then printf '%s\n' "$FAKE_PHALA_STDERR" >&2; fi
exit "${FAKE_PHALA_RC:-0}"

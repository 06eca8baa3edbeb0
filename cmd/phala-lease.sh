#!/bin/sh
# phala-lease: lease Intel TDX CVMs on Phala Cloud - acquire, run, status,
# list, ssh, ssh-config, release, cleanup - composing the phala CLI, phala-claim,
# phala-proxy and the attestation tools. See phala-lease(1).
set -eu

PL_SELF=$0
PL_VERSION=@VERSION@
PL_BINDIR=$(cd "$(dirname "$0")" && pwd)
# Helpers: the installed DATADIR, else relative to bin/ (a staged DESTDIR
# install, or the source tree's share/).
PL_SHARE=@DATADIR@/phala-lease
[ -d "$PL_SHARE" ] || PL_SHARE=$PL_BINDIR/../share/phala-tools/phala-lease
[ -d "$PL_SHARE" ] || PL_SHARE=$PL_BINDIR/../share/phala-lease
if [ ! -f "$PL_SHARE/common.sh" ]; then
	echo "phala-lease: helpers not found in $PL_SHARE" >&2
	exit 4
fi
# shellcheck source=share/phala-lease/common.sh
. "$PL_SHARE/common.sh"
# shellcheck source=share/phala-lease/gate.sh
. "$PL_SHARE/gate.sh"
# shellcheck source=share/phala-lease/acquire.sh
. "$PL_SHARE/acquire.sh"
# shellcheck source=share/phala-lease/attest.sh
. "$PL_SHARE/attest.sh"
# shellcheck source=share/phala-lease/commands.sh
. "$PL_SHARE/commands.sh"
# shellcheck source=share/phala-lease/images.sh
. "$PL_SHARE/images.sh"
# shellcheck source=share/phala-lease/run.sh
. "$PL_SHARE/run.sh"

pl_main "$@"

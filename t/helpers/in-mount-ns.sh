#!/bin/sh
# in-mount-ns.sh SRC DST CMD...: runs CMD in a mount namespace of its own in
# which SRC is bind-mounted over DST; nothing outside sees the mount. As root
# a plain mount namespace; otherwise one inside a user namespace whose root
# is the invoking user (CMD then runs as that namespace's root). Fails, as
# unshare does, where such namespaces are not permitted.
set -eu
[ $# -ge 3 ] || { echo "usage: in-mount-ns.sh SRC DST CMD..." >&2; exit 2; }
ns="--mount --propagation private"
[ "$(id -u)" -eq 0 ] || ns="--user --map-root-user $ns"
# shellcheck disable=SC2016,SC2086 # $1, $2 and $@ are the inner sh's; ns is a word list
exec unshare $ns sh -c 'mount --bind "$1" "$2" && shift 2 && exec "$@"' in-mount-ns "$@"

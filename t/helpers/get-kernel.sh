#!/bin/sh
# get-kernel.sh [DIR]: a real signed PE kernel for tdx-measure's tests and
# the synthetic image - Debian's cloud kernel (linux-image-*-cloud-amd64,
# the smallest flavour) fetched with apt-get download and unpacked with
# dpkg-deb, never installed; only boot/vmlinuz-* is kept, as DIR/vmlinuz
# (default build/debian-kernel), and the package name in DIR/package.
# Prints the kernel's path. Exit 4, with the reason on stderr, when apt
# cannot provide it (no package lists, no network): tests then skip.
set -eu
dir=${1:-build/debian-kernel}
if [ -s "$dir/vmlinuz" ]; then
	echo "$dir/vmlinuz"
	exit 0
fi
fail() {
	echo "get-kernel: $*" >&2
	exit 4
}
for c in apt-get apt-cache dpkg-deb tar; do
	command -v "$c" >/dev/null 2>&1 || fail "no $c (not a Debian system)"
done
pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
	sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-cloud-amd64\)$/\1/p' | head -n 1)
[ -n "$pkg" ] || fail "apt knows no linux-image-cloud-amd64 (apt-get update first?)"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/get-kernel.XXXXXX") || fail "mktemp failed"
trap 'rm -rf "$tmp"' EXIT INT TERM
(cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$pkg") >"$tmp/log" 2>&1 ||
	fail "apt-get download $pkg: $(tail -n 1 "$tmp/log")"
deb=
for f in "$tmp"/*.deb; do [ -f "$f" ] && deb=$f; done
[ -n "$deb" ] || fail "apt-get download $pkg left no .deb"
mkdir -p "$tmp/x"
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp/x" --wildcards './boot/vmlinuz-*' ||
	fail "cannot unpack boot/vmlinuz-* from $deb"
kernel=
for f in "$tmp"/x/boot/vmlinuz-*; do [ -f "$f" ] && kernel=$f; done
[ -n "$kernel" ] || fail "$deb has no boot/vmlinuz-*"
mkdir -p "$dir" || fail "cannot create $dir"
cp "$kernel" "$dir/vmlinuz.tmp" || fail "cannot write $dir/vmlinuz.tmp"
mv "$dir/vmlinuz.tmp" "$dir/vmlinuz" || fail "cannot write $dir/vmlinuz"
echo "$pkg" >"$dir/package"
echo "$dir/vmlinuz"

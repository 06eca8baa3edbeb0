#!/bin/sh
# Measuring a full image: tdx-measure over a synthetic image (Debian's OVMF,
# Debian's cloud kernel when apt can fetch it, else a synthetic one, and a
# 32 MiB initrd) from its directory and from its mr_<hash>.tar.gz, against
# `sha384sum` of the same three files - the floor: tdx-measure hashes every
# file twice (SHA-256 for identity, SHA-384 to measure), the firmware twice
# more for the two MRTD orders, and the archive is inflated first.
set -eu
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
kernel=debian
sh t/helpers/get-kernel.sh >/dev/null 2>&1 || kernel=synthetic
sh t/helpers/mk-image.sh --kernel "$kernel" --initrd-pad 33554432 "$tmp/img" >/dev/null
i=$tmp/img
files="$i/image/ovmf.fd $i/image/bzImage $i/image/initramfs.cpio.gz"
# shellcheck disable=SC2086 # one word per file
bytes=$(cat $files | wc -c)

# shellcheck source=t/helpers/timing.sh
. t/helpers/timing.sh
dir=$(median_ms bin/tdx-measure --image "$i/image" --vm-config "$i/vm-config.json" --acpi "$i/acpi.json")
tar=$(median_ms bin/tdx-measure --image "$i/mr_$(cat "$i/os_image_hash").tar.gz" --vm-config "$i/vm-config.json" --acpi "$i/acpi.json")
# shellcheck disable=SC2086
sha=$(median_ms sha384sum $files)
awk -v b="$bytes" -v d="$dir" -v t="$tar" -v s="$sha" -v k="$kernel" 'BEGIN {
	printf "measure: firmware + %s kernel + initrd, %.1f MB\n", k, b / 1e6
	printf "  tdx-measure --image DIR        %8.1f ms  %7.1f MB/s\n", d, b / d / 1e3
	printf "  tdx-measure --image TARBALL    %8.1f ms  %7.1f MB/s\n", t, b / t / 1e3
	printf "  sha384sum of the three files   %8.1f ms  %7.1f MB/s\n", s, b / s / 1e3
	printf "  ratio directory/sha384sum      %8.2f\n", d / s
	printf "  ratio tarball/sha384sum        %8.2f\n", t / s
}'

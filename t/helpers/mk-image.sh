#!/bin/sh
# mk-image.sh: builds a synthetic dstack OS image - real TDVF firmware
# (Debian's ovmf package), a kernel (Debian's cloud kernel, or a synthetic
# bzImage), a tiny initramfs, metadata.json, dstack's lite material
# (measurement.tdx.cbor) and sha256sum.txt - as a directory and as the
# mr_<os_image_hash>.tar.gz dstack publishes, for tdx-measure's tests and the
# simulator's image mirror. Deterministic: the same options give the same
# bytes, so the same os_image_hash.
#
#   mk-image.sh [options] OUTDIR
#     --kernel debian|synthetic|FILE  the kernel (default debian: t/helpers/get-kernel.sh)
#     --ovmf FILE        the firmware (default /usr/share/ovmf/OVMF.fd)
#     --cmdline TEXT     the command line in metadata.json
#     --initrd-text TEXT what the initramfs's /init prints (varies the initrd)
#     --initrd-pad BYTES an incompressible file of that size in the initramfs
#     --seed TEXT        varies the synthetic kernel's bytes
#     --cpus N --memory BYTES  the VM of OUTDIR/vm-config.json (default 2, 2 GiB)
#     --no-cbor          leave out measurement.tdx.cbor (an image without lite material)
#     --config-of IMGDIR  build nothing: write only OUTDIR's vm-config.json and
#                        acpi.json for the image directory IMGDIR (an earlier
#                        run's OUTDIR/image; its lite material when it has
#                        measurement.tdx.cbor) at --cpus/--memory: another VM size
#
# Writes, in OUTDIR:
#   image/                the image directory (ovmf.fd bzImage initramfs.cpio.gz
#                         metadata.json [measurement.tdx.cbor] sha256sum.txt)
#   mr_<hash>.tar.gz      the same files, flattened, gzip'd ustar
#   os_image_hash         SHA-256 of image/sha256sum.txt, in hex
#   vm-config.json        a vm_config for it (QEMU 8.2.2; with tdx_measurement
#                         when the CBOR is there, as dstack >= 0.6 hosts write it)
#   acpi.json             a --acpi list with one synthetic ACPI triple for that
#                         vm_config (SHA-384 of fixed strings: no QEMU tables)
# Prints the os_image_hash. Needs the helpers built (make helpers; $HELPERS
# overrides build/helpers). Exit 2 usage, 4 when an input is unavailable.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
helpers=${HELPERS:-$root/build/helpers}
kernel=debian ovmf=/usr/share/ovmf/OVMF.fd seed=synthetic cbor=yes cpus=2 memory=2147483648 pad=0 config_of=
initrd_text='synthetic dstack guest'
cmdline='console=ttyS0 init=/init panic=1 net.ifnames=0 dstack.rootfs_hash=0000000000000000000000000000000000000000000000000000000000000000 dstack.rootfs_size=0'
usage() {
	sed -n '/^#   mk-image.sh/,/another VM size$/p' "$0" | sed 's/^# //' >&2
	exit 2
}
die() {
	echo "mk-image: $*" >&2
	exit 4
}
while [ $# -gt 1 ]; do
	case $1 in
	--kernel) kernel=$2 ;;
	--ovmf) ovmf=$2 ;;
	--cmdline) cmdline=$2 ;;
	--initrd-text) initrd_text=$2 ;;
	--initrd-pad) pad=$2 ;;
	--seed) seed=$2 ;;
	--cpus) cpus=$2 ;;
	--memory) memory=$2 ;;
	--config-of) config_of=$2 ;;
	--no-cbor) cbor=no; shift; continue ;;
	*) usage ;;
	esac
	shift 2
done
[ $# -eq 1 ] || usage
out=$1
case $cpus$memory$pad in *[!0-9]*) usage ;; esac
build() {
	[ -r "$ovmf" ] || die "no firmware at $ovmf (apt-get install ovmf)"
	[ -x "$helpers/tdx-image-cbor" ] || die "no $helpers/tdx-image-cbor (make helpers)"
	img=$out/image
	rm -rf "$img"
	mkdir -p "$img" || die "cannot create $img"
	cp "$ovmf" "$img/ovmf.fd" || die "cannot copy $ovmf"
	case $kernel in
	debian)
		k=$(sh "$root/t/helpers/get-kernel.sh" "$root/build/debian-kernel") || exit 4
		cp "$k" "$img/bzImage" || die "cannot copy $k"
		;;
	synthetic) perl "$root/t/helpers/mk-bzimage.pl" "$img/bzImage" "$seed" || die "mk-bzimage.pl failed" ;;
	*) cp "$kernel" "$img/bzImage" || die "cannot copy $kernel" ;;
	esac
	perl "$root/t/helpers/mk-initramfs.pl" "$img/initramfs.cpio" "$initrd_text" "$pad" || die "mk-initramfs.pl failed"
	gzip -n -9 "$img/initramfs.cpio" || die "gzip failed"
	# metadata.json as dstack writes it; the command line goes through JSON escaping.
	perl -MJSON::PP -e 'print JSON::PP->new->canonical->encode({bios => "ovmf.fd", kernel => "bzImage",
		initrd => "initramfs.cpio.gz", cmdline => $ARGV[0], version => "0.0.0"}), "\n"' "$cmdline" >"$img/metadata.json" ||
		die "cannot write metadata.json"
	files="ovmf.fd bzImage initramfs.cpio.gz metadata.json"
	if [ "$cbor" = yes ]; then
		"$helpers/tdx-image-cbor" "$img" >"$img/measurement.tdx.cbor" || die "tdx-image-cbor failed"
		files="$files measurement.tdx.cbor"
	fi
	# shellcheck disable=SC2086 # one word per file name
	(cd "$img" && sha256sum $files) >"$img/sha256sum.txt" || die "sha256sum failed"
	hash=$(sha256sum "$img/sha256sum.txt" | cut -d' ' -f1)
	echo "$hash" >"$out/os_image_hash"
	rm -f "$out"/mr_*.tar.gz
	# shellcheck disable=SC2086
	tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu -C "$img" -cf - $files sha256sum.txt |
		gzip -n -9 >"$out/mr_$hash.tar.gz" || die "tar failed"
}
if [ -n "$config_of" ]; then
	img=$config_of
	[ -r "$img/sha256sum.txt" ] || die "$img: no sha256sum.txt (not an image directory)"
	mkdir -p "$out" || die "cannot create $out"
	hash=$(sha256sum "$img/sha256sum.txt" | cut -d' ' -f1)
	cbor=no
	[ ! -f "$img/measurement.tdx.cbor" ] || cbor=yes
else
	build
fi
lite=
if [ "$cbor" = yes ]; then
	lite=$(printf ', "tdx_attestation_variant": "lite", "tdx_measurement": {"checksum_file": "%s", "measurement": "%s"}' \
		"$(base64 -w0 "$img/sha256sum.txt")" "$(base64 -w0 "$img/measurement.tdx.cbor")")
fi
cat >"$out/vm-config.json" <<JSON
{"os_image_hash": "$hash", "cpu_count": $cpus, "memory_size": $memory, "qemu_version": "8.2.2", "pci_hole64_size": 0, "hugepages": false, "num_gpus": 0, "num_nvswitches": 0, "hotplug_off": false, "image": "dstack-synthetic-0.0.0", "host_share_mode": "9p", "ovmf_variant": "pre202505", "spec_version": 1$lite}
JSON
d() { printf '%s' "synthetic $1 for $cpus vCPU and $memory bytes" | sha384sum | cut -d' ' -f1; }
cat >"$out/acpi.json" <<JSON
{"acpi": [{"name": "synthetic, $cpus vCPU, $memory bytes (no QEMU tables)",
  "vm": {"cpu_count": $cpus, "memory_size": $memory, "qemu_version": "8.2.2", "pci_hole64_size": 0, "hugepages": false, "num_gpus": 0, "num_nvswitches": 0, "hotplug_off": false, "host_share_mode": "9p"},
  "loader": "$(d etc/table-loader)", "rsdp": "$(d etc/acpi/rsdp)", "tables": "$(d etc/acpi/tables)"}]}
JSON
echo "$hash"

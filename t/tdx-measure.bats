#!/usr/bin/env bats
# tdx-measure: the registers of an OS image at a VM size, from the real lite
# fixture (dstack 0.6.0) and from synthetic images (t/helpers/mk-image.sh:
# Debian's OVMF, a synthetic bzImage, a tiny initramfs), compared with
# quotes; identity, hostile archives, fetching over loopback HTTPS into a
# cache; Authenticode against osslsigncode (Debian's signed kernel when apt
# can fetch it, else skipped with the reason).

# Perl snippets in single quotes are Perl's ($v is the vm_config); each test
# sets its own environment (bats runs every test in a subshell).
# shellcheck disable=SC2016,SC2030,SC2031

load helpers/common

M() { "$BIN/tdx-measure" "$@"; }
J() { "$BIN/phala-json" "$@"; }
LITE=$ROOT/testdata/dstack-tdx-lite-getquote.json

# mk NAME [mk-image options]: a synthetic image in $BATS_FILE_TMPDIR/NAME.
mk() {
	name=$1
	shift
	sh "$ROOT/t/helpers/mk-image.sh" --kernel synthetic "$@" "$BATS_FILE_TMPDIR/$name" >/dev/null
}

# evidence IMAGE_NAME VM_CONFIG OUT: a GetQuote response whose log and quote
# carry the registers of a CVM that booted IMAGE_NAME (at its vm-config.json's
# size, ACPI from its acpi.json) while its vm_config says VM_CONFIG.
evidence() {
	d=$BATS_FILE_TMPDIR/$1
	"$BIN/tdx-measure" --json --image "$d/image" --vm-config "$d/vm-config.json" --acpi "$d/acpi.json" >"$3.m"
	perl "$ROOT/t/helpers/mk-evidence.pl" "$3.m" "$2" "$LITE" >"$3"
}

# lite_variant OUT PERL: the lite fixture with its vm_config (as %v) edited.
lite_variant() {
	perl -MJSON::PP -e '
		my $j = JSON::PP->new->canonical;
		local $/; open(my $f, "<", $ARGV[0]) or die; my $d = decode_json(<$f>);
		my %v = %{ decode_json($d->{vm_config}) };
		use MIME::Base64; use Digest::SHA qw(sha256_hex);
		eval $ARGV[1]; die $@ if $@;
		$d->{vm_config} = $j->encode(\%v); print $j->encode($d);' "$LITE" "$2" >"$1"
}

setup_file() {
	mk a
	mk kernel2 --seed other-kernel
	mk initrd2 --initrd-text 'another initrd'
	mk cmdline2 --cmdline 'console=ttyS0 init=/init panic=1 dstack.rootfs_hash=ff dstack.rootfs_size=0'
	A=$BATS_FILE_TMPDIR/a
	export A
	evidence a "$A/vm-config.json" "$A/ev.json"
}

setup() {
	cd "$BATS_TEST_TMPDIR" || return 1
	A=$BATS_FILE_TMPDIR/a
	export HOME=$BATS_TEST_TMPDIR/home XDG_CONFIG_HOME=$BATS_TEST_TMPDIR/config XDG_CACHE_HOME=$BATS_TEST_TMPDIR/cache
	unset TDX_MEASURE_IMAGE_URL TDX_MEASURE_CACHE
}

teardown() {
	if [ -n "${SRV_PID:-}" ]; then
		kill "$SRV_PID" 2>/dev/null || true
		wait "$SRV_PID" 2>/dev/null || true
	fi
}

@test "usage: --version, --help, errors exit 2" {
	run M --version
	assert_success
	assert_output --regexp '^tdx-measure \(phala-tools\) [0-9.]+$'
	run M --help
	assert_success
	assert_output --partial "--image DIR|TARBALL"
	run M
	assert_failure 2
	run M --image x --fetch e.json
	assert_failure 2
	run M --bogus e.json
	assert_failure 2
	run M - --vm-config -
	assert_failure 2
}

@test "lite fixture (dstack 0.6.0): MRTD and RTMR0-2 recomputed from tdx_measurement equal the quote's" {
	run M "$LITE"
	assert_success
	assert_line "image: lite, vm_config.tdx_measurement"
	assert_line "acpi: from the event log, not verified"
	assert_line "mrtd  fd685522ce791dfef67414614eb07d03fc07a32c5a66f36288b329dab92b724b1564c73d436ffb9ea84488c51ac5a1c5 ok"
	assert_line "rtmr0 f8438db36b96f85d8752ff7f24a89ec05c79ec9eda2ba732c897fb970ca429365b7471b1c054cb84f17b1c2b23ba6640 ok"
	assert_line "rtmr1 2023546e7f3b9d1228e274f70c44d481162540f8452544520a796a52f06879709b81a824a26792a7822327504b0d2aee ok"
	assert_line "rtmr2 4c1b739ed451a637b0f82642e48a5ea83925d23633c72e7385c8e9aca4175e133ed1625b7d92eb39edf509c27ff392dc ok"
	assert_line "result: all four registers equal the evidence's quote"
	# The same from the .1.8 attestation of the same CVM.
	run M "$ROOT/testdata/dstack-tdx-lite-attestation.json"
	assert_success
	assert_line "result: all four registers equal the evidence's quote"
}

@test "--json: the schema, every event with imr, name, digest and source, in register and log order" {
	M --json "$LITE" >out.json
	run J get out.json ok os_image_hash image acpi acpi_entry match.mrtd match.rtmr0 match.rtmr1 match.rtmr2
	assert_output "true
e6f5cfec20c02e7b97baa213d0f718020b55e040172d90ccbcb946d56c8b09db
lite
log

true
true
true
true"
	run J get out.json first_difference
	assert_output ""
	run J get out.json quote.rtmr1 rtmr1
	assert_line --index 0 "2023546e7f3b9d1228e274f70c44d481162540f8452544520a796a52f06879709b81a824a26792a7822327504b0d2aee"
	assert_line --index 1 "2023546e7f3b9d1228e274f70c44d481162540f8452544520a796a52f06879709b81a824a26792a7822327504b0d2aee"
	run J items out.json events imr index name source
	assert_output "0	0	td-hob	computed
0	1	cfv	computed
0	2	secure-boot	computed
0	3	pk	computed
0	4	kek	computed
0	5	db	computed
0	6	dbx	computed
0	7	separator	computed
0	8	acpi-loader	log
0	9	acpi-rsdp	log
0	10	acpi-tables	log
0	11	boot-order	computed
0	12	boot0000	computed
1	0	kernel	lite
1	1	calling-efi-application	computed
1	2	separator	computed
1	3	exit-boot-services-invocation	computed
1	4	exit-boot-services-returned	computed
2	0	cmdline	lite
2	1	initrd	lite"
	# Each digest is the log's (0b8772e5... is the TD HOB of every 2 GiB sample).
	run J items out.json events digest
	assert_line --index 0 "0b8772e5b0b41b83e6044a68397e02f49fb47066b4fbe4917ea2c45c64f323fdacbb37948f821ebaf8bc9c938ba8a749"
	assert_line --index 13 "ac7e632dcf5cd2a1fe5c1f41f4d9b8219570e64ed3c61038fdbf25404e6f542ffd57f276bc5076307efaf882e6d64177"
}

@test "lite: another memory size fails at RTMR0's TD HOB" {
	lite_variant mem.json '$v{memory_size} = 4294967296;'
	run M mem.json
	assert_failure 1
	assert_line --regexp "^rtmr0 [0-9a-f]{96} DIFFERS$"
	assert_line --regexp "^rtmr1 2023546e[0-9a-f]{88} ok$"
	assert_line --regexp "^tdx-measure: rtmr0 event 0 \(td-hob\): expected [0-9a-f]{96}, log has 0b8772e5"
	M --json mem.json >out.json || true
	run J get out.json ok first_difference.register first_difference.event first_difference.name first_difference.actual_from
	assert_output "false
rtmr0
0
td-hob
log"
}

@test "lite: a memory size the material does not cover is refused (2 GiB or >= 0xB0000000 only)" {
	lite_variant mem.json '$v{memory_size} = 2147483648 + 4194304;'
	run M mem.json
	assert_failure 1
	assert_output --partial "give --image or --fetch"
}

@test "lite: one changed byte in the CBOR fails its identity; a forged but consistent CBOR fails at RTMR1's kernel" {
	lite_variant cbor.json 'my $m = decode_base64($v{tdx_measurement}{measurement}); substr($m, 0x70, 1) ^= "\x01";
		$v{tdx_measurement}{measurement} = encode_base64($m, "");'
	run M cbor.json
	assert_failure 1
	assert_output --partial "tdx_measurement.measurement does not match the measurement.tdx.cbor line"
	# The same byte, with a checksum file and an os_image_hash made to fit.
	lite_variant forged.json 'my $m = decode_base64($v{tdx_measurement}{measurement}); substr($m, 0x70, 1) ^= "\x01";
		my $c = sha256_hex($m) . "  measurement.tdx.cbor\n";
		$v{tdx_measurement} = { measurement => encode_base64($m, ""), checksum_file => encode_base64($c, "") };
		$v{os_image_hash} = sha256_hex($c);'
	run M forged.json
	assert_failure 1
	assert_line --partial "mrtd  fd685522"
	assert_line --regexp "^rtmr1 [0-9a-f]{96} DIFFERS$"
	assert_line --regexp "^tdx-measure: rtmr1 event 0 \(kernel\): expected ac7e632dcf5cd2a1ff5c[0-9a-f]+, log has ac7e632dcf5cd2a1fe5c"
}

@test "lite: one changed byte in the checksum file, or another claimed os_image_hash, fails the identity" {
	lite_variant sums.json 'my $c = decode_base64($v{tdx_measurement}{checksum_file}); substr($c, 3, 1) ^= "\x01";
		$v{tdx_measurement}{checksum_file} = encode_base64($c, "");'
	run M sums.json
	assert_failure 1
	assert_output --regexp "os_image_hash mismatch: the evidence claims e6f5cfec[0-9a-f]+, SHA-256 of tdx_measurement.checksum_file is [0-9a-f]{64}"
}

@test "lite: one changed byte in the quote names the register (RTMR2, MRTD)" {
	perl -MJSON::PP -e 'local $/; my $d = decode_json(<STDIN>); my $q = pack("H*", $d->{quote});
		substr($q, $ARGV[0], 1) ^= "\x01"; $d->{quote} = unpack("H*", $q); print encode_json($d)' 480 <"$LITE" >q.json
	run M q.json
	assert_failure 1
	assert_line --regexp "^rtmr2 [0-9a-f]{96} DIFFERS$"
	assert_output --partial "tdx-measure: rtmr2 differs: expected 4c1b739e"
	assert_output --partial "though the log's events are the expected ones: the log does not belong to this quote"
	perl -MJSON::PP -e 'local $/; my $d = decode_json(<STDIN>); my $q = pack("H*", $d->{quote});
		substr($q, $ARGV[0], 1) ^= "\x01"; $d->{quote} = unpack("H*", $q); print encode_json($d)' 190 <"$LITE" >q.json
	run M q.json
	assert_failure 1
	assert_output --partial "tdx-measure: mrtd differs: expected fd685522"
}

@test "lite: vm_config that cannot be computed is refused, not guessed (exit 3)" {
	lite_variant v.json '$v{ovmf_variant} = "edk2-stable202505";'
	run M v.json
	assert_failure 3
	assert_output --partial "only pre202505"
	lite_variant v.json '$v{num_cpus} = 2;'
	run M v.json
	assert_failure 3
	assert_output --partial "vm_config.num_cpus: unknown field"
	lite_variant v.json '$v{swtpm} = JSON::PP::true;'
	run M v.json
	assert_failure 3
	# CBOR with a wrong type, its checksum file and os_image_hash made to fit.
	lite_variant v.json 'my $m = decode_base64($v{tdx_measurement}{measurement}); substr($m, 9, 1) = "\x04";
		my $c = sha256_hex($m) . "  measurement.tdx.cbor\n";
		$v{tdx_measurement} = { measurement => encode_base64($m, ""), checksum_file => encode_base64($c, "") };
		$v{os_image_hash} = sha256_hex($c);'
	run M v.json
	assert_failure 3
	assert_output --partial "measurement.version: expected 3"
}

@test "the 0.5.9 Info carries no lite material: an image is asked for; a wrong image fails its identity" {
	run M "$ROOT/testdata/phala-info.json"
	assert_failure 2
	assert_output --partial "give --image, --fetch or --cache"
	run M --image "$A/image" "$ROOT/testdata/phala-info.json"
	assert_failure 1
	assert_output --regexp "os_image_hash mismatch: the evidence claims de9c74f0c85d0820[0-9a-f]+, SHA-256 of directory .*/a/image is $(cat "$A/os_image_hash")"
}

@test "synthetic image: directory and tarball give the same registers; --acpi list matched, said plainly" {
	run M --image "$A/image" --vm-config "$A/vm-config.json" --acpi "$A/acpi.json"
	assert_success
	assert_line "acpi: matched synthetic, 2 vCPU, 2147483648 bytes (no QEMU tables)"
	assert_line "result: computed only (no evidence to compare with)"
	M --json --image "$A/image" --vm-config "$A/vm-config.json" --acpi "$A/acpi.json" >dir.json
	M --json --image "$A"/mr_*.tar.gz --vm-config "$A/vm-config.json" --acpi "$A/acpi.json" >tar.json
	run J get dir.json ok compared
	assert_output "true
false"
	run J get dir.json image acpi mrtd rtmr0 rtmr1 rtmr2
	assert_line --index 0 "full"
	assert_line --index 1 "list"
	dir=$output
	run J get tar.json image acpi mrtd rtmr0 rtmr1 rtmr2
	assert_output "$dir"
	run J items dir.json events name source
	assert_line --index 1 "cfv	image"
	assert_line --index 8 "acpi-loader	list"
	assert_line --index 13 "kernel	image"
	assert_line --index 19 "initrd	image"
	# Without evidence or a list, RTMR0 is not computed.
	run M --image "$A/image" --vm-config "$A/vm-config.json"
	assert_success
	assert_line "rtmr0 -"
	assert_line "acpi: unknown: RTMR0 not computed (no event log, no --acpi)"
}

@test "Debian's OVMF: MRTD (both page-add orders) and CFV as an independent implementation computes them" {
	# Values from Fraunhofer-AISEC/measured-boot-tools calculate-tdx-mrs
	# (084313fb, -m 0 -q 8.2.2 / 9.2.0, and its RTMR0 CFV event) on this file.
	[ "$(sha256sum /usr/share/ovmf/OVMF.fd | cut -d' ' -f1)" = 7b456907dd0786d415999e801a1ac4637b8ed4d7cf5378cfc6edbe5e574dd773 ] ||
		skip "this is not the Debian OVMF.fd (2022.11-6+deb12u2) the values were cross-checked on"
	M --json --image "$A/image" --vm-config "$A/vm-config.json" >two.json
	perl -pe 's/"qemu_version": "8.2.2"/"qemu_version": "9.2.0"/' "$A/vm-config.json" >nine.json
	M --json --image "$A/image" --vm-config nine.json >one.json
	run J get two.json mrtd page_adds
	assert_output "acccbcc870a381adab0d3919d90a7f268ac3b0364771f202ed4bb4e892d045b33db3b32e6924cba830a724eed443f7e1
two-pass"
	run J get one.json mrtd page_adds
	assert_output "4c7206f0f483c524f12c366c711e9049030a8d47c471ee5aa9c4999a08de4057fb887fed0744d5631a212967fb231c47
single-pass"
	run J items two.json events name digest
	assert_line --index 1 "cfv	f87302177b059d54a2cf0c5f13340dbabf5c9dd60dc3f996c68b776fbe4de959769443a3d8ef6538b97d7e151c8298e8"
}

@test "synthetic image: the lite path on its own CBOR agrees with the full path except for the CFV" {
	M --json --vm-config "$A/vm-config.json" --acpi "$A/acpi.json" >lite.json
	M --json --image "$A/image" --vm-config "$A/vm-config.json" --acpi "$A/acpi.json" >full.json
	run J get lite.json image mrtd rtmr1 rtmr2
	lite=${output#lite}
	run J get full.json image mrtd rtmr1 rtmr2
	assert_equal "${output#full}" "$lite"
	# The lite material does not carry the CFV: dstack's firmware's is used.
	run J items lite.json events name digest
	assert_line --index 1 --regexp "^cfv	344bc51c980ba621"
	run J items full.json events name digest
	refute_line --index 1 --regexp "^cfv	344bc51c980ba621"
}

@test "evidence of a CVM of the image: all four registers match, from the directory and from the tarball" {
	run M --image "$A/image" "$A/ev.json"
	assert_success
	assert_line "acpi: from the event log, not verified"
	assert_line "result: all four registers equal the evidence's quote"
	run M --image "$A"/mr_*.tar.gz "$A/ev.json"
	assert_success
	run M --image "$A/image" --acpi "$A/acpi.json" "$A/ev.json"
	assert_success
	assert_line "acpi: matched synthetic, 2 vCPU, 2147483648 bytes (no QEMU tables)"
}

@test "a CVM running another kernel, initrd or command line than its os_image_hash names: the event is named" {
	for v in kernel2:"rtmr1 event 0 (kernel)" initrd2:"rtmr2 event 1 (initrd)" cmdline2:"rtmr2 event 0 (cmdline)"; do
		name=${v%%:*}
		evidence "$name" "$A/vm-config.json" ev.json
		run M --image "$A/image" ev.json
		assert_failure 1
		assert_output --partial "tdx-measure: ${v#*:}: expected "
	done
}

@test "another firmware: MRTD differs; another memory size: the TD HOB, and below 2 GiB the kernel too" {
	cp -r "$A/image" fw
	perl "$ROOT/t/helpers/flip-byte.pl" fw/ovmf.fd 1000000
	(cd fw && sha256sum ovmf.fd bzImage initramfs.cpio.gz metadata.json measurement.tdx.cbor >sha256sum.txt)
	perl -pe 's/"os_image_hash": "[0-9a-f]+"/"os_image_hash": "'"$(sha256sum fw/sha256sum.txt | cut -d' ' -f1)"'"/' \
		"$A/vm-config.json" >fw.json
	"$BIN/tdx-measure" --json --image fw --vm-config fw.json --acpi "$A/acpi.json" >fw.m
	perl "$ROOT/t/helpers/mk-evidence.pl" fw.m "$A/vm-config.json" "$LITE" >fw-ev.json
	run M --image "$A/image" fw-ev.json
	assert_failure 1
	assert_output --partial "tdx-measure: mrtd differs"
	refute_output --partial "tdx-measure: rtmr"
	perl -pe 's/"memory_size": 2147483648/"memory_size": 1073741824/' "$A/vm-config.json" >small.json
	run M --image "$A/image" --vm-config small.json "$A/ev.json"
	assert_failure 1
	assert_output --partial "tdx-measure: rtmr0 event 0 (td-hob)"
	assert_output --partial "tdx-measure: rtmr1 event 0 (kernel)"
}

@test "identity: a changed file, a missing file, a changed sha256sum.txt, a symlink" {
	cp -r "$A/image" img
	perl "$ROOT/t/helpers/flip-byte.pl" img/initramfs.cpio.gz 20
	run M --image img "$A/ev.json"
	assert_failure 1
	assert_output --partial "initramfs.cpio.gz does not match sha256sum.txt"
	rm img/initramfs.cpio.gz
	run M --image img "$A/ev.json"
	assert_failure 1
	assert_output --partial "initramfs.cpio.gz is listed in sha256sum.txt but missing"
	ln -s "$A/image/initramfs.cpio.gz" img/initramfs.cpio.gz
	run M --image img "$A/ev.json"
	assert_failure 3
	assert_output --partial "is a symbolic link: refused"
	rm img/initramfs.cpio.gz
	cp "$A/image/initramfs.cpio.gz" img/
	echo >>img/sha256sum.txt
	run M --image img "$A/ev.json"
	assert_failure 1
	assert_output --partial "os_image_hash mismatch"
}

@test "--acpi: no entry for this configuration, or the log's ACPI differs from the list's" {
	perl -pe 's/"cpu_count": 2/"cpu_count": 4/' "$A/vm-config.json" >four.json
	run M --image "$A/image" --vm-config four.json --acpi "$A/acpi.json"
	assert_failure 1
	assert_output --partial "no entry of the ACPI list matches this configuration (cpu_count=4 memory_size=2147483648"
	perl -pe 's/"loader": "./"loader": "0/' "$A/acpi.json" >other.json
	run M --image "$A/image" --acpi other.json "$A/ev.json"
	assert_failure 1
	assert_output --partial "tdx-measure: rtmr0 event 8 (acpi-loader): expected 0"
	echo '{"acpi": [{"name": "x", "vm": {"memory_size": 2147483648, "colour": 1}, "loader": "", "rsdp": "", "tables": ""}]}' >bad.json
	run M --image "$A/image" --acpi bad.json "$A/ev.json"
	assert_failure 3
}

@test "hostile archives are refused (exit 3) and nothing is written" {
	mkdir empty
	cd empty
	s=$A/image/sha256sum.txt
	for spec in "../evil=$s:paths with .." "/etc/evil=$s:absolute paths" "link:2:a symbolic link" "tty:3:a character device" \
		"huge:0:10737418240:declares 10737418240 bytes" "deep/er/x=$s:one directory level"; do
		why=${spec##*:}
		perl "$ROOT/t/helpers/mk-tar.pl" ../h.tar.gz "sha256sum.txt=$s" "${spec%:*}"
		run M --image ../h.tar.gz --vm-config "$A/vm-config.json"
		assert_failure 3
		assert_output --partial "$why"
	done
	# A member sha256sum.txt does not list.
	for f in ovmf.fd bzImage initramfs.cpio.gz metadata.json measurement.tdx.cbor; do
		set -- "$@" "$f=$A/image/$f"
	done
	perl "$ROOT/t/helpers/mk-tar.pl" ../h.tar.gz "sha256sum.txt=$s" "$@" "extra=$s"
	run M --image ../h.tar.gz --vm-config "$A/vm-config.json"
	assert_failure 3
	assert_output --partial "member extra is not listed in sha256sum.txt: refused"
	run ls -A
	assert_output ""
}

# https_server DIR: openssl s_server -WWW on a free loopback port, serving
# DIR, its certificate trusted by curl through CURL_CA_BUNDLE; sets URL.
https_server() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srv.key -out srv.pem -days 1 \
		-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
	(cd "$1" && exec openssl s_server -WWW -accept 127.0.0.1:0 -cert ../srv.pem -key ../srv.key) >srv.out 2>&1 </dev/null &
	SRV_PID=$!
	for _ in $(seq 100); do
		grep -q '^ACCEPT' srv.out && break
		sleep 0.05
	done
	URL=https://127.0.0.1:$(sed -n 's/^ACCEPT 127.0.0.1://p' srv.out)
	export CURL_CA_BUNDLE=$BATS_TEST_TMPDIR/srv.pem
}

@test "--fetch: from a loopback HTTPS mirror into the cache, then offline; a corrupted cache is refused" {
	mkdir www
	cp "$A"/mr_*.tar.gz www/
	https_server www
	export TDX_MEASURE_IMAGE_URL="$URL/mr_{OS_IMAGE_HASH}.tar.gz"
	run M --fetch --cache c "$A/ev.json"
	assert_success
	assert_line --regexp "^image: full, archive c/mr_[0-9a-f]{64}.tar.gz \(downloaded from https://127.0.0.1:[0-9]+/mr_[0-9a-f]{64}.tar.gz\), downloaded$"
	run ls -A c
	assert_output "mr_$(cat "$A/os_image_hash").tar.gz"
	kill "$SRV_PID"
	wait "$SRV_PID" 2>/dev/null || true
	SRV_PID=
	# Offline: the cached image, verified again.
	run M --fetch --cache c "$A/ev.json"
	assert_success
	assert_line --regexp "^image: full, archive c/mr_[0-9a-f]{64}.tar.gz$"
	run M --cache c "$A/ev.json"
	assert_success
	perl "$ROOT/t/helpers/flip-byte.pl" c/mr_*.tar.gz 5000
	run M --fetch --cache c "$A/ev.json"
	assert_failure
	assert_output --partial "cached image (remove "
}

@test "--fetch: a mirror serving another image, a 404, no mirror: refused, nothing left in the cache" {
	mkdir www
	cp "$BATS_FILE_TMPDIR"/kernel2/mr_*.tar.gz "www/mr_$(cat "$A/os_image_hash").tar.gz"
	https_server www
	export TDX_MEASURE_IMAGE_URL="$URL/mr_{OS_IMAGE_HASH}.tar.gz"
	run M --fetch --cache c "$A/ev.json"
	assert_failure 1
	assert_output --partial "os_image_hash mismatch"
	run ls -A c
	assert_output ""
	# s_server answers a missing file with an error page: not an archive.
	export TDX_MEASURE_IMAGE_URL="$URL/missing/{OS_IMAGE_HASH}"
	run M --fetch --cache c "$A/ev.json"
	assert_failure 3
	run ls -A c
	assert_output ""
	# Nobody listening: a network failure.
	kill "$SRV_PID"
	wait "$SRV_PID" 2>/dev/null || true
	SRV_PID=
	export TDX_MEASURE_IMAGE_URL="$URL/mr_{OS_IMAGE_HASH}.tar.gz"
	run M --fetch --cache c "$A/ev.json"
	assert_failure 5
	run ls -A c
	assert_output ""
	run M --cache c "$A/ev.json"
	assert_failure 1
	assert_output --partial "is not in the cache"
	export TDX_MEASURE_IMAGE_URL="ftp://x/{OS_IMAGE_HASH}"
	run M --fetch --cache c "$A/ev.json"
	assert_failure 2
}

@test "--fetch: the mirror from the user's configuration file; the default cache under XDG_CACHE_HOME" {
	mkdir www
	cp "$A"/mr_*.tar.gz www/
	https_server www
	mkdir -p "$XDG_CONFIG_HOME/phala-tools"
	printf '# mirror\nimage_url = %s/mr_{OS_IMAGE_HASH}.tar.gz\n' "$URL" >"$XDG_CONFIG_HOME/phala-tools/tdx-measure.conf"
	run M --fetch "$A/ev.json"
	assert_success
	run ls "$XDG_CACHE_HOME/phala-tools/os-images"
	assert_output "mr_$(cat "$A/os_image_hash").tar.gz"
	run stat -c %a "$XDG_CACHE_HOME/phala-tools/os-images"
	assert_output 700
	echo 'mirror = x' >"$XDG_CONFIG_HOME/phala-tools/tdx-measure.conf"
	run M --fetch --cache other "$A/ev.json"
	assert_failure 2
}

# signed_copy IN OUT: IN signed by a throwaway key with a SHA-384 Authenticode signature.
signed_copy() {
	[ -f key.pem ] || openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 1 -subj /CN=t 2>/dev/null
	rm -f "$2"
	osslsigncode sign -h sha384 -certs cert.pem -key key.pem -in "$1" -out "$2" >/dev/null
}

# digest_in SIGNED: the SHA-384 message digest osslsigncode reads from the signature.
digest_in() {
	osslsigncode verify -in "$1" 2>/dev/null | sed -n 's/^Current message digest *: *\([0-9A-F]*\).*/\1/p' | tr 'A-F' 'a-f'
}

@test "Authenticode against osslsigncode: synthetic kernels, unsigned and signed, with and without the padding" {
	command -v osslsigncode >/dev/null || skip "osslsigncode is not installed (.ci/deps installs it)"
	for tail in 0 3; do
		perl "$ROOT/t/helpers/mk-bzimage.pl" k.efi seed$tail "$tail"
		signed_copy k.efi k-signed.efi
		want=$(digest_in k-signed.efi)
		[ ${#want} -eq 96 ]
		# osslsigncode pads the unsigned image to 8 bytes before signing: the
		# digest in its signature is the padded hash of the unsigned file.
		run "$HELPERS/authenticode" k.efi
		assert_output "$want"
		run "$HELPERS/authenticode" k-signed.efi
		assert_output "$want"
	done
}

@test "Authenticode against osslsigncode and Debian's own signature: Debian's signed cloud kernel" {
	command -v osslsigncode >/dev/null || skip "osslsigncode is not installed (.ci/deps installs it)"
	k=$(sh "$ROOT/t/helpers/get-kernel.sh" "$ROOT/build/debian-kernel" 2>err) || skip "no Debian kernel: $(cat err)"
	# Debian signs with SHA-256: the digest in Debian's signature, as is.
	run "$HELPERS/authenticode" --sha256 "$k"
	assert_output "$(digest_in "$k")"
	# Signature removed (a real unsigned PE), then signed again with SHA-384.
	rm -f unsigned.efi
	osslsigncode remove-signature -in "$k" -out unsigned.efi >/dev/null
	signed_copy unsigned.efi resigned.efi
	want=$(digest_in resigned.efi)
	[ ${#want} -eq 96 ]
	for f in "$k" unsigned.efi resigned.efi; do
		run "$HELPERS/authenticode" "$f"
		assert_output "$want"
	done
	# And measured as an image's kernel, end to end.
	sh "$ROOT/t/helpers/mk-image.sh" --kernel "$k" deb >/dev/null
	"$BIN/tdx-measure" --json --image deb/image --vm-config deb/vm-config.json --acpi deb/acpi.json >deb.m
	perl "$ROOT/t/helpers/mk-evidence.pl" deb.m deb/vm-config.json "$LITE" >deb-ev.json
	run M --image deb/mr_*.tar.gz deb-ev.json
	assert_success
	# A CVM that booted Debian's kernel while its os_image_hash names the synthetic image.
	perl "$ROOT/t/helpers/mk-evidence.pl" deb.m "$A/vm-config.json" "$LITE" >deb-ev.json
	run M --image "$A/image" deb-ev.json
	assert_failure 1
	assert_output --partial "tdx-measure: rtmr1 event 0 (kernel): expected "
	refute_output --partial "rtmr2 event"
}

# forged NAME PERL: a copy of image a in NAME/ with one file edited by PERL
# ($d is the file's bytes, $f its name), its sha256sum.txt and vm-config.json
# made to fit, so that the edit reaches the parser behind the identity check.
forged() {
	cp -r "$A/image" "$1"
	perl -e '
		my ($dir, $code) = @ARGV;
		for my $f (qw(ovmf.fd bzImage)) {
			open(my $h, "<", "$dir/$f") or die; binmode $h; local $/; my $d = <$h>; close $h;
			eval $code; die $@ if $@;
			open($h, ">", "$dir/$f") or die; binmode $h; print $h $d; close $h;
		}' "$1" "$2"
	(cd "$1" && sha256sum ovmf.fd bzImage initramfs.cpio.gz metadata.json measurement.tdx.cbor >sha256sum.txt)
	perl -pe 's/"os_image_hash": "[0-9a-f]+"/"os_image_hash": "'"$(sha256sum "$1/sha256sum.txt" | cut -d' ' -f1)"'"/' \
		"$A/vm-config.json" >"$1.json"
}

@test "hostile firmware and kernel behind a valid identity: exit 3 with the reason, at once" {
	# A TD_HOB section of 2^40 pages in Debian's OVMF (found by its descriptor).
	forged pages 'if ($f eq "ovmf.fd") { $d =~ /TDVF(.{4})\x01\0\0\0(.{4})/sg or die "no TDVF";
		my $at = pos($d) - 16; for my $i (0 .. unpack("V", $2) - 1) { my $s = $at + 16 + 32 * $i;
		substr($d, $s + 16, 8) = pack("Q<", 1 << 52) if unpack("V", substr($d, $s + 24, 4)) == 2 } }'
	run M --image pages --vm-config pages.json
	assert_failure 3
	assert_output --partial "pages exceed the limit"
	# Overlapping sections: the CFV moved onto the BFV.
	forged overlap 'if ($f eq "ovmf.fd") { $d =~ /TDVF(.{4})\x01\0\0\0(.{4})/sg or die; my $s = pos($d) - 16 + 16 + 32;
		substr($d, $s + 8, 8) = pack("Q<", 0xffe20000) }'
	run M --image overlap --vm-config overlap.json
	assert_failure 3
	assert_output --partial "overlap in memory"
	# A PE section table of 97 entries.
	forged pe 'substr($d, 0x46, 2) = pack("v", 97) if $f eq "bzImage"'
	run M --image pe --vm-config pe.json
	assert_failure 3
	assert_output --partial "PE image declares 97 sections"
}

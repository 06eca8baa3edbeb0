#!/usr/bin/env bats
# tdx-dcap-verify: Intel DCAP verification on real quotes and Intel collateral.

load helpers/common

V() { "$BIN/tdx-dcap-verify" "$@"; }
edit() { perl "$ROOT/t/helpers/collateral-edit.pl" "$@"; }
# The dcap-qvl sample's collateral is valid from 2025-06-19T10:32:27Z to 2025-07-19T10:16:03Z.
NOW=2025-07-01T00:00:00Z
# Collateral-free checks: a fixed time when every PCK certificate of the samples is valid.
LATER=2026-11-25T00:00:00Z

setup() {
	cp "$DATA/dcap-qvl-tdx-quote.bin" "$DATA/dcap-qvl-tdx-collateral.json" "$DATA/phala-quote.bin" \
		"$DATA/dstack-ra-tls-quote.bin" "$DATA/intel-sgx-root-ca.pem" "$BATS_TEST_TMPDIR/"
	cd "$BATS_TEST_TMPDIR" || return 1
	Q=dcap-qvl-tdx-quote.bin
	C=dcap-qvl-tdx-collateral.json
}

# verify_fails CHECK ARGS...: exit 1 with --json naming CHECK.
verify_fails() {
	local check=$1
	shift
	run V --json "$@"
	assert_failure 1
	assert_output --partial "\"failed_check\":\"$check\""
	assert_output --partial '"ok":false'
}

@test "real sample: same status, advisory IDs and TD fields as @phala/dcap-qvl and dcap-qvl-web" {
	# Expected values: t/peers/dcap-qvl.sh ran @phala/dcap-qvl 0.3.9 (JS) and
	# @phala/dcap-qvl-web 0.3.3 (wasm) on this quote and collateral at 1751328000; both said
	# {"status":"UpToDate","advisory_ids":[]} with these report fields.
	run V --json --collateral "$C" --now "$NOW" "$Q"
	assert_success
	assert_output --partial '"ok":true,"status":"UpToDate","failed_check":null,"error":null,"advisory_ids":[]'
	assert_output --partial '"fmspc":"b0c06f000000"'
	assert_output --partial '"tcb_date":"2024-03-13T00:00:00Z"'
	assert_output --partial '"tee_tcb_svn":"06010300000000000000000000000000"'
	assert_output --partial '"mr_seam":"5b38e33a6487958b72c3c12a938eaa5e3fd4510c51aeeab58c7d5ecee41d7c436489d6c8e4f92f160b7cad34207b00c1"'
	assert_output --partial '"td_attributes":"0000001000000000","xfam":"e702060000000000"'
	assert_output --partial '"mr_td":"91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7"'
	assert_output --partial '"rtmr0":"44c0197b39157fdd7a4dcc44767f9d6b0bb3977c7a8e347b8492f827fe9d9e5c48aca29b220b80b6a540cf994b9bc9c0"'
	assert_output --partial '"rtmr1":"0084452c01668329d4bc06acdf58a7205c26743304509973949e5619bf81a6a7aea8c323c173019b3093d54e579e9378"'
	assert_output --partial '"rtmr2":"d833feef2cd945148aa38ead2c53e9b7f138190aaaebfc551dccd829fc207aa3ba80b70870d7330733642e01d48c3132"'
	assert_output --partial '"rtmr3":"000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"'
	assert_output --partial '"report_data":"9a9d48e7f6799642d3d1b34e1e5e1742d4bb02dd6ddd551862c1211d35c304f9eca3efdbb481601c163cf52493d6e44aed55d51ec39b7e518fadb92c2b523f20"'
	assert_output --partial '"root":{"pinned_intel":true,"subject":"CN = Intel SGX Root CA, O = Intel Corporation, L = Santa Clara, ST = CA, C = US","sha256":"44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3"}'
	[ "${#lines[@]}" -eq 1 ]
}

@test "human summary by default; --now as UNIX seconds is the same instant" {
	run V --collateral "$C" --now 1751328000 "$Q"
	assert_success
	assert_line "status: UpToDate"
	assert_line "advisory_ids: (none)"
	assert_line "fmspc: b0c06f000000"
	assert_line "root: CN = Intel SGX Root CA, O = Intel Corporation, L = Santa Clara, ST = CA, C = US (pinned)"
	assert_line "mr_td: 91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7"
}

@test "the same collateral past its expiry, or before it was issued, is refused" {
	verify_fails collateral_expired --collateral "$C" --now 2025-10-24T00:00:00Z "$Q"
	assert_output --partial 'TCB info has expired'
	verify_fails collateral_expired --collateral "$C" --now 2025-06-19T10:16:02Z "$Q"
	assert_output --partial 'not yet valid'
	# QE identity is issued 16 minutes after the TCB info.
	verify_fails collateral_expired --collateral "$C" --now 2025-06-19T10:20:00Z "$Q"
	assert_output --partial 'QE identity is not yet valid'
	# The PCK CRL expires at 2025-07-19T10:00:35Z, before the TCB info.
	verify_fails pck_crl --collateral "$C" --now 2025-07-19T10:10:00Z "$Q"
	# Without --now, the clock: even the root CA CRL (nextUpdate 2026-04-03) has expired.
	verify_fails root_crl --collateral "$C" "$Q"
	assert_output --partial 'has expired (nextUpdate before the verification time)'
	verify_fails root_crl --collateral "$C" --now 2026-04-04T00:00:00Z "$Q"
	# A PCK certificate not yet valid at the time (Phala's was issued 2026-01-29).
	verify_fails pck_chain --accept NoCollateral --now "$NOW" phala-quote.bin
	assert_output --partial 'certificate is not yet valid'
}

@test "the Phala quotes pass every collateral-free check; the reduced mode is not success unless accepted" {
	for q in phala-quote.bin dstack-ra-tls-quote.bin "$Q"; do
		run V --accept NoCollateral --now "$LATER" "$q"
		assert_success
		assert_line "status: NoCollateral"
		run V --json --now "$LATER" "$q"
		assert_failure 1
		assert_output --partial '"ok":false,"status":"NoCollateral","failed_check":"no_collateral"'
	done
	run V --now "$LATER" phala-quote.bin
	assert_failure 1
	assert_output --partial 'tdx-dcap-verify: no_collateral: every collateral-free check passed'
}

@test "--root-ca replaces the pinned root, and the output says so" {
	run V --json --collateral "$C" --now "$NOW" --root-ca intel-sgx-root-ca.pem "$Q"
	assert_success
	assert_output --partial '"pinned_intel":false'
	assert_output --partial 'warning: verified against --root-ca intel-sgx-root-ca.pem, not the pinned Intel SGX Root CA'
	# Another root with Intel's name, a CA as the profile wants one.
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout k.pem -out other.pem \
		-subj "/CN=Intel SGX Root CA/O=Intel Corporation/L=Santa Clara/ST=CA/C=US" -days 3650 \
		-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
	verify_fails pck_chain --accept NoCollateral --now "$LATER" --root-ca other.pem "$Q"
	verify_fails root_crl --collateral "$C" --now "$NOW" --root-ca other.pem "$Q"
	run V --root-ca k.pem "$Q"
	assert_failure 3
}

@test "byte-flip sweep: every byte of the real quote's signed parts, flipped, is refused" {
	run "$HELPERS/dcap-loop" sweep "$Q" "$C" "$NOW"
	assert_success
	# header, TD report, signature, attestation key, QE report and signature, auth data, PCK chain
	assert_output "swept 4936 bytes: 4936 refused (3575 failed a check, 1361 malformed), 0 not refused"
}

@test "byte flips through the tool name the check that caught them" {
	# offset: 12 QE vendor ID, 10 PCE SVN (header), 200 MR_TD, 640 quote signature, 700 attestation
	# key, 800 QE report, 1160 QE report signature, 1230 QE authentication data.
	for f in 12:qe_vendor_id 10:quote_signature 200:quote_signature 640:quote_signature \
		700:qe_report_data 800:qe_report_signature 1160:qe_report_signature 1230:qe_report_data; do
		cp "$DATA/$Q" f.bin
		flip_byte f.bin "${f%%:*}"
		verify_fails "${f#*:}" --collateral "$C" --now "$NOW" f.bin
		verify_fails "${f#*:}" --accept NoCollateral --now "$LATER" f.bin
	done
	# Inside the PCK leaf certificate's signature: the chain no longer verifies.
	cp "$DATA/$Q" f.bin
	flip_byte f.bin 2990
	verify_fails pck_chain --collateral "$C" --now "$NOW" f.bin
}

@test "QE authentication data of 33 bytes, lengths rebuilt consistently, is refused" {
	# u32 signature data length at 632, u32 certification data length at 766, u16 auth data
	# length at 1218, auth data at 1220..1252: insert one byte and grow the three lengths.
	perl -e 'local $/; my $q = <STDIN>;
		substr($q, 1252, 0) = "\0";
		for ([632, "V"], [766, "V"], [1218, "v"]) {
			my ($at, $f) = @$_; my $n = $f eq "V" ? 4 : 2;
			substr($q, $at, $n) = pack($f, unpack($f, substr($q, $at, $n)) + 1);
		}
		print $q' < "$Q" > auth33.bin
	run V --json --accept NoCollateral --now "$LATER" auth33.bin
	assert_failure 1
	assert_output --partial '"failed_check":"qe_report_data"'
	verify_fails qe_report_data --collateral "$C" --now "$NOW" auth33.bin
}

@test "trailing padding is tolerated; hex input and stdin work" {
	cat "$Q" /dev/zero 2>/dev/null | head -c 6000 > padded.bin
	run V --collateral "$C" --now "$NOW" padded.bin
	assert_success
	perl -e 'local $/; print unpack("H*", <STDIN>), "\n"' < "$Q" > q.hex
	run V --collateral "$C" --now "$NOW" q.hex
	assert_success
	run sh -c "'$BIN/tdx-dcap-verify' --collateral '$C' --now '$NOW' - < q.hex"
	assert_success
	assert_line "status: UpToDate"
}

@test "composition: tdx-quote-extract cert.pem | tdx-dcap-verify" {
	cp "$DATA/phala-app-cert.pem" .
	run sh -c "'$BIN/tdx-quote-extract' phala-app-cert.pem | '$BIN/tdx-dcap-verify' --accept NoCollateral --now $LATER"
	assert_success
	assert_line "fmspc: 20a06f000000"
	# Collateral of another platform is refused, never silently ignored.
	run sh -c "'$BIN/tdx-quote-extract' phala-app-cert.pem | '$BIN/tdx-dcap-verify' --collateral '$C' --now '$NOW'"
	assert_failure 1
}

@test "collateral signatures: a changed byte in the signed bodies or the signatures is refused" {
	cp "$C" c.json && edit c.json sub tcb_info '"tcbEvaluationDataNumber":17' '"tcbEvaluationDataNumber":18'
	verify_fails tcb_info_signature --collateral c.json --now "$NOW" "$Q"
	cp "$C" c.json && edit c.json sub tcb_info '"tcbStatus":"OutOfDate"' '"tcbStatus":"UpToDate"'
	verify_fails tcb_info_signature --collateral c.json --now "$NOW" "$Q"
	cp "$C" c.json && edit c.json flip tcb_info_signature 5
	verify_fails tcb_info_signature --collateral c.json --now "$NOW" "$Q"
	cp "$C" c.json && edit c.json sub qe_identity '"isvprodid":2' '"isvprodid":3'
	verify_fails qe_identity_signature --collateral c.json --now "$NOW" "$Q"
	cp "$C" c.json && edit c.json flip qe_identity_signature 40
	verify_fails qe_identity_signature --collateral c.json --now "$NOW" "$Q"
	# A signing chain that verifies but is not the TCB signing key: its leaf, the PCK
	# Platform CA, is a CA, which may not sign as an end entity.
	cp "$C" c.json && edit c.json copy tcb_info_issuer_chain pck_crl_issuer_chain
	verify_fails leaf_basic_constraints --collateral c.json --now "$NOW" "$Q"
}

@test "collateral issuer chains that do not lead to the root, or lack a CRL, are refused" {
	# A self-signed end entity with the TCB signer's name.
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout k.pem -out other.pem \
		-subj "/CN=Intel SGX TCB Signing/O=Intel Corporation/L=Santa Clara/ST=CA/C=US" -days 3650 \
		-addext basicConstraints=critical,CA:FALSE -addext keyUsage=critical,digitalSignature 2>/dev/null
	cp "$C" c.json && edit c.json set tcb_info_issuer_chain "$(cat other.pem)"
	verify_fails tcb_info_chain --collateral c.json --now "$NOW" "$Q"
	cp "$C" c.json && edit c.json set qe_identity_issuer_chain "$(cat other.pem)"
	verify_fails qe_identity_chain --collateral c.json --now "$NOW" "$Q"
	# A real Intel chain (a PCK's) that verifies to the root, but whose leaf's issuer
	# (the PCK Platform CA) has no CRL that may vouch for a collateral signer.
	chain=$(perl -e 'local $/; my $q = <STDIN>; $q =~ /(-----BEGIN CERTIFICATE-----.*-----END CERTIFICATE-----\n)/s; print $1' < "$Q")
	cp "$C" c.json && edit c.json set tcb_info_issuer_chain "$chain"
	verify_fails crl_issuer --collateral c.json --now "$NOW" "$Q"
	assert_output --partial 'no CRL in the collateral from the issuer of CN = Intel SGX PCK Certificate'
}

@test "CRLs: swapped, broken, or from the wrong issuer are refused" {
	cp "$C" c.json && edit c.json copy pck_crl root_ca_crl
	verify_fails pck_crl --collateral c.json --now "$NOW" "$Q"
	cp "$C" c.json && edit c.json copy root_ca_crl pck_crl
	verify_fails root_crl --collateral c.json --now "$NOW" "$Q"
	# Last byte: inside the CRL's signature value.
	len=$(perl -MJSON::PP -e 'local $/; print length(pack("H*", decode_json(<STDIN>)->{root_ca_crl}))' < "$C")
	cp "$C" c.json && edit c.json flip root_ca_crl $((len - 1))
	verify_fails root_crl --collateral c.json --now "$NOW" "$Q"
	len=$(perl -MJSON::PP -e 'local $/; print length(pack("H*", decode_json(<STDIN>)->{pck_crl}))' < "$C")
	cp "$C" c.json && edit c.json flip pck_crl $((len - 1))
	verify_fails pck_crl --collateral c.json --now "$NOW" "$Q"
	cp "$C" c.json && edit c.json copy pck_crl_issuer_chain tcb_info_issuer_chain
	verify_fails pck_crl --collateral c.json --now "$NOW" "$Q"
	# An unparseable root CA CRL is malformed collateral, never skipped.
	cp "$C" c.json && edit c.json set root_ca_crl 3082000a
	run V --collateral c.json --now "$NOW" "$Q"
	assert_failure 3
	assert_output --partial 'collateral: root_ca_crl: not one DER CRL'
	# No PCK CRL at all: revocation cannot be established.
	cp "$C" c.json && edit c.json del pck_crl
	run V --collateral c.json --now "$NOW" "$Q"
	assert_failure 3
	assert_output --partial 'missing key "pck_crl"'
}

@test "a foreign platform's PCK chain in pck_certificate_chain is refused" {
	chain=$(perl -e 'local $/; my $q = <STDIN>; $q =~ /(-----BEGIN CERTIFICATE-----.*-----END CERTIFICATE-----\n)/s; print $1' < dstack-ra-tls-quote.bin)
	cp "$C" c.json && edit c.json set pck_certificate_chain "$chain"
	verify_fails qe_report_signature --collateral c.json --now "$NOW" "$Q"
}

@test "--accept: a status outside the set is refused; Revoked can never be accepted" {
	verify_fails tcb_status --accept SWHardeningNeeded --collateral "$C" --now "$NOW" "$Q"
	assert_output --partial 'TCB status UpToDate is not accepted'
	run V --accept UpToDate,NoCollateral --collateral "$C" --now "$NOW" "$Q"
	assert_success
	run V --accept UpToDate,Revoked "$Q"
	assert_failure 2
	run V --accept Fine "$Q"
	assert_failure 2
}

@test "malformed quotes and collateral exit 3 with a clear message" {
	: > empty.bin
	run V --accept NoCollateral --now "$LATER" empty.bin
	assert_failure 3
	head -c 1000 "$Q" > short.bin
	run V --accept NoCollateral --now "$LATER" short.bin
	assert_failure 3
	assert_output --partial 'tdx-dcap-verify: quote: quote truncated'
	# An SGX (v3) quote is recognised and refused.
	cp "$Q" v3.bin
	printf '\003\000\002\000\000\000\000\000' | dd of=v3.bin bs=1 conv=notrunc 2>/dev/null
	run V --accept NoCollateral --now "$LATER" v3.bin
	assert_failure 3
	assert_output --partial 'this is an SGX quote'
	echo '{"pck_crl":' > bad.json
	run V --collateral bad.json "$Q"
	assert_failure 3
	assert_output --partial 'collateral: invalid JSON'
	cp "$C" c.json && edit c.json set tcb_info_signature 00ff
	run V --collateral c.json "$Q"
	assert_failure 3
	assert_output --partial 'tcb_info_signature: expected 64 bytes of hex'
	cp "$C" c.json && edit c.json set pck_crl_issuer_chain "not a pem"
	run V --collateral c.json "$Q"
	assert_failure 3
	cp "$C" c.json && edit c.json set tcb_info '{"id":"TDX"}'
	run V --collateral c.json "$Q"
	assert_failure 3
	assert_output --partial 'collateral: tcb_info: missing key "version"'
}

@test "usage errors exit 2; --help exits 0" {
	run V --bogus "$Q"
	assert_failure 2
	run V --now yesterday "$Q"
	assert_failure 2
	run V "$Q" "$Q"
	assert_failure 2
	run V --help
	assert_success
	assert_output --partial 'usage: tdx-dcap-verify'
	run V --collateral missing.json "$Q"
	assert_failure 4
}

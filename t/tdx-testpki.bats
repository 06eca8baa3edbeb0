#!/usr/bin/env bats
# tdx-testpki, the synthetic DCAP PKI and quote generator, checked on its own
# (independently of tdx-dcap-verify): the openssl command line verifies its
# chains, CRLs and signatures, lib/quote reads its quotes back.

load helpers/common
load helpers/testpki

# crls_pem: both CRLs of the PKI as PEM, in $BATS_TEST_TMPDIR/crls.pem.
crls_pem() {
	openssl crl -inform der -in "$P/pck.crl" -out "$BATS_TEST_TMPDIR/crls.pem"
	openssl crl -inform der -in "$P/root.crl" >>"$BATS_TEST_TMPDIR/crls.pem"
}

# sgx_ext_dump: openssl's parse of the PCK certificate's SGX extension value.
sgx_ext_dump() {
	openssl x509 -in "$P/pck.pem" -outform der -out "$BATS_TEST_TMPDIR/pck.der"
	off=$(openssl asn1parse -inform der -in "$BATS_TEST_TMPDIR/pck.der" | grep -A1 ':1.2.840.113741.1.13.1$' | tail -n 1 | cut -d: -f1)
	openssl asn1parse -inform der -in "$BATS_TEST_TMPDIR/pck.der" -strparse "${off// /}"
}

# collateral_sigs FILE: openssl's verdict on the TCB info and QE identity
# signatures of collateral FILE with the PKI's TCB signing key.
collateral_sigs() {
	openssl x509 -in "$P/tcb.pem" -pubkey -noout >"$BATS_TEST_TMPDIR/tcb.pub"
	for part in tcb_info qe_identity; do
		json_field "$1" "$part" >"$BATS_TEST_TMPDIR/$part"
		rs_to_der "$(json_field "$1" "${part}_signature")" "$BATS_TEST_TMPDIR/$part.sig"
		echo "$part: $(openssl dgst -sha256 -verify "$BATS_TEST_TMPDIR/tcb.pub" \
			-signature "$BATS_TEST_TMPDIR/$part.sig" "$BATS_TEST_TMPDIR/$part" 2>&1 | head -n 1)"
	done
}

setup() {
	P=$BATS_TEST_TMPDIR/pki
	"$TESTPKI" pki "$P"
}

@test "pki: keys 0600 in a 0700 directory, certificates and CRLs" {
	[ "$(stat -c %a "$P")" = 700 ]
	for k in root pckca pck tcb attest; do [ "$(stat -c %a "$P/$k.key")" = 600 ]; done
	for f in root.pem pckca.pem pck.pem tcb.pem chain.pem root.crl pck.crl platform.json; do [ -s "$P/$f" ]; done
	run openssl x509 -in "$P/pck.pem" -noout -subject -issuer
	assert_output --partial "subject=CN = Intel SGX PCK Certificate"
	assert_output --partial "issuer=CN = Intel SGX PCK Platform CA"
}

@test "pki: the PCK chain and the TCB signing certificate verify to the test root, CRLs checked" {
	crls_pem
	run openssl verify -crl_check_all -CRLfile "$BATS_TEST_TMPDIR/crls.pem" -CAfile "$P/root.pem" \
		-untrusted "$P/pckca.pem" "$P/pck.pem"
	assert_success
	run openssl verify -crl_check_all -CRLfile "$BATS_TEST_TMPDIR/crls.pem" -CAfile "$P/root.pem" "$P/tcb.pem"
	assert_success
	run openssl crl -inform der -in "$P/pck.crl" -CAfile "$P/pckca-chain.pem" -noout
	assert_output --partial "verify OK"
}

@test "pki: the production Intel root does not verify the test chain" {
	run openssl verify -CAfile "$DATA/intel-sgx-root-ca.pem" -untrusted "$P/pckca.pem" "$P/pck.pem"
	assert_failure
}

@test "pki --revoke-pck: the PCK CRL lists the PCK and openssl refuses it" {
	"$TESTPKI" pki "$P" --revoke-pck
	crls_pem
	run openssl verify -crl_check_all -CRLfile "$BATS_TEST_TMPDIR/crls.pem" -CAfile "$P/root.pem" \
		-untrusted "$P/pckca.pem" "$P/pck.pem"
	assert_failure
	assert_output --partial "certificate revoked"
}

@test "pki --revoke-pck-ca and --crl-next-update: root CRL revokes the CA; an expired CRL is refused" {
	"$TESTPKI" pki "$P" --revoke-pck-ca --crl-next-update 2025-02-01T00:00:00Z
	crls_pem
	run openssl verify -attime 1736000000 -crl_check_all -CRLfile "$BATS_TEST_TMPDIR/crls.pem" \
		-CAfile "$P/root.pem" -untrusted "$P/pckca.pem" "$P/pck.pem"
	assert_failure
	assert_output --partial "certificate revoked"
	"$TESTPKI" pki "$P" --crl-next-update 2025-02-01T00:00:00Z
	crls_pem
	run openssl verify -attime 1740000000 -crl_check_all -CRLfile "$BATS_TEST_TMPDIR/crls.pem" \
		-CAfile "$P/root.pem" -untrusted "$P/pckca.pem" "$P/pck.pem"
	assert_failure
	assert_output --partial "CRL has expired"
}

@test "pki: the SGX extension carries the chosen FMSPC, PCE-ID, PCESVN and CPUSVN, as Intel encodes them" {
	"$TESTPKI" pki "$P" --fmspc 00906ED50000 --pce-id 0100 --pcesvn 200 --cpusvn 0102030405060708090a0b0c0d0e0f10
	run sgx_ext_dump
	assert_success
	assert_output --partial ":1.2.840.113741.1.13.1.4"
	assert_output --partial "[HEX DUMP]:00906ED50000"
	assert_output --partial "[HEX DUMP]:0100"
	assert_output --partial "[HEX DUMP]:0102030405060708090A0B0C0D0E0F10"
	assert_output --partial "INTEGER           :C8"
	assert_output --partial ":1.2.840.113741.1.13.1.2.16"
	assert_output --partial ":1.2.840.113741.1.13.1.7.3"
	# the extension of a real Intel PCK certificate has the same shape and size
	[ "$(echo "$output" | grep -c 'OBJECT')" -eq 28 ]
}

@test "pki --ca processor: a Processor CA, no platform instance id" {
	"$TESTPKI" pki "$P" --ca processor
	run openssl x509 -in "$P/pck.pem" -noout -issuer -ext crlDistributionPoints
	assert_output --partial "CN = Intel SGX PCK Processor CA"
	assert_output --partial "ca=processor"
	run sgx_ext_dump
	assert_success
	assert_output --partial ":1.2.840.113741.1.13.1.5"
	refute_output --partial ":1.2.840.113741.1.13.1.6"
	refute_output --partial ":1.2.840.113741.1.13.1.7"
}

# x509_text FILE: openssl's reading of a certificate's extensions.
x509_text() { openssl x509 -in "$1" -noout -ext basicConstraints,keyUsage -text; }

@test "pki --bad: each certificate fault is in the certificate, as openssl reads it; the rest stays genuine" {
	"$TESTPKI" pki "$P" --bad pck:ca --bad pck:ku=keyCertSign,cRLSign --bad pckca:bc-noncritical \
		--bad tcb:no-ku --bad root:pathlen=0
	run x509_text "$P/pck.pem"
	assert_output --partial "X509v3 Basic Constraints: critical"$'\n'"    CA:TRUE"
	assert_output --partial "X509v3 Key Usage: critical"$'\n'"    Certificate Sign, CRL Sign"
	run x509_text "$P/pckca.pem"
	assert_output --partial "X509v3 Basic Constraints: "$'\n'"    CA:TRUE, pathlen:0"
	run x509_text "$P/tcb.pem"
	refute_output --partial "Key Usage"
	assert_output --partial "CA:FALSE"
	run x509_text "$P/root.pem"
	assert_output --partial "CA:TRUE, pathlen:0"
	# only the faulted certificates change: the QE identity signer is the TCB signer
	cmp "$P/qe-chain.pem" "$P/tcb-chain.pem"
	"$TESTPKI" pki "$P" --bad pckca:not-ca --bad pckca:ku=keyCertSign --bad tcb:critical-ext --bad qe:ku=keyAgreement
	run x509_text "$P/pckca.pem"
	assert_output --partial "CA:FALSE"
	assert_output --partial "    Certificate Sign"$'\n'
	run openssl x509 -in "$P/tcb.pem" -noout -text
	assert_output --partial "2.25.238907224386427512271375227185716231917: critical"
	# --bad qe: a QE identity signer of its own, which signs the QE identity
	run openssl x509 -in "$P/qe.pem" -noout -subject -ext keyUsage
	assert_output --partial "CN = Intel SGX Enclave Identity Signing"
	assert_output --partial "Key Agreement"
	"$TESTPKI" collateral "$P" -o "$BATS_TEST_TMPDIR/c.json"
	json_field "$BATS_TEST_TMPDIR/c.json" qe_identity_issuer_chain | cmp - "$P/qe-chain.pem"
	openssl x509 -in "$P/qe.pem" -pubkey -noout >"$BATS_TEST_TMPDIR/qe.pub"
	json_field "$BATS_TEST_TMPDIR/c.json" qe_identity >"$BATS_TEST_TMPDIR/qe_identity"
	rs_to_der "$(json_field "$BATS_TEST_TMPDIR/c.json" qe_identity_signature)" "$BATS_TEST_TMPDIR/qe.sig"
	run openssl dgst -sha256 -verify "$BATS_TEST_TMPDIR/qe.pub" -signature "$BATS_TEST_TMPDIR/qe.sig" \
		"$BATS_TEST_TMPDIR/qe_identity"
	assert_output "Verified OK"
	run "$TESTPKI" pki "$P" --bad pck:frob
	assert_failure 2
	run "$TESTPKI" pki "$P" --bad pckcrl:ca
	assert_failure 2
	run "$TESTPKI" pki "$P" --bad nowhere:ca
	assert_failure 2
}

@test "pki --bad on CRLs: critical extensions and a foreign signing key, as openssl reads them" {
	"$TESTPKI" pki "$P" --bad rootcrl:critical-ext --bad pckcrl:critical-entry-ext --bad pckcrl:foreign-key
	run openssl crl -inform der -in "$P/root.crl" -noout -text
	assert_output --regexp "CRL extensions:.*2\.25\.238907224386427512271375227185716231917: critical"
	run openssl crl -inform der -in "$P/pck.crl" -noout -text
	assert_output --regexp "Serial Number: 7FFF.*2\.25\.238907224386427512271375227185716231917: critical"
	run openssl crl -inform der -in "$P/pck.crl" -CAfile "$P/pckca-chain.pem" -noout
	assert_output --partial "verify failure"
	run openssl crl -inform der -in "$P/root.crl" -CAfile "$P/root.pem" -noout
	assert_output --partial "verify OK"
}

@test "pki --pck-sub-ca and --root-namesake: the chains they make, as openssl verifies them" {
	"$TESTPKI" pki "$P" --pck-sub-ca
	[ "$(grep -c 'BEGIN CERTIFICATE' "$P/chain.pem")" -eq 4 ]
	run openssl verify -CAfile "$P/root.pem" -untrusted "$P/pckca-chain.pem" "$P/pck.pem"
	assert_failure
	assert_output --partial "path length constraint exceeded"
	# the PCK CRL comes from the PCK certificate's issuer, the sub-CA
	run openssl crl -inform der -in "$P/pck.crl" -noout -issuer
	assert_output --partial "CN = Intel SGX PCK Sub CA"
	for w in tcb qe pckca; do
		"$TESTPKI" pki "$P" --root-namesake "$w"
		case $w in tcb) f=tcb-chain.pem ;; qe) f=qe-chain.pem ;; pckca) f=pckca-chain.pem ;; esac
		[ "$(grep -c 'BEGIN CERTIFICATE' "$P/$f")" -eq 3 ]
		# the certificate above the signer has the root's name and not its key, and the
		# whole chain is a valid path to the root (openssl accepts it)
		awk '/BEGIN/ { n++ } n == 2' "$P/$f" >"$BATS_TEST_TMPDIR/ns.pem"
		[ "$(openssl x509 -in "$BATS_TEST_TMPDIR/ns.pem" -noout -subject)" = "$(openssl x509 -in "$P/root.pem" -noout -subject)" ]
		[ "$(openssl x509 -in "$BATS_TEST_TMPDIR/ns.pem" -noout -pubkey)" != "$(openssl x509 -in "$P/root.pem" -noout -pubkey)" ]
		awk '/BEGIN/ { n++ } n == 1' "$P/$f" >"$BATS_TEST_TMPDIR/leaf.pem"
		run openssl verify -CAfile "$P/root.pem" -untrusted "$BATS_TEST_TMPDIR/ns.pem" "$BATS_TEST_TMPDIR/leaf.pem"
		assert_success
	done
	run "$TESTPKI" pki "$P" --root-namesake pck
	assert_failure 2
}

@test "collateral: TCB info and QE identity signatures verify with the TCB signing key" {
	"$TESTPKI" collateral "$P" -o "$BATS_TEST_TMPDIR/c.json"
	run collateral_sigs "$BATS_TEST_TMPDIR/c.json"
	assert_line "tcb_info: Verified OK"
	assert_line "qe_identity: Verified OK"
	run json_field "$BATS_TEST_TMPDIR/c.json" tcb_info
	assert_output --partial '"id":"TDX","version":3,"issueDate":"2025-01-01T00:00:00Z"'
	assert_output --partial '"fmspc":"B0C06F000000","pceId":"0000"'
	assert_output --partial '"tcbStatus":"OutOfDateConfigurationNeeded","advisoryIDs":["INTEL-SA-00005"]'
	assert_output --partial '"tdxModuleIdentities":[{"id":"TDX_03"'
	run json_field "$BATS_TEST_TMPDIR/c.json" qe_identity
	assert_output --partial '"id":"TD_QE","version":2'
	# the issuer chains are the generated ones; the CRLs are the generated DER
	json_field "$BATS_TEST_TMPDIR/c.json" tcb_info_issuer_chain | cmp - "$P/tcb-chain.pem"
	json_field "$BATS_TEST_TMPDIR/c.json" pck_crl_issuer_chain | cmp - "$P/pckca-chain.pem"
	[ "$(json_field "$BATS_TEST_TMPDIR/c.json" pck_crl)" = "$(slice_hex "$P/pck.crl" 0 100000)" ]
	[ "$(json_field "$BATS_TEST_TMPDIR/c.json" root_ca_crl)" = "$(slice_hex "$P/root.crl" 0 100000)" ]
}

@test "collateral --wrong-tcb-key / --wrong-qe-key: that signature no longer verifies" {
	"$TESTPKI" collateral "$P" --wrong-tcb-key --wrong-qe-key -o "$BATS_TEST_TMPDIR/c.json"
	run collateral_sigs "$BATS_TEST_TMPDIR/c.json"
	assert_line "tcb_info: Verification failure"
	assert_line "qe_identity: Verification failure"
}

@test "collateral: dates, FMSPC and levels from options and files; bad JSON refused" {
	echo '[{"tcb":{"isvsvn":1},"tcbDate":"2024-01-01T00:00:00Z","tcbStatus":"UpToDate"}]' >"$BATS_TEST_TMPDIR/ids.json"
	"$TESTPKI" collateral "$P" --issue-date 2025-06-19T10:16:03Z --next-update 1752920163 --fmspc 00906ED50000 \
		--module-identities "$BATS_TEST_TMPDIR/ids.json" -o "$BATS_TEST_TMPDIR/c.json"
	run json_field "$BATS_TEST_TMPDIR/c.json" tcb_info
	assert_output --partial '"issueDate":"2025-06-19T10:16:03Z","nextUpdate":"2025-07-19T10:16:03Z","fmspc":"00906ED50000"'
	assert_output --partial '"tdxModuleIdentities":[{"tcb":{"isvsvn":1}'
	echo '[1,' >"$BATS_TEST_TMPDIR/bad.json"
	run "$TESTPKI" collateral "$P" --tcb-levels "$BATS_TEST_TMPDIR/bad.json" -o "$BATS_TEST_TMPDIR/c2.json"
	assert_failure 3
	[ ! -e "$BATS_TEST_TMPDIR/c2.json" ]
	run "$TESTPKI" collateral "$P" --tcb-levels "$BATS_TEST_TMPDIR/nonexistent" -o "$BATS_TEST_TMPDIR/c2.json"
	assert_failure 4
}

@test "quote: lib/quote reads back every chosen field, v4 and v5 (TD 1.0 and 1.5)" {
	rd=$(printf 'ab%.0s' {1..64})
	r3=$(printf '33%.0s' {1..48})
	"$TESTPKI" quote "$P" --report-data "$rd" --rtmr3 "$r3" --mr-td "$(printf '11%.0s' {1..48})" \
		--tee-tcb-svn 05010300000000000000000000000000 --qe-svn 7 --pce-svn 9 -o "$BATS_TEST_TMPDIR/q.bin"
	run "$TESTPKI" parse "$BATS_TEST_TMPDIR/q.bin"
	assert_success
	assert_line "version=4"
	assert_line "signed_length=632"
	assert_line "trailing=0"
	assert_line "report_data=$rd"
	assert_line "rtmr3=$r3"
	assert_line "mr_td=$(printf '11%.0s' {1..48})"
	assert_line "tee_tcb_svn=05010300000000000000000000000000"
	assert_line "qe_svn=7"
	assert_line "qe_isvsvn=7"
	assert_line "pce_svn=9"
	assert_line "td_attributes=0000001000000000"
	[ "$(stat -c %s "$BATS_TEST_TMPDIR/q.bin")" -eq "$(echo "$output" | sed -n 's/^length=//p')" ]
	"$TESTPKI" quote "$P" --version 5 --td15 --mr-service-td "$(printf '55%.0s' {1..48})" --padding 70 --hex \
		-o "$BATS_TEST_TMPDIR/q5.hex"
	run "$TESTPKI" parse "$BATS_TEST_TMPDIR/q5.hex"
	assert_success
	assert_line "version=5"
	assert_line "body_type=3"
	assert_line "signed_length=702"
	assert_line "trailing=70"
	assert_line "mr_service_td=$(printf '55%.0s' {1..48})"
	"$TESTPKI" quote "$P" --version 5 -o "$BATS_TEST_TMPDIR/q5b.bin"
	run "$TESTPKI" parse "$BATS_TEST_TMPDIR/q5b.bin"
	assert_line "body_type=2"
	assert_line "signed_length=638"
}

# verify_quote_sigs Q PKI: checks the quote signature with the embedded
# attestation key and the QE report signature with the PCK certificate's key,
# through the openssl command line; prints "quote: ..." and "qe: ...".
verify_quote_sigs() {
	local q=$1 d=$BATS_TEST_TMPDIR
	slice "$q" 0 632 "$d/signed"
	xy_to_pem "$(slice_hex "$q" 700 64)" "$d/att.pub"
	rs_to_der "$(slice_hex "$q" 636 64)" "$d/quote.sig"
	echo "quote: $(openssl dgst -sha256 -verify "$d/att.pub" -signature "$d/quote.sig" "$d/signed" 2>&1 | head -n 1)"
	slice "$q" 770 384 "$d/qe_report"
	rs_to_der "$(slice_hex "$q" 1154 64)" "$d/qe.sig"
	openssl x509 -in "$2/pck.pem" -pubkey -noout >"$d/pck.pub"
	echo "qe: $(openssl dgst -sha256 -verify "$d/pck.pub" -signature "$d/qe.sig" "$d/qe_report" 2>&1 | head -n 1)"
}

@test "quote: openssl verifies the quote signature and the QE report signature; the QE binds the key" {
	"$TESTPKI" quote "$P" -o "$BATS_TEST_TMPDIR/q.bin"
	run verify_quote_sigs "$BATS_TEST_TMPDIR/q.bin" "$P"
	assert_line "quote: Verified OK"
	assert_line "qe: Verified OK"
	# QE report data = SHA-256(attestation key || QE auth data) || 32 zero bytes
	key=$(slice_hex "$BATS_TEST_TMPDIR/q.bin" 700 64)
	auth=$(slice_hex "$BATS_TEST_TMPDIR/q.bin" 1220 32)
	[ "$auth" = 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f ]
	want=$(printf '%s%s' "$key" "$auth" | perl -ne 'print pack("H*", $_)' | openssl dgst -sha256 -r | cut -c1-64)
	[ "$(slice_hex "$BATS_TEST_TMPDIR/q.bin" $((770 + 320)) 64)" = "${want}$(printf '0%.0s' {1..64})" ]
	# the PCK chain inside is the PKI's
	slice "$BATS_TEST_TMPDIR/q.bin" 1258 "$(stat -c %s "$P/chain.pem")" "$BATS_TEST_TMPDIR/chain"
	cmp "$BATS_TEST_TMPDIR/chain" "$P/chain.pem"
}

@test "quote --wrong-attestation-key / --wrong-pck-key / --unbind-qe: each breaks exactly its part" {
	"$TESTPKI" quote "$P" --wrong-attestation-key -o "$BATS_TEST_TMPDIR/q.bin"
	run verify_quote_sigs "$BATS_TEST_TMPDIR/q.bin" "$P"
	assert_line "quote: Verification failure"
	assert_line "qe: Verified OK"
	"$TESTPKI" quote "$P" --wrong-pck-key -o "$BATS_TEST_TMPDIR/q.bin"
	run verify_quote_sigs "$BATS_TEST_TMPDIR/q.bin" "$P"
	assert_line "quote: Verified OK"
	assert_line "qe: Verification failure"
	"$TESTPKI" quote "$P" -o "$BATS_TEST_TMPDIR/good.bin"
	"$TESTPKI" quote "$P" --unbind-qe -o "$BATS_TEST_TMPDIR/q.bin"
	run verify_quote_sigs "$BATS_TEST_TMPDIR/q.bin" "$P"
	assert_line "quote: Verified OK"
	assert_line "qe: Verified OK"
	[ "$(slice_hex "$BATS_TEST_TMPDIR/q.bin" 1090 32)" != "$(slice_hex "$BATS_TEST_TMPDIR/good.bin" 1090 32)" ]
}

@test "usage errors exit 2, a missing PKI 4, a non-quote 3" {
	run "$TESTPKI"
	assert_failure 2
	run "$TESTPKI" frobnicate
	assert_failure 2
	run "$TESTPKI" quote "$P" --version 3 -o "$BATS_TEST_TMPDIR/out.bin"
	assert_failure 2
	run "$TESTPKI" quote "$P" --td15 -o "$BATS_TEST_TMPDIR/out.bin"
	assert_failure 2
	run "$TESTPKI" quote "$P" --rtmr0 abcd -o "$BATS_TEST_TMPDIR/out.bin"
	assert_failure 2
	assert_output --partial "rtmr0: expected 48 bytes of hex"
	run "$TESTPKI" pki "$P" --not-after yesterday
	assert_failure 2
	run "$TESTPKI" quote "$BATS_TEST_TMPDIR/nope" -o "$BATS_TEST_TMPDIR/out.bin"
	assert_failure 4
	run "$TESTPKI" parse "$P/root.pem"
	assert_failure 3
	run "$TESTPKI" --help
	assert_success
	assert_output --partial "tdx-testpki quote DIR"
}

#!/usr/bin/env bats
# tdx-dcap-verify and Intel's PCK certificate profile: what each position of
# the PCK chain and of the two collateral signing chains (TCB info, QE
# identity) may be. Each test builds a synthetic PKI (tdx-testpki pki --bad,
# --pck-sub-ca, --root-namesake) that breaks one rule at one position, with
# everything else genuine, and expects the rule's named check.

load helpers/common
load helpers/testpki

NOW=2026-01-01T00:00:00Z

setup() {
	cd "$BATS_TEST_TMPDIR" || return 1
}

# refused CHECK PKI-OPTS...: a PKI made with those options, its collateral and
# a quote: tdx-dcap-verify exits 1 naming CHECK, in JSON and on standard error.
refused() {
	local check=$1
	shift
	rm -rf pki pki.json pki.bin
	"$TESTPKI" pki pki "$@"
	"$TESTPKI" collateral pki -o pki.json
	"$TESTPKI" quote pki -o pki.bin
	run "$BIN/tdx-dcap-verify" --json --root-ca pki/root.pem --now "$NOW" --collateral pki.json pki.bin
	assert_failure 1
	assert_output --partial '"ok":false'
	assert_output --partial "\"failed_check\":\"$check\""
	assert_output --partial "tdx-dcap-verify: $check: "
}

@test "a profile-conformant PKI verifies (the baseline every other test breaks one rule of)" {
	"$TESTPKI" pki pki
	"$TESTPKI" collateral pki -o pki.json
	"$TESTPKI" quote pki -o pki.bin
	run "$BIN/tdx-dcap-verify" --json --root-ca pki/root.pem --now "$NOW" --collateral pki.json pki.bin
	assert_success
	assert_output --partial '"ok":true,"status":"UpToDate"'
}

@test "leaf_basic_constraints: a CA as the PCK certificate, the TCB signer or the QE identity signer" {
	# The issue's case: CA:TRUE and a key usage without digitalSignature; its key signs the QE report.
	refused leaf_basic_constraints --bad pck:ca --bad pck:ku=keyCertSign,cRLSign
	assert_output --partial 'PCK chain: CN = Intel SGX PCK Certificate'
	assert_output --partial 'is a CA (basic constraints CA:TRUE) but is the end entity'
	refused leaf_basic_constraints --bad pck:ca
	refused leaf_basic_constraints --bad tcb:ca
	assert_output --partial 'TCB info issuer chain: CN = Intel SGX TCB Signing'
	refused leaf_basic_constraints --bad qe:ca
	assert_output --partial 'QE identity issuer chain: CN = Intel SGX Enclave Identity Signing'
	# The same collateral-free: the PCK chain's profile needs no collateral.
	run "$BIN/tdx-dcap-verify" --json --root-ca pki/root.pem --now "$NOW" --accept NoCollateral pki.bin
	assert_success
	"$TESTPKI" pki pki --bad pck:ca
	"$TESTPKI" quote pki -o pki.bin
	run "$BIN/tdx-dcap-verify" --json --root-ca pki/root.pem --now "$NOW" --accept NoCollateral pki.bin
	assert_failure 1
	assert_output --partial '"failed_check":"leaf_basic_constraints"'
}

@test "leaf_key_usage: an end entity without digitalSignature, without key usage, or with keyCertSign" {
	refused leaf_key_usage --bad pck:ku=nonRepudiation
	assert_output --partial 'does not allow digitalSignature'
	refused leaf_key_usage --bad pck:no-ku
	assert_output --partial 'has no key usage'
	refused leaf_key_usage --bad pck:ku=digitalSignature,keyCertSign
	assert_output --partial 'allows keyCertSign'
	refused leaf_key_usage --bad tcb:ku=nonRepudiation
	assert_output --partial 'TCB info issuer chain'
	refused leaf_key_usage --bad tcb:no-ku
	refused leaf_key_usage --bad qe:ku=keyAgreement
	assert_output --partial 'QE identity issuer chain'
}

@test "ca_basic_constraints: a PCK CA or root that is not a CA, or whose basic constraints are not critical" {
	refused ca_basic_constraints --bad pckca:not-ca
	assert_output --partial 'CN = Intel SGX PCK Platform CA, O = Intel Corporation, L = Santa Clara, ST = CA, C = US issues certificates but its basic constraints are CA:FALSE'
	refused ca_basic_constraints --bad pckca:no-bc
	assert_output --partial 'basic constraints are absent'
	refused ca_basic_constraints --bad pckca:bc-noncritical
	assert_output --partial 'are not critical'
	refused ca_basic_constraints --bad root:not-ca
	assert_output --partial 'CN = Intel SGX Root CA'
}

@test "ca_key_usage: a PCK CA or root not allowed to sign certificates and CRLs" {
	refused ca_key_usage --bad pckca:ku=keyCertSign
	assert_output --partial 'does not allow cRLSign'
	refused ca_key_usage --bad pckca:ku=cRLSign
	assert_output --partial 'does not allow keyCertSign'
	refused ca_key_usage --bad pckca:no-ku
	refused ca_key_usage --bad root:ku=keyCertSign
	assert_output --partial 'CN = Intel SGX Root CA'
}

@test "path_length: a CA below the PCK CA (pathlen 0), or a root whose pathlen 0 leaves no room for it" {
	refused path_length --pck-sub-ca
	assert_output --partial 'CN = Intel SGX PCK Platform CA, O = Intel Corporation, L = Santa Clara, ST = CA, C = US allows 0 CA certificates below it (pathLenConstraint), the chain has 1'
	refused path_length --bad root:pathlen=0
	assert_output --partial 'CN = Intel SGX Root CA'
	# Room made at every level: the path length rule passes, and the sub-CA, whose
	# issuer has no CRL in the collateral, is refused by the next rule.
	refused crl_issuer --pck-sub-ca --bad pckca:pathlen=1 --bad root:pathlen=2
	assert_output --partial 'the issuer of CN = Intel SGX PCK Sub CA'
}

@test "critical_extension: an unknown critical extension in any certificate or CRL" {
	oid=2.25.238907224386427512271375227185716231917
	refused critical_extension --bad pck:critical-ext
	assert_output --partial "CN = Intel SGX PCK Certificate, O = Intel Corporation, L = Santa Clara, ST = CA, C = US has a critical extension $oid"
	refused critical_extension --bad pckca:critical-ext
	refused critical_extension --bad tcb:critical-ext
	assert_output --partial 'TCB info issuer chain'
	refused critical_extension --bad qe:critical-ext
	assert_output --partial 'QE identity issuer chain'
	refused critical_extension --bad root:critical-ext
	refused critical_extension --bad rootcrl:critical-ext
	assert_output --partial "CRL of CN = Intel SGX Root CA, O = Intel Corporation, L = Santa Clara, ST = CA, C = US has a critical extension $oid"
	refused critical_extension --bad pckcrl:critical-ext
	assert_output --partial 'CRL of CN = Intel SGX PCK Platform CA'
	refused critical_extension --bad pckcrl:critical-entry-ext
	assert_output --partial 'has an entry with a critical extension'
	refused critical_extension --bad rootcrl:critical-entry-ext
}

@test "crl_issuer: a CA with the root's name issues the PCK CA, the TCB signer or the QE identity signer" {
	# Each chain is a valid RFC 5280 path (the namesake is self-issued); what
	# is wrong is that the root CA CRL, signed by the root, would vouch for
	# certificates the namesake issued.
	refused crl_issuer --root-namesake pckca
	assert_output --partial 'PCK chain: no CRL in the collateral from the issuer of CN = Intel SGX PCK Platform CA'
	assert_output --partial 'a certificate with the root'"'"'s name that is not the root'
	refused crl_issuer --root-namesake tcb
	assert_output --partial 'TCB info issuer chain: no CRL in the collateral from the issuer of CN = Intel SGX TCB Signing'
	refused crl_issuer --root-namesake qe
	assert_output --partial 'QE identity issuer chain: no CRL in the collateral from the issuer of CN = Intel SGX Enclave Identity Signing'
}

@test "the PCK certificate's own CRL must be signed by its issuer (pck_crl), the root CA CRL by the root (root_crl)" {
	refused pck_crl --bad pckcrl:foreign-key
	assert_output --partial 'CRL signature does not verify with the key of CN = Intel SGX PCK Platform CA'
	refused root_crl --bad rootcrl:foreign-key
	assert_output --partial 'CRL signature does not verify with the key of CN = Intel SGX Root CA'
}

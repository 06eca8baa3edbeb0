#!/usr/bin/env bats
# tdx-dcap-verify against the synthetic DCAP PKI (t/helpers/tdx-testpki):
# every TCB status reached, with its advisory IDs and --accept deciding the
# exit code, and every failing check reached by a quote or collateral built
# to fail exactly that check. The PKI is generated once per run, at test time.

load helpers/common
load helpers/testpki

NOW=2026-01-01T00:00:00Z

setup_file() {
	P=$BATS_FILE_TMPDIR/pki
	"$HELPERS/tdx-testpki" pki "$P"
	"$HELPERS/tdx-testpki" collateral "$P" -o "$BATS_FILE_TMPDIR/c.json"
	export P
}

setup() {
	cd "$BATS_TEST_TMPDIR" || return 1
	C=$BATS_FILE_TMPDIR/c.json
}

# q -o FILE OPTS...: a quote from the shared PKI.
q() { "$TESTPKI" quote "$P" "$@"; }

# tdx_svn BYTE0 BYTE1 BYTE2: a TEE_TCB_SVN with those first three bytes (hex).
tdx_svn() { printf '%s%s%s%026d' "$1" "$2" "$3" 0; }

# verify QUOTE [ARGS...]: the verifier with the test root of PKI $R (default:
# the shared one), collateral $C (unless ARGS give another), a fixed time, --json.
verify() {
	run "$BIN/tdx-dcap-verify" --json --root-ca "${R:-$P}/root.pem" --now "$NOW" --collateral "$C" "${@:2}" "$1"
}

# quote_fails CHECK QUOTE-OPTS...: a quote made with those options fails CHECK.
quote_fails() {
	q -o failing.bin "${@:2}"
	fails_check "$1" failing.bin
}

# other_pki DIR PKI-OPTS...: a separate PKI in DIR with its collateral DIR.json
# and quote DIR.bin; verify_other DIR [ARGS...] verifies them with its root.
other_pki() {
	local dir=$1
	shift
	"$TESTPKI" pki "$dir" "$@"
	"$TESTPKI" collateral "$dir" -o "$dir.json"
	"$TESTPKI" quote "$dir" -o "$dir.bin"
}
verify_other() { R=$1 C=$1.json verify "$1.bin" "${@:2}"; }

# fails_check CHECK QUOTE [ARGS...]: exit 1, the check named.
fails_check() {
	local check=$1
	shift
	verify "$@"
	assert_failure 1
	assert_output --partial "\"ok\":false"
	assert_output --partial "\"failed_check\":\"$check\""
}

@test "UpToDate: the generated quote verifies, exit 0" {
	q -o up.bin
	verify up.bin
	assert_success
	assert_output --partial '"ok":true,"status":"UpToDate","failed_check":null,"error":null,"advisory_ids":[]'
	assert_output --partial '"tcb_date":"2024-07-01T00:00:00Z","fmspc":"b0c06f000000","pce_id":"0000","pce_svn":11'
	assert_output --partial '"pinned_intel":false'
}

@test "every status of the ladder reached, with its advisory ID; the default accept set decides the exit code" {
	statuses=(UpToDate SWHardeningNeeded ConfigurationNeeded ConfigurationAndSWHardeningNeeded OutOfDate
		OutOfDateConfigurationNeeded Revoked)
	for i in 0 1 2 3 4 5 6; do
		q -o "s$i.bin" --tee-tcb-svn "$(tdx_svn 03 00 "0$((7 - i))")"
		verify "s$i.bin"
		assert_output --partial "\"status\":\"${statuses[$i]}\""
		if [ "$i" -eq 0 ]; then
			assert_output --partial '"advisory_ids":[]'
		else
			assert_output --partial "\"advisory_ids\":[\"INTEL-SA-0000$i\"]"
		fi
		assert_output --partial "\"tcb_date\":\"2024-0$((7 - i))-01T00:00:00Z\""
		if [ "$i" -le 1 ]; then
			assert_success
		else
			assert_failure 1
			assert_output --partial '"failed_check":"tcb_status"'
		fi
	done
}

@test "--accept: each non-Revoked status accepted when listed, refused when not; Revoked never" {
	statuses=(UpToDate SWHardeningNeeded ConfigurationNeeded ConfigurationAndSWHardeningNeeded OutOfDate
		OutOfDateConfigurationNeeded)
	for i in 0 1 2 3 4 5; do
		q -o "s$i.bin" --tee-tcb-svn "$(tdx_svn 03 00 "0$((7 - i))")"
		verify "s$i.bin" --accept "${statuses[$i]}"
		assert_success
		assert_output --partial "\"status\":\"${statuses[$i]}\""
		other=${statuses[$(((i + 1) % 6))]}
		verify "s$i.bin" --accept "$other"
		assert_failure 1
		assert_output --partial '"failed_check":"tcb_status"'
	done
	q -o rev.bin --tee-tcb-svn "$(tdx_svn 03 00 01)"
	verify rev.bin --accept UpToDate,OutOfDate,OutOfDateConfigurationNeeded
	assert_failure 1
	assert_output --partial '"status":"Revoked"'
	assert_output --partial '"failed_check":"tcb_status"'
	run "$BIN/tdx-dcap-verify" --json --root-ca "$P/root.pem" --now "$NOW" --collateral "$C" \
		--accept UpToDate,Revoked rev.bin
	assert_failure 2
	assert_output --partial "unacceptable status 'Revoked'"
}

@test "platform and QE statuses merge: the worse wins, advisory IDs are the union" {
	q -o m.bin --tee-tcb-svn "$(tdx_svn 03 00 06)" --qe-svn 3
	verify m.bin --accept OutOfDate
	assert_success
	assert_output --partial '"status":"OutOfDate"'
	assert_output --partial '"platform_status":"SWHardeningNeeded","qe_status":"OutOfDate"'
	assert_output --partial '"INTEL-SA-00001"'
	assert_output --partial '"INTEL-SA-00020"'
}

@test "QE ISVSVN on a Revoked QE level: status Revoked, refused" {
	q -o r.bin --qe-svn 1
	fails_check tcb_status r.bin --accept UpToDate,OutOfDate
	assert_output --partial '"qe_status":"Revoked"'
	assert_output --partial '"INTEL-SA-00021"'
}

@test "TDX module identity: version 3 uses TDX_03 and its level decides; module bytes skipped in the platform match" {
	# module version 3, ISVSVN 3: TDX_03 UpToDate
	q -o m3.bin --tee-tcb-svn "$(tdx_svn 03 03 07)"
	verify m3.bin
	assert_success
	assert_output --partial '"tdx_module_status":"UpToDate"'
	# module ISVSVN 2 (< the platform level's byte 0 = 3): Intel's rule skips bytes 0-1 in
	# the platform match (UpToDate) and TDX_03's level says OutOfDate.
	q -o m2.bin --tee-tcb-svn "$(tdx_svn 02 03 07)"
	verify m2.bin --accept OutOfDate
	assert_success
	assert_output --partial '"status":"OutOfDate"'
	assert_output --partial '"platform_status":"UpToDate"'
	assert_output --partial '"tdx_module_status":"OutOfDate"'
	assert_output --partial '"advisory_ids":["INTEL-SA-00010"]'
}

@test "TDX module identity mismatch: unknown module version, MRSIGNER_SEAM, SEAM attributes, module ISVSVN below every level" {
	quote_fails tdx_module --tee-tcb-svn "$(tdx_svn 03 05 07)"
	quote_fails tdx_module --mr-signer-seam "$(printf '01%.0s' {1..48})"
	quote_fails tdx_module --seam-attributes 0100000000000000
	quote_fails tdx_module --tee-tcb-svn "$(tdx_svn 01 03 07)"
}

@test "no matching TCB level: TDX component below every level, or PCESVN below every level" {
	quote_fails tcb_level --tee-tcb-svn "$(tdx_svn 03 00 00)"
	# levels that need PCESVN 12; the PCK certificate says 11
	cat >levels.json <<'JSON'
[{"tcb":{"sgxtcbcomponents":[{"svn":0},{"svn":0},{"svn":0},{"svn":0},{"svn":0},{"svn":0},{"svn":0},{"svn":0},{"svn":0},{"svn":0},{"svn":0},{"svn":0},{"svn":0},{"svn":0},{"svn":0},{"svn":0}],"pcesvn":12,"tdxtcbcomponents":[{"svn":0},{"svn":0},{"svn":0},{"svn":0},{"svn":0},{"svn":0},{"svn":0},{"svn":0},{"svn":0},{"svn":0},{"svn":0},{"svn":0},{"svn":0},{"svn":0},{"svn":0},{"svn":0}]},"tcbDate":"2024-01-01T00:00:00Z","tcbStatus":"UpToDate"}]
JSON
	"$TESTPKI" collateral "$P" --tcb-levels levels.json -o pce.json
	q -o up.bin
	fails_check tcb_level up.bin --collateral pce.json
	# the same levels with PCESVN 11 match: the check is the PCESVN
	sed 's/"pcesvn":12/"pcesvn":11/' levels.json >levels11.json
	"$TESTPKI" collateral "$P" --tcb-levels levels11.json -o pce11.json
	verify up.bin --collateral pce11.json
	assert_success
}

@test "revoked PCK certificate, and a PCK CA revoked by the root CRL" {
	other_pki pki2 --revoke-pck
	verify_other pki2
	assert_failure 1
	assert_output --partial '"failed_check":"cert_revoked"'
	other_pki pki3 --revoke-pck-ca
	verify_other pki3
	assert_failure 1
	assert_output --partial '"failed_check":"cert_revoked"'
}

@test "CRLs past their nextUpdate are refused" {
	other_pki pki2 --crl-next-update 2025-06-01T00:00:00Z
	verify_other pki2
	assert_failure 1
	assert_output --regexp '"failed_check":"(root|pck)_crl"'
	# the same PKI before the CRLs expire verifies
	verify_other pki2 --now 2025-05-01T00:00:00Z
	assert_success
}

@test "expired PCK certificate is refused" {
	other_pki pki2 --pck-not-after 2025-06-01T00:00:00Z
	verify_other pki2
	assert_failure 1
	assert_output --partial '"failed_check":"pck_chain"'
}

@test "TCB info or QE identity signed by the wrong key" {
	q -o up.bin
	"$TESTPKI" collateral "$P" --wrong-tcb-key -o wt.json
	fails_check tcb_info_signature up.bin --collateral wt.json
	"$TESTPKI" collateral "$P" --wrong-qe-key -o wq.json
	fails_check qe_identity_signature up.bin --collateral wq.json
}

@test "collateral outside its validity window: expired, or not yet issued" {
	q -o up.bin
	"$TESTPKI" collateral "$P" --issue-date 2025-01-01T00:00:00Z --next-update 2025-12-01T00:00:00Z -o old.json
	fails_check collateral_expired up.bin --collateral old.json
	"$TESTPKI" collateral "$P" --issue-date 2026-06-01T00:00:00Z -o future.json
	fails_check collateral_expired up.bin --collateral future.json
	# at a time inside the window the same collateral is accepted
	verify up.bin --collateral old.json --now 2025-11-01T00:00:00Z
	assert_success
}

@test "TCB info and QE identity of the wrong type" {
	q -o up.bin
	"$TESTPKI" collateral "$P" --tcb-id SGX -o sgx.json
	fails_check tcb_info_type up.bin --collateral sgx.json
	"$TESTPKI" collateral "$P" --tcb-version 2 -o v2.json
	fails_check tcb_info_type up.bin --collateral v2.json
	"$TESTPKI" collateral "$P" --qe-id QE -o qe.json
	fails_check qe_identity_type up.bin --collateral qe.json
}

@test "QE identity mismatch: MRSIGNER, ISVPRODID, MISCSELECT, attributes under the mask, ISVSVN below every level" {
	quote_fails qe_identity --qe-mrsigner "$(printf 'ee%.0s' {1..32})"
	quote_fails qe_identity --qe-isvprodid 3
	quote_fails qe_identity --qe-miscselect 1
	quote_fails qe_identity --qe-attributes 31000000000000000000000000000000
	quote_fails qe_identity --qe-svn 0
	# a bit outside attributesMask (byte 0 bit 2, mask FB) does not matter
	q -o f.bin --qe-attributes 15000000000000000000000000000000
	verify f.bin
	assert_success
}

@test "FMSPC and PCE ID of the PCK certificate must match the TCB info" {
	q -o up.bin
	"$TESTPKI" collateral "$P" --fmspc 00906ED50000 -o f.json
	fails_check fmspc_mismatch up.bin --collateral f.json
	"$TESTPKI" collateral "$P" --pce-id 0100 -o p.json
	fails_check pce_id_mismatch up.bin --collateral p.json
}

@test "quote signed by another key, QE report signed by another key, QE report data not binding the key" {
	quote_fails quote_signature --wrong-attestation-key
	quote_fails qe_report_signature --wrong-pck-key
	quote_fails qe_report_data --unbind-qe
	# QE authentication data of another length, bound consistently, verifies
	q -o d.bin --qe-auth-data 00112233
	verify d.bin
	assert_success
}

@test "the production Intel root rejects the test root; the output says which root was used" {
	q -o up.bin
	run "$BIN/tdx-dcap-verify" --json --now "$NOW" --collateral "$C" up.bin
	assert_failure 1
	assert_output --partial '"ok":false'
	assert_output --regexp '"failed_check":"(root_crl|pck_chain|tcb_info_chain)"'
	assert_output --partial '"pinned_intel":true'
	refute_output --partial '"status":"UpToDate"'
}

@test "TD attributes: DEBUG refused, SEPT_VE_DISABLE required, PERFMON reported and allowed" {
	quote_fails td_attributes --td-attributes 0100001000000000
	quote_fails td_attributes --td-attributes 0000000000000000
	q -o perf.bin --td-attributes 0000001000000080
	verify perf.bin
	assert_success
	assert_output --partial '"perfmon":true'
}

@test "v5 quotes: TD 1.0 and TD 1.5 bodies verify; a TD 1.5 MR_SERVICETD is refused" {
	q -o v5.bin --version 5
	verify v5.bin
	assert_success
	assert_output --partial '"quote_version":5'
	q -o td15.bin --version 5 --td15
	verify td15.bin
	assert_success
	assert_output --partial '"td_report":"TD15"'
	quote_fails td_attributes --version 5 --td15 --mr-service-td "$(printf '01%.0s' {1..48})"
}

@test "a Processor-CA platform verifies with its own CRL; padding and hex input are fine" {
	"$TESTPKI" pki pki2 --ca processor --fmspc 00906ED50000
	"$TESTPKI" collateral pki2 -o c2.json
	"$TESTPKI" quote pki2 --padding 64 --hex -o q2.hex
	run "$BIN/tdx-dcap-verify" --json --root-ca pki2/root.pem --now "$NOW" --collateral c2.json q2.hex
	assert_success
	assert_output --partial '"fmspc":"00906ed50000"'
}

@test "report data and RTMRs chosen by the caller come out of the verifier unchanged" {
	rd=$(printf 'c0%.0s' {1..32})
	r2=$(printf '22%.0s' {1..48})
	q -o rd.bin --report-data "$rd" --rtmr2 "$r2"
	verify rd.bin
	assert_success
	assert_output --partial "\"rtmr2\":\"$r2\""
	assert_output --partial "\"report_data\":\"$rd$(printf '0%.0s' {1..64})\""
}

#!/usr/bin/env bats
# Bounded cost on hostile input (issue 15 item 3): each input that once cost
# minutes or gigabytes (t/helpers/mk-hostile.pl builds them) is refused, or
# answered, with at most 1 s of CPU and 256 MiB resident by the normal build,
# and without any report by the sanitizer build (there memory is ASan's, and
# CPU time is held to 5 s: enough to catch quadratic work, which costs
# minutes). CPU time, not wall time, is measured: the machine running the
# suite may be busy with other work.

load helpers/common

APP=3f2a9c4d8e7b6a5f4c3d2e1f0a9b8c7d6e5f4a3b
NOW=2025-07-01T00:00:00Z

setup_file() {
	local d=$BATS_FILE_TMPDIR k
	for k in "nested 600k" "brace-lines 4M" "cli-nested 1200k" "advisories 3800k" "pem-chain 27M" \
		"racert-pem 20M" "array 63M" "strings 63M"; do
		# shellcheck disable=SC2086 # KIND SIZE
		perl "$ROOT/t/helpers/mk-hostile.pl" $k "$d/${k%% *}.json" || return 1
	done
}

setup() {
	cd "$BATS_TEST_TMPDIR" || return 1
	H=$BATS_FILE_TMPDIR
	SAN=
	if grep -q __asan_init "$BIN/tdx-dcap-verify"; then SAN=1; fi
}

# bounded STATUS CMD...: runs CMD (output in $output), which must exit with
# STATUS within the bounds: no sanitizer report; in the normal build at most
# 1 s of CPU (user + system, children included) and 256 MiB resident, in
# the sanitizer build at most 5 s of CPU.
bounded() {
	local want=$1 cpu max user sys kb wall
	shift
	run /usr/bin/time -o "$BATS_TEST_TMPDIR/cost" -f '%U %S %M %e' "$@"
	# The last line: time puts "Command exited with non-zero status N" before it.
	read -r user sys kb wall < <(tail -n 1 "$BATS_TEST_TMPDIR/cost") || true
	echo "# exit $status, cpu ${user}+${sys} s, ${kb} KiB, wall ${wall} s" >&3
	refute_output --partial Sanitizer
	refute_output --partial 'runtime error'
	[ "$status" -eq "$want" ] || { echo "exit $status, want $want: $output"; return 1; }
	cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')
	max=1
	[ -z "$SAN" ] || max=5
	awk -v c="$cpu" -v m="$max" 'BEGIN { exit !(c <= m) }' || { echo "CPU ${cpu} s > ${max} s"; return 1; }
	[ -z "$SAN" ] || return 0
	[ "$kb" -le 262144 ] || { echo "${kb} KiB > 256 MiB"; return 1; }
}

# The first N certificates of a PEM file.
first_certs() { awk -v n="$1" '{ print } /^-----END CERTIFICATE-----/ && ++k == n { exit }' "$2"; }

@test "a 100k-level nested object: tdx-rtmr-replay refuses it (depth limit)" {
	bounded 3 "$BIN/tdx-rtmr-replay" "$H/nested.json"
	assert_output --partial "JSON nested deeper than 64"
}

@test "a 100k-level nested object as collateral: tdx-dcap-verify refuses it" {
	bounded 3 "$BIN/tdx-dcap-verify" --collateral "$H/nested.json" --now "$NOW" "$DATA/dcap-qvl-tdx-quote.bin"
	assert_output --partial "collateral: JSON nested deeper than 64"
}

@test "a 1.2 MB deeply nested CLI answer: phala-proxy refuses it well inside --connect-timeout 5" {
	bounded 3 env FAKE_PHALA_LOG="$PWD/log" FAKE_PHALA_STDOUT="$H/cli-nested.json" \
		"$BIN/phala-proxy" --print-host --connect-timeout 5 --phala "$ROOT/t/helpers/fake-phala.sh" "$APP"
	assert_output --partial "JSON nested deeper than 64"
}

@test "4 MiB of '{' lines from the CLI: phala-proxy finds no object in one pass" {
	bounded 3 env FAKE_PHALA_LOG="$PWD/log" FAKE_PHALA_STDOUT="$H/brace-lines.json" \
		"$BIN/phala-proxy" --print-host --connect-timeout 5 --phala "$ROOT/t/helpers/fake-phala.sh" "$APP"
	assert_output --partial "no JSON object in the output"
}

@test "4 MiB of '{' lines: phala-json --embedded refuses them" {
	bounded 3 "$BIN/phala-json" --embedded get "$H/brace-lines.json" success
	assert_output --partial "unterminated JSON object in the output"
}

@test "200k advisory IDs in a TCB level: refused before any de-duplication" {
	bounded 3 "$BIN/tdx-dcap-verify" --collateral "$H/advisories.json" --now "$NOW" "$DATA/dcap-qvl-tdx-quote.bin"
	assert_output --partial "advisoryIDs: 200014 IDs, more than 256"
}

@test "advisory IDs: 256 in a level pass the parse (the edit then breaks the signature), 257 are refused" {
	perl "$ROOT/t/helpers/mk-hostile.pl" advisories 4598 c256.json # 14 genuine + 242
	perl "$ROOT/t/helpers/mk-hostile.pl" advisories 4617 c257.json
	run "$BIN/tdx-dcap-verify" --collateral c256.json --now "$NOW" "$DATA/dcap-qvl-tdx-quote.bin"
	[ "$status" -eq 1 ]
	assert_output --partial "tcb_info_signature"
	run "$BIN/tdx-dcap-verify" --collateral c257.json --now "$NOW" "$DATA/dcap-qvl-tdx-quote.bin"
	[ "$status" -eq 3 ]
	assert_output --partial "advisoryIDs: 257 IDs, more than 256"
}

@test "advisory IDs: 64 characters pass the parse, 65 or none are refused" {
	local id64
	id64=$(printf 'A%.0s' $(seq 64))
	for id in "$id64" "${id64}B" ""; do
		cp "$DATA/dcap-qvl-tdx-collateral.json" c.json
		replace_text c.json INTEL-SA-00106 "$id"
		run "$BIN/tdx-dcap-verify" --collateral c.json --now "$NOW" "$DATA/dcap-qvl-tdx-quote.bin"
		if [ "$id" = "$id64" ]; then
			[ "$status" -eq 1 ]
			assert_output --partial "tcb_info_signature"
		else
			[ "$status" -eq 3 ]
			assert_output --partial "advisoryIDs[0]: not 1 to 64 printable ASCII characters"
		fi
	done
}

@test "30k certificates in a collateral PEM chain: refused at the 17th" {
	bounded 3 "$BIN/tdx-dcap-verify" --collateral "$H/pem-chain.json" --now "$NOW" "$DATA/dcap-qvl-tdx-quote.bin"
	assert_output --partial "tcb_info_issuer_chain: certificate chain: more than 16 certificates"
}

@test "30k certificates given to tdx-quote-extract: refused at the 17th" {
	bounded 3 "$BIN/tdx-quote-extract" "$H/racert-pem.json"
	assert_output --partial "PEM input: more than 16 certificates"
}

@test "tdx-quote-extract: 16 certificates are read, 17 refused" {
	first_certs 16 "$H/racert-pem.json" >c16.pem
	first_certs 17 "$H/racert-pem.json" >c17.pem
	[ "$(grep -c BEGIN c16.pem)" -eq 16 ]
	run "$BIN/tdx-quote-extract" --hex c16.pem
	assert_success
	[ "$output" = "$("$BIN/tdx-quote-extract" --hex "$DATA/phala-app-cert.pem")" ]
	run "$BIN/tdx-quote-extract" --hex c17.pem
	[ "$status" -eq 3 ]
	assert_output --partial "more than 16 certificates"
}

@test "a 63 MiB JSON array of numbers: refused at the token limit" {
	bounded 3 "$BIN/phala-json" get "$H/array.json" x
	assert_output --partial "JSON with more than 1048576 tokens"
}

@test "a 63 MiB JSON array of strings under the token limit: answered, in memory linear in the input" {
	bounded 0 "$BIN/phala-json" get "$H/strings.json" x
	assert_output ""
}

#!/usr/bin/env bats
# The --json contract of every tool that reports (phala-lease has its own
# suite): for every outcome - success, a check that said no (1), malformed
# input (3), local I/O (4), network (5) - standard output is exactly one JSON
# object whose "ok" is a boolean that says whether the tool succeeded, and a
# failure names the step or check that failed ("step"), its exit class
# ("exit") and the message ("error"). The message on standard error stays.

load helpers/common
load helpers/testpki

NOW=2026-01-01T00:00:00Z
APP=944edab771280ede410e7b9e66fcaee6b2c4a12c

setup_file() {
	P=$BATS_FILE_TMPDIR/pki
	"$HELPERS/tdx-testpki" pki "$P"
	"$HELPERS/tdx-testpki" collateral "$P" -o "$BATS_FILE_TMPDIR/c.json"
	"$HELPERS/tdx-testpki" quote "$P" -o "$BATS_FILE_TMPDIR/q.bin"
	export P
}

setup() {
	cd "$BATS_TEST_TMPDIR" || return 1
	C=$BATS_FILE_TMPDIR/c.json
	Q=$BATS_FILE_TMPDIR/q.bin
}

teardown() {
	if [ -n "${PCS_PID:-}" ]; then
		kill "$PCS_PID" 2>/dev/null || true
		wait "$PCS_PID" 2>/dev/null || true
	fi
}

# outcome EXIT STEP CMD...: CMD exits EXIT; its standard output is one JSON
# object with ok true (EXIT 0) or false, and on failure step STEP, exit EXIT
# and a non-empty error.
outcome() {
	local want=$1 step=$2 rc=0
	shift 2
	"$@" >out.json 2>err.txt || rc=$?
	if [ "$rc" -ne "$want" ]; then
		echo "exit $rc, expected $want; stderr: $(cat err.txt)"
		return 1
	fi
	run perl "$ROOT/t/helpers/json-one.pl" out.json
	assert_success
	if [ "$want" -eq 0 ]; then
		assert_line "ok=true"
		refute_line --regexp '^exit='
		return 0
	fi
	assert_line "ok=false"
	assert_line "step=$step"
	assert_line "exit=$want"
	assert_line --regexp '^error=.+'
}

@test "tdx-dcap-verify --json: 0, 1 (named check), 3 (malformed collateral, quote, PCK chain), 4 (each input)" {
	V() { "$BIN/tdx-dcap-verify" --json --root-ca "$P/root.pem" --now "$NOW" "$@"; }
	outcome 0 - V --collateral "$C" "$Q"
	"$TESTPKI" quote "$P" --wrong-attestation-key -o w.bin
	outcome 1 quote_signature V --collateral "$C" w.bin
	run perl -MJSON::PP -e 'local $/; my $j = decode_json(<STDIN>); print $j->{failed_check}' <out.json
	assert_output quote_signature
	outcome 1 no_collateral V "$Q"
	# The issue's two malformed collaterals: an unknown TCB status, a wrong component count.
	cp "$C" bad.json
	perl "$ROOT/t/helpers/collateral-edit.pl" bad.json sub tcb_info '"tcbStatus":"UpToDate"' '"tcbStatus":"Fine"'
	outcome 3 collateral V --collateral bad.json "$Q"
	assert_line --partial 'error=collateral: tcb_info: '
	assert_line --partial 'unknown status "Fine"'
	cp "$C" bad.json
	perl "$ROOT/t/helpers/collateral-edit.pl" bad.json sub tcb_info '{"svn":3},' ''
	outcome 3 collateral V --collateral bad.json "$Q"
	echo '{"pck_crl":' >bad.json
	outcome 3 collateral V --collateral bad.json "$Q"
	head -c 1000 "$Q" >short.bin
	outcome 3 quote V --collateral "$C" short.bin
	# A PCK chain in the quote that is not PEM: the quote's content is malformed.
	perl -e 'local $/; my $q = <STDIN>; $q =~ s/-----BEGIN CERTIFICATE-----\n/-----BEGIN CERTIFICATE-----\n!/; print $q' <"$Q" >pem.bin
	outcome 3 quote V --collateral "$C" pem.bin
	outcome 4 collateral V --collateral nonexistent.json "$Q"
	outcome 4 quote V --collateral "$C" nonexistent.bin
	outcome 4 root_ca "$BIN/tdx-dcap-verify" --json --root-ca nonexistent.pem "$Q"
	outcome 3 root_ca "$BIN/tdx-dcap-verify" --json --root-ca "$C" "$Q"
}

@test "tdx-quote-extract --json: 0, 1 (binding), 3 (certificate, quote), 4 (input, output)" {
	outcome 0 - "$BIN/tdx-quote-extract" --json "$DATA/phala-info.json"
	outcome 0 - "$BIN/tdx-quote-extract" --json --check-binding "$DATA/phala-info.json"
	outcome 1 binding "$BIN/tdx-quote-extract" --json --check-binding "$DATA/dstack-attestation-cert.pem"
	echo 'not a certificate' >junk.pem
	outcome 3 certificate "$BIN/tdx-quote-extract" --json junk.pem
	# A certificate without dstack extensions; one whose quote extension holds 3 bytes.
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout k.pem -out plain.pem \
		-subj /CN=plain -days 1 2>/dev/null
	outcome 3 certificate "$BIN/tdx-quote-extract" --json --check-binding plain.pem
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout k.pem -out short.pem \
		-subj /CN=short -days 1 -addext "1.3.6.1.4.1.62397.1.1=DER:0403010203" 2>/dev/null
	outcome 3 quote "$BIN/tdx-quote-extract" --json short.pem
	assert_line --partial "quote truncated"
	outcome 4 input "$BIN/tdx-quote-extract" --json nonexistent.pem
	outcome 4 output "$BIN/tdx-quote-extract" --json -o "$BATS_TEST_TMPDIR/no/such/dir/x.json" "$DATA/phala-info.json"
}

@test "tdx-rtmr-replay --json: 0, 1 (failed checks named), 3 (evidence, quote), 4 (input, compose file)" {
	outcome 0 - "$BIN/tdx-rtmr-replay" --json --app-id "$APP" "$DATA/phala-info.json"
	outcome 1 app-id "$BIN/tdx-rtmr-replay" --json --app-id 0000000000000000000000000000000000000000 \
		--compose "$DATA/phala-compose.yml" "$DATA/phala-info.json"
	run perl -MJSON::PP -e 'local $/; print join(",", @{decode_json(<STDIN>)->{failed_checks}})' <out.json
	assert_output app-id
	head -c 1000 "$DATA/phala-quote.bin" >short.bin
	cp "$DATA/phala-info.json" info.json
	replace_text info.json '\"digest\": \"0b8772e5' '\"digest\": \"1b8772e5'
	outcome 1 rtmr0 "$BIN/tdx-rtmr-replay" --json --quote "$DATA/phala-quote.bin" info.json
	echo '{"event_log":' >junk.json
	outcome 3 evidence "$BIN/tdx-rtmr-replay" --json junk.json
	outcome 3 quote "$BIN/tdx-rtmr-replay" --json --quote short.bin "$DATA/phala-info.json"
	outcome 4 input "$BIN/tdx-rtmr-replay" --json nonexistent.json
	outcome 4 compose "$BIN/tdx-rtmr-replay" --json --compose nonexistent.yml "$DATA/phala-info.json"
}

# start_pcs: the mock PCS (t/helpers/mock-pcs.c) on a free loopback port
# serving the shared PKI's collateral; sets PCS_PID and URL.
start_pcs() {
	mkdir -p pcs
	"$TESTPKI" collateral "$P" -o expected.json --pcs-dir pcs
	"$HELPERS/mock-pcs" pcs port 2>mock.log &
	PCS_PID=$!
	for _ in $(seq 200); do
		[ -s port ] && break
		sleep 0.05
	done
	URL=http://127.0.0.1:$(cat port)
}

@test "tdx-collateral-fetch --json: 0 (the collateral in the object, or in -o FILE), 3, 4, 5" {
	start_pcs
	outcome 0 - "$BIN/tdx-collateral-fetch" --json --pccs "$URL" "$Q"
	run perl -MJSON::PP -e 'local $/; my $j = decode_json(<STDIN>);
		print JSON::PP->new->canonical->encode($j->{collateral}), " $j->{fmspc} $j->{ca} $j->{pccs}"' <out.json
	assert_output "$(perl -MJSON::PP -e 'local $/; print JSON::PP->new->canonical->encode(decode_json(<STDIN>))' <expected.json) b0c06f000000 platform 1"
	outcome 0 - "$BIN/tdx-collateral-fetch" --json --pccs "$URL" -o c.json "$Q"
	cmp c.json expected.json
	assert_line --partial "ok=true"
	run grep -c '"collateral"' out.json
	assert_output 0
	outcome 3 quote "$BIN/tdx-collateral-fetch" --json --pccs "$URL" "$DATA/phala-compose.yml"
	printf 'garbage' >pcs/tcb.json
	outcome 3 fetch "$BIN/tdx-collateral-fetch" --json --pccs "$URL" "$Q"
	outcome 4 quote "$BIN/tdx-collateral-fetch" --json --pccs "$URL" nonexistent.bin
	echo "500 Internal Server Error" >pcs/force-status
	outcome 5 fetch "$BIN/tdx-collateral-fetch" --json --pccs "$URL" "$Q"
	# Nothing listens on port 1 of the loopback address.
	outcome 5 fetch "$BIN/tdx-collateral-fetch" --json --timeout 5 --pccs http://127.0.0.1:1 "$Q"
	run "$BIN/tdx-collateral-fetch" --json -o - "$Q"
	assert_failure 2
}

@test "phala-claim --json: 0 for every command, 1 (absent, exists, changed, no match), 3 (corrupt, unsafe directory), 4" {
	PC() { "$BIN/phala-claim" --dir "$BATS_TEST_TMPDIR/claims" --json "$@"; }
	outcome 0 - PC create l1 app_id=$APP
	outcome 0 - PC get l1
	outcome 0 - PC get l1 app_id
	outcome 0 - PC set l1 state=ready
	outcome 0 - PC list
	outcome 0 - PC find app_id=$APP
	outcome 1 create PC create l1
	outcome 1 get PC get l2
	outcome 1 get PC get l1 gateway_host
	outcome 1 set PC set l1 --if-revision 00000000000000000000000000000000 state=releasing
	outcome 1 find PC find slug=none
	outcome 0 - PC rm l1
	outcome 1 rm PC rm l1
	printf '{' >claims/bad.json
	chmod 600 claims/bad.json
	outcome 3 get PC get bad
	mkdir -m 777 open
	outcome 3 store "$BIN/phala-claim" --dir "$BATS_TEST_TMPDIR/open" --json list
	: >file
	outcome 4 store "$BIN/phala-claim" --dir "$BATS_TEST_TMPDIR/file/claims" --json create l3
	# lock: the lock's own failure is an object; once CMD runs, stdout is CMD's.
	outcome 4 store "$BIN/phala-claim" --dir "$BATS_TEST_TMPDIR/file/claims" --json lock l3 -- true
	run "$BIN/phala-claim" --dir "$BATS_TEST_TMPDIR/claims" --json lock l3 -- echo from-cmd
	assert_success
	assert_output from-cmd
}

@test "tdx-measure --json: 0, 1 (the register, the identity), 3 (evidence, vm_config), 4 (input), 5 (download)" {
	L=$ROOT/testdata/dstack-tdx-lite-getquote.json
	T() { "$BIN/tdx-measure" --json "$@"; }
	# shellcheck disable=SC2016 # Perl's $v
	edit() { perl -MJSON::PP -e 'local $/; my $d = decode_json(<STDIN>); my $v = decode_json($d->{vm_config});
		eval $ARGV[0]; die $@ if $@; $d->{vm_config} = encode_json($v); print encode_json($d)' "$1" <"$L"; }
	outcome 0 - T "$L"
	# shellcheck disable=SC2016
	edit '$v->{memory_size} = 4294967296' >mem.json
	outcome 1 rtmr0 T mem.json
	# shellcheck disable=SC2016
	edit '$v->{os_image_hash} = "00" x 32' >id.json
	outcome 1 image T id.json
	echo '{"quote":' >bad.json
	outcome 3 evidence T bad.json
	# shellcheck disable=SC2016
	edit '$v->{colour} = 1' >field.json
	outcome 3 vm_config T field.json
	outcome 4 evidence T missing.json
	TDX_MEASURE_IMAGE_URL='http://127.0.0.1:1/{OS_IMAGE_HASH}' outcome 5 image T --fetch --cache c "$L"
}

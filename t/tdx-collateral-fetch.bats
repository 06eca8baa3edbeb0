#!/usr/bin/env bats
# tdx-collateral-fetch against a mock Intel PCS / PCCS on 127.0.0.1 (socat
# running t/helpers/mock-pcs.sh per connection) that serves the collateral the
# synthetic PKI (tdx-testpki) signed.

load helpers/common
load helpers/testpki

F() { "$BIN/tdx-collateral-fetch" "$@"; }

# start_pcs: the mock on a free loopback port, serving $BATS_TEST_TMPDIR/pcs;
# sets PORT and URL.
start_pcs() {
	mkdir -p "$BATS_TEST_TMPDIR/pcs"
	for _ in 1 2 3 4 5 6 7 8; do
		PORT=$((20000 + RANDOM % 30000))
		socat "TCP-LISTEN:$PORT,bind=127.0.0.1,reuseaddr,fork" \
			EXEC:"sh $ROOT/t/helpers/mock-pcs.sh $BATS_TEST_TMPDIR/pcs" 2>"$BATS_TEST_TMPDIR/socat.log" &
		PCS_PID=$!
		for _ in $(seq 50); do
			if curl -s -o /dev/null "http://127.0.0.1:$PORT/ready"; then
				URL=http://127.0.0.1:$PORT
				return 0
			fi
			kill -0 "$PCS_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill "$PCS_PID" 2>/dev/null || true
		wait "$PCS_PID" 2>/dev/null || true
	done
	echo "no free port for the mock PCS" >&2
	return 1
}

setup() {
	cd "$BATS_TEST_TMPDIR" || return 1
	start_pcs
	"$TESTPKI" pki pki --root-crl-url "$URL/IntelSGXRootCA.der"
	"$TESTPKI" collateral pki -o expected.json --pcs-dir pcs
	"$TESTPKI" quote pki -o q.bin
	rm -f pcs/requests.log # the readiness probe's request
}

teardown() {
	if [ -n "${PCS_PID:-}" ]; then
		kill "$PCS_PID" 2>/dev/null || true
		wait "$PCS_PID" 2>/dev/null || true
	fi
}

@test "--pccs: the four requests of PCCS API v4, and exactly the collateral that was signed" {
	run F --pccs "$URL" -o c.json q.bin
	assert_success
	assert_output ""
	cmp c.json expected.json
	run cat pcs/requests.log
	assert_output "GET /sgx/certification/v4/pckcrl?ca=platform&encoding=der
GET /tdx/certification/v4/tcb?fmspc=B0C06F000000
GET /tdx/certification/v4/qe/identity
GET /sgx/certification/v4/rootcacrl"
}

@test "--pcs: the root CA CRL from the root certificate's CRL distribution point; stdout and stdin" {
	F --pcs "$URL/" - <q.bin >c.json
	cmp c.json expected.json
	run tail -n 1 pcs/requests.log
	assert_output "GET /IntelSGXRootCA.der"
}

@test "the fetched collateral verifies the quote with tdx-dcap-verify" {
	F --pccs "$URL" -o c.json q.bin
	run "$BIN/tdx-dcap-verify" --root-ca pki/root.pem --collateral c.json --now 2026-01-01T00:00:00Z q.bin
	assert_success
	assert_output --partial "status: UpToDate"
}

@test "FMSPC and CA type come from the quote's PCK certificate; hex quotes work" {
	"$TESTPKI" pki pki2 --ca processor --fmspc 00906ED50000 --root-crl-url "$URL/IntelSGXRootCA.der"
	"$TESTPKI" collateral pki2 -o expected2.json --pcs-dir pcs
	"$TESTPKI" quote pki2 --hex -o q2.hex
	run F --pccs "$URL" -o c2.json q2.hex
	assert_success
	cmp c2.json expected2.json
	run tail -n 4 pcs/requests.log
	assert_line "GET /sgx/certification/v4/pckcrl?ca=processor&encoding=der"
	assert_line "GET /tdx/certification/v4/tcb?fmspc=00906ED50000"
}

@test "HTTP 404 (unknown FMSPC) and 500 exit 5; no output file is left behind" {
	echo 00906ED50000 >pcs/fmspc
	run F --pccs "$URL" -o c.json q.bin
	assert_failure 5
	assert_output --partial "tcb?fmspc=B0C06F000000: HTTP status 404"
	[ ! -e c.json ]
	rm pcs/fmspc
	"$TESTPKI" collateral pki --pcs-dir pcs >/dev/null
	echo "500 Internal Server Error" >pcs/force-status
	echo previous >c.json
	run F --pccs "$URL" -o c.json q.bin
	assert_failure 5
	assert_output --partial "HTTP status 500"
	[ "$(cat c.json)" = previous ]
	[ "$(find . -maxdepth 1 -name 'c.json?*' | wc -l)" -eq 0 ]
}

@test "connection refused exits 5" {
	kill "$PCS_PID"
	wait "$PCS_PID" 2>/dev/null || true
	PCS_PID=
	run F --pccs "$URL" -o c.json q.bin
	assert_failure 5
	assert_output --partial "tdx-collateral-fetch: GET $URL/sgx/certification/v4/pckcrl"
	[ ! -e c.json ]
}

@test "garbage responses exit 3: TCB info, QE identity, CRLs, issuer-chain header" {
	cp -R pcs good
	for f in tcb.json qe.json pckcrl.der rootcacrl.der pckcrl-chain.hdr; do
		rm -rf pcs
		cp -R good pcs
		printf 'garbage' >"pcs/$f"
		run F --pccs "$URL" -o c.json q.bin
		assert_failure 3
		[ ! -e c.json ]
	done
	# a signed body that is JSON but not TCB info, or a signature of the wrong length
	rm -rf pcs && cp -R good pcs
	printf '{"tcbInfo":{"id":"TDX"},"signature":"%s"}' "$(printf '00%.0s' {1..64})" >pcs/tcb.json
	run F --pccs "$URL" -o c.json q.bin
	assert_failure 3
	assert_output --partial "fetched collateral"
	printf '{"enclaveIdentity":{},"signature":"0011"}' >pcs/qe.json
	run F --pccs "$URL" -o c.json q.bin
	assert_failure 3
	[ ! -e c.json ]
}

@test "a PCCS that sends the root CA CRL as hex is accepted" {
	slice_hex pcs/rootcacrl.der 0 100000 >pcs/hex && mv pcs/hex pcs/rootcacrl.der
	F --pccs "$URL" -o c.json q.bin
	cmp c.json expected.json
}

@test "malformed quotes exit 3, usage errors 2, a missing file 4" {
	run F --pccs "$URL" "$DATA/phala-compose.yml"
	assert_failure 3
	run F --pccs "$URL" "$BATS_TEST_TMPDIR/nonexistent"
	assert_failure 4
	run F --pccs ftp://example.com q.bin
	assert_failure 2
	run F --pccs "$URL" --pcs "$URL" q.bin
	assert_failure 2
	run F --timeout 0 q.bin
	assert_failure 2
	run F --pccs "$URL" q.bin q.bin
	assert_failure 2
	run F --help
	assert_success
	assert_output --partial "usage: tdx-collateral-fetch"
	[ ! -e pcs/requests.log ] # none of these reached the network
}

@test "real quote: its Intel chain names the Platform CA and FMSPC B0C06F000000" {
	run F --pccs "$URL" -o c.json "$DATA/dcap-qvl-tdx-quote.bin"
	assert_success
	run cat pcs/requests.log
	assert_line "GET /sgx/certification/v4/pckcrl?ca=platform&encoding=der"
	assert_line "GET /tdx/certification/v4/tcb?fmspc=B0C06F000000"
}

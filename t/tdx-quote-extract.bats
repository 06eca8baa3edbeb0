#!/usr/bin/env bats
# tdx-quote-extract: evidence out of RA-TLS certificates, on real Phala data.

load helpers/common

X() { "$BIN/tdx-quote-extract" "$@"; }

@test "quote from the real Info JSON is byte-identical to phala-quote.bin" {
	X -o "$BATS_TEST_TMPDIR/q.bin" "$DATA/phala-info.json"
	cmp "$BATS_TEST_TMPDIR/q.bin" "$DATA/phala-quote.bin"
}

@test "quote from the PEM chain on stdin, and from the DER leaf, are identical" {
	X < "$DATA/phala-app-cert.pem" > "$BATS_TEST_TMPDIR/a.bin"
	cmp "$BATS_TEST_TMPDIR/a.bin" "$DATA/phala-quote.bin"
	openssl x509 -in "$DATA/phala-app-cert.pem" -outform DER -out "$BATS_TEST_TMPDIR/leaf.der"
	X "$BATS_TEST_TMPDIR/leaf.der" > "$BATS_TEST_TMPDIR/b.bin"
	cmp "$BATS_TEST_TMPDIR/b.bin" "$DATA/phala-quote.bin"
}

@test "--hex gives the hex of the same bytes" {
	run X --hex "$DATA/phala-info.json"
	assert_success
	assert_output "$(od -An -v -tx1 "$DATA/phala-quote.bin" | tr -d ' \n')"
}

@test "binary output to a terminal is refused" {
	command -v script >/dev/null || skip "script(1) not installed"
	run script -qec "$BIN/tdx-quote-extract $DATA/phala-info.json" /dev/null
	assert_output --partial "refusing to write binary data to a terminal"
}

@test "--what app-id, usage and event-log" {
	run X --what app-id "$DATA/phala-info.json"
	assert_success
	assert_output "944edab771280ede410e7b9e66fcaee6b2c4a12c"
	run X --what usage "$DATA/phala-info.json"
	assert_output "app:custom"
	run X --what event-log "$DATA/phala-info.json"
	assert_success
	assert_output --regexp '^\[\{"imr":0,"event_type":2147483659,"digest":"0b8772e5'
	[ "$(printf '%s' "$output" | grep -o '"imr":' | wc -l)" -eq 30 ]
}

@test "--what attestation without a .1.8 extension is exit 3" {
	run X --what attestation "$DATA/phala-info.json"
	assert_failure 3
	assert_output --partial "no extension 1.3.6.1.4.1.62397.1.8"
}

@test "--json decodes every extension" {
	run X --json "$DATA/phala-info.json"
	assert_success
	assert_output --partial '"leaf_subject":"/CN=demo-cert","certificates":3,"app_id":"944edab771280ede410e7b9e66fcaee6b2c4a12c","usage":"app:custom"'
	assert_output --partial '"length":4940,"trailing_bytes":70'
	assert_output --partial '"report_data":"997dfa609c1256a26b7b7f10cc60e5ec'
}

@test "--check-binding passes on the real certificate" {
	run X --check-binding -o /dev/null "$DATA/phala-info.json"
	assert_success
	assert_output --partial "binding verified"
	assert_output --partial "/CN=demo-cert <- /O=Dstack/CN=Dstack App CA <- /O=Dstack/CN=Dstack KMS CA (self-signed)"
}

@test "--check-binding: a changed REPORTDATA byte is exit 1 naming REPORTDATA" {
	openssl x509 -in "$DATA/phala-app-cert.pem" -outform DER -out "$BATS_TEST_TMPDIR/leaf.der"
	# 997dfa60... is the quote's REPORTDATA; change its first byte inside the certificate.
	perl -0777 -pi -e 's/\x99\x7d\xfa\x60\x9c\x12/\x98\x7d\xfa\x60\x9c\x12/' "$BATS_TEST_TMPDIR/leaf.der"
	run X --check-binding "$BATS_TEST_TMPDIR/leaf.der"
	assert_failure 1
	assert_output --partial "binding: quote REPORTDATA 987dfa60"
	refute_output --partial "binding verified"
}

@test "--check-binding: a key that is not the quoted one is exit 1" {
	run X --check-binding -o /dev/null "$DATA/dstack-attestation-cert.pem"
	assert_failure 1
	assert_output --partial 'is not SHA-512("ratls-cert:" || leaf public key)'
}

@test "--check-binding: a broken chain signature is exit 1 naming the certificate" {
	# Keep the leaf, replace the App CA by a certificate of the same name and another key.
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$BATS_TEST_TMPDIR/k" \
		-subj "/O=Dstack/CN=Dstack App CA" -days 1 -out "$BATS_TEST_TMPDIR/fake-ca.pem" 2>/dev/null
	awk 'BEGIN{n=0} /BEGIN CERT/{n++} n==1' "$DATA/phala-app-cert.pem" > "$BATS_TEST_TMPDIR/chain.pem"
	cat "$BATS_TEST_TMPDIR/fake-ca.pem" >> "$BATS_TEST_TMPDIR/chain.pem"
	run X --check-binding -o /dev/null "$BATS_TEST_TMPDIR/chain.pem"
	assert_failure 1
	assert_output --partial "certificate chain: the signature on /CN=demo-cert does not verify"
}

@test "--check-binding: a missing issuer is exit 1" {
	awk 'BEGIN{n=0} /BEGIN CERT/{n++} n==1' "$DATA/phala-app-cert.pem" > "$BATS_TEST_TMPDIR/leaf.pem"
	run X --check-binding -o /dev/null "$BATS_TEST_TMPDIR/leaf.pem"
	assert_failure 1
	assert_output --partial "the issuer of /CN=demo-cert is not in the input"
}

@test ".1.8 attestation: the quote and the log decode from a certificate" {
	run X --json "$DATA/dstack-attestation-cert.pem"
	assert_success
	assert_output --partial '"attestation":{"format":"scale-v0","report_data":"646970313a3a'
	assert_output --partial '"runtime_events":9'
	X --what attestation -o "$BATS_TEST_TMPDIR/att.bin" "$DATA/dstack-attestation-cert.pem"
	[ "$(wc -c < "$BATS_TEST_TMPDIR/att.bin")" -eq 7305 ]
	X -o "$BATS_TEST_TMPDIR/q.bin" "$DATA/dstack-attestation-cert.pem"
	[ "$(wc -c < "$BATS_TEST_TMPDIR/q.bin")" -eq 5006 ]
}

@test "-o writes atomically: a failed run leaves an existing file untouched" {
	echo keep > "$BATS_TEST_TMPDIR/out"
	run X -o "$BATS_TEST_TMPDIR/out" "$DATA/phala-compose.yml"
	assert_failure 3
	[ "$(cat "$BATS_TEST_TMPDIR/out")" = keep ]
	for leftover in "$BATS_TEST_TMPDIR"/out.tmp.*; do [ ! -e "$leftover" ]; done
}

@test "malformed inputs are exit 3 with a message" {
	cd "$BATS_TEST_TMPDIR"
	: > empty
	printf -- '-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n' > badpem
	head -c 1000 "$DATA/phala-app-cert.pem" > truncpem
	printf '{"app_cert": 5}' > wrongtype.json
	printf '{"app_cert": ""}' > emptycert.json
	printf '{"app_cert": "x",}' > badjson.json
	printf '\x30\x82\xff\xff' > hugelen.der
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout k -subj /CN=plain \
		-days 1 -out plain.pem 2>/dev/null
	for f in empty badpem truncpem wrongtype.json emptycert.json badjson.json hugelen.der plain.pem \
		"$DATA/phala-compose.yml" "$DATA/phala-quote.bin"; do
		run X "$f"
		assert_failure 3
		assert_output --regexp '^tdx-quote-extract: .+'
	done
}

# cert_with_quote_ext VALUE: a self-signed c.pem whose quote extension (.1.1)
# is the openssl ASN1 generator string VALUE.
cert_with_quote_ext() {
	printf '[req]\ndistinguished_name=dn\nx509_extensions=ext\nprompt=no\n[dn]\nCN=t\n[ext]\n1.3.6.1.4.1.62397.1.1=%s\n' "$1" > "$BATS_TEST_TMPDIR/c.cnf"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$BATS_TEST_TMPDIR/k" \
		-config "$BATS_TEST_TMPDIR/c.cnf" -days 1 -out "$BATS_TEST_TMPDIR/c.pem" 2>/dev/null
}

@test "a truncated quote inside a certificate is exit 3" {
	hex=$(od -An -v -tx1 "$DATA/phala-quote.bin" | tr -d ' \n' | cut -c1-4000)
	cert_with_quote_ext "ASN1:FORMAT:HEX,OCTETSTRING:$hex"
	run X "$BATS_TEST_TMPDIR/c.pem"
	assert_failure 3
	assert_output --partial "quote truncated"
}

@test "an extension value that is not one OCTET STRING is exit 3" {
	cert_with_quote_ext "ASN1:UTF8String:hello"
	run X "$BATS_TEST_TMPDIR/c.pem"
	assert_failure 3
	assert_output --partial "not exactly one DER OCTET STRING"
}

@test "usage errors are exit 2" {
	run X --what nonsense "$DATA/phala-info.json"
	assert_failure 2
	assert_output --partial "unknown --what value"
	run X --bogus
	assert_failure 2
	run X a b
	assert_failure 2
	run X --help
	assert_success
	assert_output --partial "--check-binding"
}

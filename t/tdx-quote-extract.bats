#!/usr/bin/env bats
# tdx-quote-extract: evidence out of RA-TLS certificates, on real Phala data.

load helpers/common
bats_require_minimum_version 1.5.0

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
	run X --check-binding -o "$BATS_TEST_TMPDIR/out.bin" "$DATA/phala-info.json"
	assert_success
	# Only what was checked: the key binding, the chain's own signatures; not
	# a trust anchor, not the quote's signature.
	assert_line 'tdx-quote-extract: binding ok: the quote'"'"'s REPORTDATA = SHA-512("ratls-cert:" || leaf SPKI)'
	assert_line "tdx-quote-extract: chain signatures consistent, not checked against a trust anchor: /CN=demo-cert <- /O=Dstack/CN=Dstack App CA <- /O=Dstack/CN=Dstack KMS CA (self-signed)"
	assert_line "tdx-quote-extract: the quote itself is not verified here: it is trusted only after tdx-dcap-verify"
	refute_output --partial "verified:"
	run X --json --check-binding "$DATA/phala-info.json"
	assert_success
	assert_output --partial '"binding":{"report_data":"ok","chain":"/CN=demo-cert <- /O=Dstack/CN=Dstack App CA <- /O=Dstack/CN=Dstack KMS CA (self-signed)","chain_trust_anchor":false,"quote_signature_checked":false}'
}

@test "--check-binding: a changed REPORTDATA byte is exit 1 naming REPORTDATA" {
	openssl x509 -in "$DATA/phala-app-cert.pem" -outform DER -out "$BATS_TEST_TMPDIR/leaf.der"
	# 997dfa60... is the quote's REPORTDATA; change its first byte inside the certificate.
	perl -0777 -pi -e 's/\x99\x7d\xfa\x60\x9c\x12/\x98\x7d\xfa\x60\x9c\x12/' "$BATS_TEST_TMPDIR/leaf.der"
	run X --check-binding "$BATS_TEST_TMPDIR/leaf.der"
	assert_failure 1
	assert_output --partial "binding: quote REPORTDATA 987dfa60"
	refute_output --partial "binding ok"
}

@test "--check-binding: a key that is not the quoted one is exit 1" {
	run X --check-binding -o "$BATS_TEST_TMPDIR/out.bin" "$DATA/dstack-attestation-cert.pem"
	assert_failure 1
	assert_output --partial 'is not SHA-512("ratls-cert:" || leaf public key)'
	run X --check-binding -o "$BATS_TEST_TMPDIR/out.bin" "$DATA/dstack-attestation-v1-cert.pem"
	assert_failure 1
	assert_output --partial 'is not SHA-512("ratls-cert:" || leaf public key)'
}

@test "--check-binding: a broken chain signature is exit 1 naming the certificate" {
	# Keep the leaf, replace the App CA by a certificate of the same name and another key.
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$BATS_TEST_TMPDIR/k" \
		-subj "/O=Dstack/CN=Dstack App CA" -days 1 -out "$BATS_TEST_TMPDIR/fake-ca.pem" 2>/dev/null
	awk 'BEGIN{n=0} /BEGIN CERT/{n++} n==1' "$DATA/phala-app-cert.pem" > "$BATS_TEST_TMPDIR/chain.pem"
	cat "$BATS_TEST_TMPDIR/fake-ca.pem" >> "$BATS_TEST_TMPDIR/chain.pem"
	run X --check-binding -o "$BATS_TEST_TMPDIR/out.bin" "$BATS_TEST_TMPDIR/chain.pem"
	assert_failure 1
	assert_output --partial "certificate chain: the signature on /CN=demo-cert does not verify"
}

@test "--check-binding: a missing issuer is exit 1" {
	awk 'BEGIN{n=0} /BEGIN CERT/{n++} n==1' "$DATA/phala-app-cert.pem" > "$BATS_TEST_TMPDIR/leaf.pem"
	run X --check-binding -o "$BATS_TEST_TMPDIR/out.bin" "$BATS_TEST_TMPDIR/leaf.pem"
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

# v1_cert OUT [make-attestation-v1.pl options]: a msgpack V1 .1.8 test certificate.
v1_cert() {
	out=$1
	shift
	perl "$ROOT/t/vectors/make-attestation-v1.pl" "$@" > "$BATS_TEST_TMPDIR/v1.msgpack"
	sh "$ROOT/t/vectors/make-attestation-cert.sh" "$BATS_TEST_TMPDIR/v1.msgpack" "$out" > /dev/null
}

@test ".1.8 msgpack V1: the same quote, report data and event log as the SCALE V0 sample" {
	cd "$BATS_TEST_TMPDIR"
	run X --json "$DATA/dstack-attestation-v1-cert.pem"
	assert_success
	assert_output --partial '"attestation":{"format":"msgpack-v1","stack":"dstack","report_data":"646970313a3a'
	assert_output --partial '"runtime_events":9'
	X "$DATA/dstack-attestation-v1-cert.pem" > v1.quote
	X "$DATA/dstack-attestation-cert.pem" > v0.quote
	cmp v1.quote v0.quote
	X --what event-log "$DATA/dstack-attestation-v1-cert.pem" > v1.log
	X --what event-log "$DATA/dstack-attestation-cert.pem" > v0.log
	cmp v1.log v0.log
	X --json "$DATA/dstack-attestation-v1-cert.pem" | sed 's/"format":"msgpack-v1","stack":"dstack"/"format":"scale-v0"/' > v1.json
	X --json "$DATA/dstack-attestation-cert.pem" > v0.json
	# Everything but the certificate itself (subject aside, both are test certificates) is equal.
	cmp v1.json v0.json
	X --what attestation -o v1.att "$DATA/dstack-attestation-v1-cert.pem"
	cmp v1.att "$DATA/dstack-attestation-v1.msgpack"
}

@test ".1.8 msgpack V1 with V2 runtime events: the log says version 2" {
	run X --what event-log "$DATA/dstack-attestation-v1-v2events-cert.pem"
	assert_success
	assert_output --partial '"event":"app-id","event_payload":"86b0e55f2fa8e4fb69d890f14f54d5612707646e","version":2'
	run X --what event-log "$DATA/dstack-attestation-v1-cert.pem"
	refute_output --partial '"version":2'
}

@test ".1.8 msgpack V1: wrong version, non-TDX platform, unknown kinds, trailing bytes are exit 3" {
	v1_cert "$BATS_TEST_TMPDIR/c.pem" --version 2
	run X "$BATS_TEST_TMPDIR/c.pem"
	assert_failure 3
	assert_output "tdx-quote-extract: certificate: attestation: unsupported attestation version 2 (expected 1)"
	v1_cert "$BATS_TEST_TMPDIR/c.pem" --platform gcp-tdx
	run X "$BATS_TEST_TMPDIR/c.pem"
	assert_failure 3
	assert_output --partial 'platform "gcp-tdx" is not dstack TDX'
	v1_cert "$BATS_TEST_TMPDIR/c.pem" --platform tdx2
	run X "$BATS_TEST_TMPDIR/c.pem"
	assert_failure 3
	assert_output --partial 'unknown platform kind "tdx2"'
	v1_cert "$BATS_TEST_TMPDIR/c.pem" --stack k8s
	run X "$BATS_TEST_TMPDIR/c.pem"
	assert_failure 3
	assert_output --partial 'unknown stack kind "k8s"'
	v1_cert "$BATS_TEST_TMPDIR/c.pem" --trailing
	run X "$BATS_TEST_TMPDIR/c.pem"
	assert_failure 3
	assert_output --partial "1 trailing bytes after the msgpack map"
}

@test ".1.8 msgpack V1: dstack-pod's report_data must be SHA-512(app-data: payload)" {
	v1_cert "$BATS_TEST_TMPDIR/c.pem" --stack dstack-pod
	run X --json "$BATS_TEST_TMPDIR/c.pem"
	assert_success
	assert_output --partial '"stack":"dstack-pod"'
	assert_output --partial '"report_data_payload":"{\"test\":\"pod payload\"}"'
	want=$(printf 'app-data:{"test":"pod payload"}' | openssl dgst -sha512 -r | cut -d' ' -f1)
	assert_output --partial "\"report_data\":\"$want\""
	v1_cert "$BATS_TEST_TMPDIR/c.pem" --stack dstack-pod --unbound
	run --separate-stderr X --json "$BATS_TEST_TMPDIR/c.pem"
	assert_failure 1
	assert_output '{"ok":false,"step":"certificate","exit":1,"error":"certificate: attestation: dstack-pod report_data is not SHA-512(\"app-data:\" || report_data_payload)"}'
	# shellcheck disable=SC2154 # $stderr: set by run --separate-stderr
	[ "$stderr" = 'tdx-quote-extract: certificate: attestation: dstack-pod report_data is not SHA-512("app-data:" || report_data_payload)' ]
}

@test ".1.8 msgpack V1: truncated, wrong type and huge length are exit 3 with the field named" {
	cd "$BATS_TEST_TMPDIR"
	head -c 4000 "$DATA/dstack-attestation-v1.msgpack" > cut.msgpack
	sh "$ROOT/t/vectors/make-attestation-cert.sh" "$PWD/cut.msgpack" "$BATS_TEST_TMPDIR/c.pem" > /dev/null
	run X "$BATS_TEST_TMPDIR/c.pem"
	assert_failure 3
	assert_output --regexp '^tdx-quote-extract: certificate: attestation: v1.platform.data: array of 5006 elements cannot fit in the 3956 bytes left$'
	# "version": 1 -> "version": nil (byte 9).
	cp "$DATA/dstack-attestation-v1.msgpack" type.msgpack
	printf '\300' | dd of=type.msgpack bs=1 seek=9 conv=notrunc 2> /dev/null
	sh "$ROOT/t/vectors/make-attestation-cert.sh" "$PWD/type.msgpack" "$BATS_TEST_TMPDIR/c.pem" > /dev/null
	run X "$BATS_TEST_TMPDIR/c.pem"
	assert_failure 3
	assert_output "tdx-quote-extract: certificate: attestation: v1.version: expected integer, got nil"
	# The quote's array16 count (bytes 42-43) raised to 0xffff.
	cp "$DATA/dstack-attestation-v1.msgpack" huge.msgpack
	printf '\377\377' | dd of=huge.msgpack bs=1 seek=42 conv=notrunc 2> /dev/null
	sh "$ROOT/t/vectors/make-attestation-cert.sh" "$PWD/huge.msgpack" "$BATS_TEST_TMPDIR/c.pem" > /dev/null
	run X "$BATS_TEST_TMPDIR/c.pem"
	assert_failure 3
	assert_output --partial "attestation: v1.platform.data: array of 65535 elements cannot fit"
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

# Helpers for the suites that use the synthetic DCAP PKI (tdx-testpki):
# byte slices as hex, and Intel's raw r||s signatures and x||y keys turned
# into the DER that the openssl command line verifies.
# shellcheck shell=bash

TESTPKI=${HELPERS}/tdx-testpki
export TESTPKI

# slice_hex FILE OFFSET LEN: LEN bytes at OFFSET, as lowercase hex.
slice_hex() {
	od -An -v -tx1 -j "$2" -N "$3" "$1" | tr -d ' \n'
}

# slice FILE OFFSET LEN OUT: LEN bytes at OFFSET into OUT.
slice() {
	dd if="$1" of="$4" bs=1 skip="$2" count="$3" status=none
}

# rs_to_der HEX OUT: a 64-byte r||s (hex) as a DER ECDSA-Sig-Value.
rs_to_der() {
	printf 'asn1=SEQUENCE:sig\n[sig]\nr=INTEGER:0x%s\ns=INTEGER:0x%s\n' "${1:0:64}" "${1:64:64}" >"$2.cnf"
	openssl asn1parse -genconf "$2.cnf" -out "$2" >/dev/null
}

# xy_to_pem HEX OUT: a 64-byte P-256 point x||y (hex) as a PEM public key.
xy_to_pem() {
	printf 'asn1=SEQUENCE:spki\n[spki]\nalg=SEQUENCE:alg\nkey=FORMAT:HEX,BITSTRING:04%s\n[alg]\na=OID:id-ecPublicKey\nb=OID:prime256v1\n' \
		"$1" >"$2.cnf"
	openssl asn1parse -genconf "$2.cnf" -out "$2.der" >/dev/null
	openssl pkey -pubin -inform der -in "$2.der" -out "$2"
}

# json_field FILE KEY: a string member of a JSON object, via perl's core JSON::PP.
json_field() {
	perl -MJSON::PP -e 'local $/; open my $f, "<", $ARGV[0] or die; print JSON::PP->new->decode(<$f>)->{$ARGV[1]}' "$1" "$2"
}

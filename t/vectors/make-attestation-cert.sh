#!/bin/sh
# Wraps the real dstack .1.8 attestation (testdata/dstack-tdx-lite-attestation.json,
# SCALE V0) in a self-signed test certificate, as an RA-TLS leaf from a >= v0.5.9
# issuer carries it: testdata/dstack-attestation-cert.pem. The quote inside is real;
# the certificate and its key are not, so --check-binding must fail on it.
set -eu
cd "$(dirname "$0")/../.."
hex=$(sed -n 's/.*"attestation"[[:space:]]*:[[:space:]]*"\([0-9a-fA-F]*\)".*/\1/p' testdata/dstack-tdx-lite-attestation.json)
[ -n "$hex" ] || { echo "no attestation hex found" >&2; exit 3; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/ext.cnf" <<CNF
[req]
distinguished_name = dn
x509_extensions = ext
prompt = no
[dn]
CN = dstack-attestation-test
[ext]
1.3.6.1.4.1.62397.1.3 = ASN1:FORMAT:HEX,OCTETSTRING:ea549f02e1a25fabd1cb788380e033ec5461b2ff
1.3.6.1.4.1.62397.1.4 = ASN1:FORMAT:HEX,OCTETSTRING:6170703a637573746f6d
1.3.6.1.4.1.62397.1.8 = ASN1:FORMAT:HEX,OCTETSTRING:$hex
CNF
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/key.pem" \
	-days 36500 -config "$tmp/ext.cnf" -out testdata/dstack-attestation-cert.pem 2>/dev/null
echo "wrote testdata/dstack-attestation-cert.pem"

#!/bin/sh
# Wraps a dstack .1.8 attestation in a self-signed test certificate, as an
# RA-TLS leaf from a >= v0.5.9 issuer carries it.
#
#   make-attestation-cert.sh                   the real SCALE V0 attestation
#       (testdata/dstack-tdx-lite-attestation.json) -> testdata/dstack-attestation-cert.pem
#   make-attestation-cert.sh V1.msgpack OUT.pem  an attestation given as raw bytes
#       (the msgpack V1 vectors of make-attestation-v1.pl)
#
# The quote inside is real (V2 vector: RTMR3 rewritten); the certificate and
# its key are not, so --check-binding must fail on them.
set -eu
cd "$(dirname "$0")/../.."
if [ $# -eq 2 ]; then
	hex=$(od -An -v -tx1 "$1" | tr -d ' \n')
	out=$2
else
	hex=$(sed -n 's/.*"attestation"[[:space:]]*:[[:space:]]*"\([0-9a-fA-F]*\)".*/\1/p' testdata/dstack-tdx-lite-attestation.json)
	out=testdata/dstack-attestation-cert.pem
fi
[ -n "$hex" ] || { echo "no attestation bytes found" >&2; exit 3; }
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
	-days 36500 -config "$tmp/ext.cnf" -out "$out" 2>/dev/null
echo "wrote $out"

#!/bin/sh
# proxy-pki.sh DIR: a throw-away PKI for the phala-proxy tests and bench.
# Writes into DIR (server files are certificate chain + key, for socat cert=):
#   ca.pem        the test gateway CA (what --cafile trusts)
#   gw.pem        *.test-gateway.example, issued by ca.pem          (valid)
#   other.pem     *.other.example, issued by ca.pem                  (name mismatch)
#   expired.pem   *.test-gateway.example, issued by ca.pem, expired  (expired)
#   self.pem      *.test-gateway.example, self-signed                (self-signed)
#   rogue.pem     *.test-gateway.example, issued by an unknown CA    (untrusted issuer)
set -eu
d=$1
mkdir -p "$d"
cd "$d"
q() { "$@" >/dev/null 2>&1 || { echo "proxy-pki: $* failed" >&2; exit 4; }; }
key() { q openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }

# ca NAME CN: a self-signed CA certificate NAME.pem with key NAME.key.
ca() {
	key "$1.key"
	q openssl req -x509 -new -key "$1.key" -out "$1.pem" -days 30 -subj "/CN=$2" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
}
# leaf OUT SAN CA [openssl-ca validity options]: OUT.pem = leaf cert, key.
leaf() {
	out=$1 san=$2 issuer=$3
	shift 3
	key "$out.key"
	q openssl req -new -key "$out.key" -out "$out.csr" -subj "/CN=$san"
	printf 'subjectAltName=DNS:%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$san" >"$out.ext"
	mkdir -p "db-$issuer"
	: >"db-$issuer/index.txt"
	[ -f "db-$issuer/serial" ] || echo 1000 >"db-$issuer/serial"
	cat >"$out.cnf" <<EOF
[ca]
default_ca = c
[c]
database = db-$issuer/index.txt
serial = db-$issuer/serial
new_certs_dir = db-$issuer
default_md = sha256
policy = p
unique_subject = no
[p]
commonName = supplied
EOF
	q openssl ca -batch -config "$out.cnf" -cert "$issuer.pem" -keyfile "$issuer.key" -in "$out.csr" \
		-out "$out.crt" -extfile "$out.ext" -notext "$@"
	cat "$out.crt" "$out.key" >"$out.pem"
}

ca ca "Test Gateway CA"
ca rogueca "Rogue CA"
leaf gw '*.test-gateway.example' ca -days 30
leaf other '*.other.example' ca -days 30
leaf expired '*.test-gateway.example' ca -startdate 20200101000000Z -enddate 20200201000000Z
leaf rogue '*.test-gateway.example' rogueca -days 30
key self.key
q openssl req -x509 -new -key self.key -out self.crt -days 30 -subj "/CN=*.test-gateway.example" \
	-addext "subjectAltName=DNS:*.test-gateway.example"
cat self.crt self.key >self.pem

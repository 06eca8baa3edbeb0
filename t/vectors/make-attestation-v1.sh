#!/bin/sh
# Writes the msgpack V1 test vectors and their test certificates:
#   testdata/dstack-attestation-v1.msgpack           the real sample's content, V1 events
#   testdata/dstack-attestation-v1-cert.pem          the same in a .1.8 certificate
#   testdata/dstack-attestation-v1-v2events.msgpack  runtime events marked V2, RTMR3 rewritten
#   testdata/dstack-attestation-v1-v2events-cert.pem the same in a .1.8 certificate
set -eu
cd "$(dirname "$0")/../.."
perl t/vectors/make-attestation-v1.pl > testdata/dstack-attestation-v1.msgpack
perl t/vectors/make-attestation-v1.pl --v2 > testdata/dstack-attestation-v1-v2events.msgpack
sh t/vectors/make-attestation-cert.sh testdata/dstack-attestation-v1.msgpack testdata/dstack-attestation-v1-cert.pem
sh t/vectors/make-attestation-cert.sh testdata/dstack-attestation-v1-v2events.msgpack \
	testdata/dstack-attestation-v1-v2events-cert.pem

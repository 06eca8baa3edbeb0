#!/bin/sh
# testdata/phala-app-cert.pem: the app_cert chain of the real Info response
# testdata/phala-info.json, as a PEM file (perl's core JSON::PP reads it).
set -eu
cd "$(dirname "$0")/../.."
perl -MJSON::PP -e 'local $/; open my $f, "<", $ARGV[0] or die; print decode_json(<$f>)->{app_cert}' \
	testdata/phala-info.json > testdata/phala-app-cert.pem
echo "wrote testdata/phala-app-cert.pem"

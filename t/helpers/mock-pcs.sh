#!/bin/sh
# mock-pcs.sh DIR: answers one HTTP/1.1 request on standard input/output (run
# by socat's EXEC per connection) from the files `tdx-testpki collateral
# --pcs-dir DIR` wrote, the way Intel PCS API v4 and a PCCS answer:
#   /sgx/certification/v4/pckcrl?ca=platform|processor&encoding=der
#   /tdx/certification/v4/tcb?fmspc=HEX   (404 unless HEX is DIR/fmspc)
#   /tdx/certification/v4/qe/identity
#   /sgx/certification/v4/rootcacrl, /IntelSGXRootCA.der   (root CA CRL)
# DIR/force-status, when present, is the status every request gets.
# Requests are appended to DIR/requests.log.
set -eu
dir=$1
cr=$(printf '\r')
IFS=' ' read -r method target _ || exit 0
target=${target%"$cr"}
while IFS= read -r line; do
	line=${line%"$cr"}
	[ -n "$line" ] || break
done
printf '%s %s\n' "$method" "$target" >>"$dir/requests.log"

# respond STATUS FILE [HEADER-NAME HEADER-FILE]
respond() {
	printf 'HTTP/1.1 %s\r\nContent-Length: %s\r\nConnection: close\r\n' "$1" "$(wc -c <"$2" | tr -d ' ')"
	if [ $# -ge 4 ]; then
		printf '%s: %s\r\n' "$3" "$(cat "$4")"
	fi
	printf '\r\n'
	cat "$2"
}

if [ -f "$dir/force-status" ]; then
	respond "$(cat "$dir/force-status")" /dev/null
	exit 0
fi
case $target in
/sgx/certification/v4/pckcrl\?ca=platform\&encoding=der | /sgx/certification/v4/pckcrl\?ca=processor\&encoding=der)
	respond "200 OK" "$dir/pckcrl.der" SGX-PCK-CRL-Issuer-Chain "$dir/pckcrl-chain.hdr" ;;
/tdx/certification/v4/tcb\?fmspc=*)
	if [ "${target#*fmspc=}" = "$(cat "$dir/fmspc")" ]; then
		respond "200 OK" "$dir/tcb.json" TCB-Info-Issuer-Chain "$dir/tcb-chain.hdr"
	else
		respond "404 Not Found" /dev/null
	fi ;;
/tdx/certification/v4/qe/identity)
	respond "200 OK" "$dir/qe.json" SGX-Enclave-Identity-Issuer-Chain "$dir/tcb-chain.hdr" ;;
/sgx/certification/v4/rootcacrl | /IntelSGXRootCA.der)
	respond "200 OK" "$dir/rootcacrl.der" ;;
*)
	respond "404 Not Found" /dev/null ;;
esac

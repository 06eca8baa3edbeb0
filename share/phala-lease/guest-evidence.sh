# shellcheck shell=sh
# Runs inside the CVM (sent over ssh as "sh -s MODE ARGS"): prints the guest
# agent's answer on stdout. phala-lease runs "report-data" locally, so the
# client and the guest compute the binding with the same code.
#   report-data NONCE TAG BLOB  SHA-512(TAG ":" || NONCE bytes || base64-decoded BLOB), hex
#   unhex HEX        the bytes
#   quote NONCE TAG  GetQuote with report-data of this guest's own SSH
#                    ed25519 host key
#   info             Info (app_compose, tcb_info, app_cert)
set -eu

# Hex on the command line to raw bytes on stdout (dash's printf has no \x).
unhex() {
	bytes=$(printf '%s\n' "$1" | awk '{
		for (i = 1; i < length($0); i += 2) {
			v = index("0123456789abcdef", substr($0, i, 1)) * 16 + index("0123456789abcdef", substr($0, i + 1, 1)) - 17
			printf "\\%03o", v
		}
	}')
	# shellcheck disable=SC2059 # the format is the escaped byte string
	printf "$bytes"
}

report_data() {
	{ printf '%s:' "$2"; unhex "$1"; printf '%s' "$3" | base64 -d; } | sha512sum | cut -c1-128
}

agent() {
	for s in /var/run/dstack.sock /var/run/dstack/dstack.sock /var/run/tappd.sock /var/run/dstack/tappd.sock; do
		if [ -S "$s" ]; then echo "$s"; return 0; fi
	done
	echo "no dstack guest agent socket" >&2
	return 1
}

case ${1:-} in
report-data) report_data "$2" "$3" "$4" ;;
unhex) unhex "$2" ;;
quote)
	sock=$(agent)
	rd=$(report_data "$2" "$3" "$(awk '{ print $2 }' /etc/ssh/ssh_host_ed25519_key.pub)")
	case $sock in
	*tappd.sock) curl -fsS --unix-socket "$sock" -H 'Content-Type: application/json' \
		-d "{\"report_data\":\"$rd\",\"hash_algorithm\":\"raw\"}" http://dstack/prpc/Tappd.TdxQuote ;;
	*) curl -fsS --unix-socket "$sock" "http://dstack/GetQuote?report_data=$rd" ;;
	esac ;;
info)
	sock=$(agent)
	case $sock in
	*tappd.sock) curl -fsS --unix-socket "$sock" http://dstack/prpc/Tappd.Info ;;
	*) curl -fsS --unix-socket "$sock" http://dstack/Info ;;
	esac ;;
*) echo "usage: report-data NONCE TAG BLOB | quote NONCE TAG | info" >&2; exit 2 ;;
esac

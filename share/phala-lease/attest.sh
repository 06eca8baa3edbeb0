# shellcheck shell=sh disable=SC2034,SC2153 # variables shared by the sourced helpers
# SSH transport (contract §7) and the attestation gate (§1.2).

# Quotes one ProxyCommand word: % doubled, single-quoted when it holds
# characters outside [A-Za-z0-9_./:,@%+=-].
pl_proxy_word() {
	w=$(printf '%s' "$1" | sed 's/%/%%/g')
	case $w in
	*[!A-Za-z0-9_./:,@%+=-]* | '') printf "'%s'" "$(printf '%s' "$w" | sed "s/'/'\\\\''/g")" ;;
	*) printf '%s' "$w" ;;
	esac
}

# ProxyCommand for a lease: phala-proxy [proxy_args] [--claims DIR] --port P
# HOST (host last). The ledger directory is named so that the proxy, run by
# ssh from any environment, finds the claim it touches on every connection;
# on PostgreSQL (pl_claims_on_pg) nothing is pinned: the proxy chooses the
# store as phala-claim does (the password never on its command line).
pl_proxy_command() {
	host=$1 port=$2
	proxy=$(pl_tool phala-proxy) || proxy=phala-proxy
	out=$(pl_proxy_word "$proxy")
	for a in $CF_PROXY_ARGS; do out="$out $(pl_proxy_word "$a")"; done
	pl_claims_on_pg || out="$out --claims $(pl_proxy_word "$(pl_claims_dir)")"
	printf '%s --port %s %s\n' "$out" "$(pl_proxy_word "$port")" "$(pl_proxy_word "$host")"
}

# pl_ssh_args DIR HOST PORT STRICT LEASE: sets "$@"-ready options in PL_SSH_OPTS file
# (one per line) for ssh -F none.
pl_ssh_set() {
	dir=$1 host=$2 port=$3 strict=$4 lease=$5
	PL_SSH=${PHALA_LEASE_SSH:-ssh}
	set -- -F none -i "$dir/id_ed25519" -o BatchMode=yes -o IdentitiesOnly=yes -o ForwardAgent=no \
		-o ForwardX11=no -o "UserKnownHostsFile=$dir/known_hosts" -o ServerAliveInterval=15 \
		-o ServerAliveCountMax=4 -o ControlMaster=no -o ControlPath=none -o "StrictHostKeyChecking=$strict" \
		-o HostKeyAlgorithms=ssh-ed25519 -o "HostKeyAlias=$PL_TOOL-$lease" -o ConnectTimeout=30 \
		-o "ProxyCommand=$(pl_proxy_command "$host" "$port")" -p "$port" -l "$CF_SSH_USER"
	PL_SSH_ARGS_N=$#
	i=0
	for a in "$@"; do i=$((i + 1)); eval "PL_SSH_A$i=\$a"; done
}

# Runs ssh with the options set by pl_ssh_set, then the host and arguments.
pl_ssh_run() {
	n=$PL_SSH_ARGS_N
	while [ "$n" -gt 0 ]; do
		eval "set -- \"\$PL_SSH_A$n\" \"\$@\""
		n=$((n - 1))
	done
	"$PL_SSH" "$@"
}

# Step 9: reachable through the proxy, guest has what the gate needs; on
# failure PL_SSH_ERR holds the last reason (the proxy's, when it refused).
pl_ssh_ready() {
	pl_ssh_set "$PL_DIR" "$PL_HOST" "$PL_PORT" accept-new "$PL_L"
	i=0
	while [ "$i" -lt "$CF_SSH_TRIES" ]; do
		pl_check_interrupt
		if pl_ssh_run "$PL_HOST" 'command -v curl >/dev/null && command -v sha512sum >/dev/null && command -v base64 >/dev/null && echo phala-lease-ready' \
			</dev/null >"$PL_TMP/ready.out" 2>"$PL_TMP/ready.err" && grep -qx phala-lease-ready "$PL_TMP/ready.out"; then
			pl_step "ssh reachable"
			return 0
		fi
		i=$((i + 1))
		# The proxy's own line names a refused certificate; ssh's last
		# line would only say that the connection closed.
		PL_SSH_ERR=$(grep '^phala-proxy:' "$PL_TMP/ready.err" | tail -n 1)
		[ -n "$PL_SSH_ERR" ] || PL_SSH_ERR=$(tail -n 1 "$PL_TMP/ready.err")
		pl_step "ssh not ready yet ($i/$CF_SSH_TRIES): $PL_SSH_ERR"
		sleep "$CF_POLL"
	done
	return 1
}

# report_data = SHA-512(tag ":" || nonce || host key blob), hex - the same
# code the guest runs.
pl_report_data() { sh "$PL_SHARE/guest-evidence.sh" report-data "$1" "$PL_TAG" "$2"; }

# The gate (§1.2). Returns 1 with PL_ATTEST_ERR on any failure.
pl_attest_gate() {
	compose=$1
	ev=$PL_TMP/evidence
	mkdir -m 700 "$ev"
	blob=$(awk -v a="$PL_TOOL-$PL_L" '$1 == a && $2 == "ssh-ed25519" { print $3 }' "$PL_DIR/known_hosts")
	[ -n "$blob" ] || { PL_ATTEST_ERR="no ed25519 host key recorded for $PL_HOST"; return 1; }
	[ "$(printf '%s\n' "$blob" | wc -l)" -eq 1 ] || { PL_ATTEST_ERR="several host keys recorded"; return 1; }
	nonce=$(pl_random_hex 32)
	rd=$(pl_report_data "$nonce" "$blob")
	pl_step "attestation: fetching a fresh quote"
	pl_ssh_set "$PL_DIR" "$PL_HOST" "$PL_PORT" yes "$PL_L"
	pl_ssh_run "$PL_HOST" "sh -s quote $nonce $PL_TAG" <"$PL_SHARE/guest-evidence.sh" >"$ev/quote.json" 2>"$ev/quote.err" ||
		{ PL_ATTEST_ERR="GetQuote in the guest failed: $(tail -n 1 "$ev/quote.err")"; return 1; }
	i=0
	while :; do
		pl_ssh_run "$PL_HOST" "sh -s info" <"$PL_SHARE/guest-evidence.sh" >"$ev/info.json" 2>"$ev/info.err" ||
			{ PL_ATTEST_ERR="Info in the guest failed: $(tail -n 1 "$ev/info.err")"; return 1; }
		# value, not get: a PEM chain holds newlines, which get refuses.
		[ -n "$(pj --embedded value "$ev/info.json" app_cert 2>/dev/null)" ] && break
		i=$((i + 1))
		[ "$i" -lt 5 ] || { PL_ATTEST_ERR="Info has no app_cert after $i tries"; return 1; }
		sleep "$CF_POLL"
	done
	pl_verify_evidence "$ev/info.json" "$ev/quote.json" "$PL_APP" "$compose" "$rd" >"$ev/verify.out" 2>&1 ||
		{ PL_ATTEST_ERR=$(tail -n 1 "$ev/verify.out"); cat "$ev/verify.out" >&2; return 1; }
	C_LEASE=$PL_L C_REV=$(claim_field "$PL_L" revision)
	set --
	while IFS='=' read -r k v; do set -- "$@" "evidence_$k=$v"; done <"$ev/verify.out"
	claim_cas "$@" evidence_nonce="$nonce"
	acpi="the ACPI tables' digests from the event log, not verified"
	[ "$PL_IMAGE_ACPI" != list ] || acpi="the ACPI tables' digests matched in $CF_ACPI_LIST"
	pl_step "attestation: image $PL_IMAGE_NAME ($PL_IMAGE_HASH): MRTD and RTMR0-2 recomputed from its $PL_IMAGE_KIND material equal the quote's; $acpi"
	pl_step "attestation passed ($PL_DCAP_SAID)"
}

# pl_verify_evidence INFO QUOTE APP_ID COMPOSE REPORT_DATA: every check of
# §1.2 that needs no network but DCAP collateral and the OS image (unless it
# is cached or the evidence carries its lite material); prints key=value
# evidence on success, "verify: ..." failure lines and returns 1 otherwise.
pl_verify_evidence() {
	info=$1 quote=$2 app=$3 compose=$4 rd=$5
	d=$PL_TMP/verify
	rm -rf "$d"; mkdir -m 700 "$d"
	pl_is_hex40 "${app#app_}" || { echo "verify: expected app id '$app' is not 40 hex digits"; return 1; }
	replay=$(pl_tool tdx-rtmr-replay) || { echo "verify: tdx-rtmr-replay not found"; return 1; }
	pj --embedded value "$quote" quote >"$d/quote.hex" 2>"$d/err" || { echo "verify: GetQuote answer has no quote"; return 1; }
	pj --embedded get "$info" tcb_info >/dev/null 2>&1 || true
	# Info (full log): RTMR0-3 replay vs tcb_info and the fresh quote; app-id
	# and compose identity; REPORTDATA binding of the fresh quote.
	"$replay" --json --app-id "$app" --compose "$compose" --quote "$d/quote.hex" --report-data "$rd" "$info" \
		>"$d/replay.json" 2>"$d/replay.err" || {
		sed 's/^/verify: /' "$d/replay.err"
		return 1
	}
	# The quote's own (stripped) event log replays too.
	"$replay" --json --app-id "$app" --report-data "$rd" "$quote" >"$d/replay2.json" 2>"$d/replay2.err" || {
		sed 's/^/verify: quote log: /' "$d/replay2.err"
		return 1
	}
	pl_compose_policy "$info" "$d" || return 1
	# The image: allowed before DCAP or any download, recomputed after DCAP.
	pl_image_allowed "$info" "$quote" "$d" || return 1
	pl_dcap "$d/quote.hex" "$d" || return 1
	pl_image_measure "$quote" "$d" || return 1
	pl_image_pinned "$d" || return 1
	# Evidence, full length.
	{
		printf 'mrtd=%s\n' "$(pj get "$d/tcb.json" mrtd)"
		for r in 0 1 2 3; do printf 'rtmr%s=%s\n' "$r" "$(pj get "$d/replay.json" "rtmr$r.value")"; done
		printf 'compose_hash=%s\n' "$(pj get "$d/replay.json" named_events.compose-hash)"
		printf 'os_image_hash=%s\n' "$PL_IMAGE_HASH"
		printf 'image=%s\nimage_name=%s\nacpi=%s\n' "$PL_IMAGE_KIND" "$PL_IMAGE_NAME" "$PL_IMAGE_ACPI"
		printf 'app_id=%s\n' "$(pj get "$d/replay.json" named_events.app-id)"
		printf 'quote_sha256=%s\n' "$(sh "$PL_SHARE/guest-evidence.sh" unhex "$(cat "$d/quote.hex")" | sha256sum | cut -d' ' -f1)"
	}
}

# Whole-app_compose policy: pre-launch script absent or allow-listed by
# SHA-256, allowed_envs exactly ["DSTACK_AUTHORIZED_KEYS"], gateway on.
pl_compose_policy() {
	info=$1 d=$2
	pj --embedded value "$info" tcb_info >"$d/tcb.json" 2>/dev/null || { echo "verify: Info has no tcb_info"; return 1; }
	pj value "$d/tcb.json" app_compose >"$d/app_compose.json" 2>/dev/null || { echo "verify: tcb_info has no app_compose"; return 1; }
	envs=$(pj value "$d/app_compose.json" allowed_envs 2>/dev/null | tr -d ' \n') || envs=''
	[ "$envs" = '["DSTACK_AUTHORIZED_KEYS"]' ] || { echo "verify: app_compose allowed_envs is '$envs', expected [\"DSTACK_AUTHORIZED_KEYS\"]"; return 1; }
	[ "$(pj get "$d/app_compose.json" gateway_enabled)" = true ] || { echo "verify: app_compose gateway_enabled is not true"; return 1; }
	if pj value "$d/app_compose.json" pre_launch_script >"$d/prelaunch" 2>"$d/err"; then rc=0; else rc=$?; fi
	[ "$rc" -le 1 ] || { echo "verify: app_compose: $(cat "$d/err")"; return 1; }
	if [ "$rc" -eq 0 ]; then
		h=$(sha256sum <"$d/prelaunch" | cut -d' ' -f1)
		if [ ! -f "$CF_PRELAUNCH" ] || ! grep -v '^#' "$CF_PRELAUNCH" | grep -qx "$h"; then
			echo "verify: pre_launch_script sha256 $h is not in the allow-list $CF_PRELAUNCH"
			return 1
		fi
	fi
	return 0
}

# DCAP: collateral supplied (collateral=FILE) or fetched from the PCCS with
# tdx-collateral-fetch; failing to get it fails unless dcap=reduced.
# PL_DCAP_SAID: what the verification established, for the gate's verdict.
pl_dcap() {
	q=$1 d=$2
	dcap=$(pl_tool tdx-dcap-verify) || { echo "verify: tdx-dcap-verify not found: quote signature and TCB not verified"; return 1; }
	if [ "$CF_DCAP" = reduced ]; then
		if ! "$dcap" --accept "${PHALA_LEASE_DCAP_REDUCED_WORD:-NoCollateral}" "$q" >"$d/dcap.out" 2>&1; then
			sed 's/^/verify: dcap: /' "$d/dcap.out"
			echo "verify: dcap: tdx-dcap-verify rejected the quote (reduced mode)"
			return 1
		fi
		PL_DCAP_SAID="DCAP reduced: quote and PCK chain verified; TCB status, CRLs and QE identity not evaluated"
		pl_dcap_root "$d"
		return 0
	fi
	coll=$CF_COLLATERAL
	if [ -z "$coll" ]; then
		fetch=$(pl_tool tdx-collateral-fetch) || { echo "verify: tdx-collateral-fetch not found and no collateral given"; return 1; }
		coll=$d/collateral.json
		set -- -o "$coll"
		[ -z "$CF_PCCS" ] || set -- --pccs "$CF_PCCS" "$@"
		if ! "$fetch" "$@" "$q" >"$d/fetch.out" 2>&1; then
			sed 's/^/verify: collateral: /' "$d/fetch.out"
			echo "verify: collateral: cannot fetch from ${CF_PCCS:-Intel PCS} (set dcap = reduced to accept a verification without it)"
			return 1
		fi
	fi
	if ! "$dcap" --collateral "$coll" "$q" >"$d/dcap.out" 2>&1; then
		sed 's/^/verify: dcap: /' "$d/dcap.out"
		echo "verify: dcap: tdx-dcap-verify rejected the quote"
		return 1
	fi
	st=$(sed -n 's/^status: //p' "$d/dcap.out" | head -n 1)
	PL_DCAP_SAID="DCAP: quote, PCK chain and collateral verified, TCB status ${st:+$st }accepted"
	pl_dcap_root "$d"
}

# A verification against another root than the pinned Intel one (a test
# root) is said in the verdict: it proves the pipeline, not the hardware.
pl_dcap_root() {
	if grep -q 'not the pinned Intel SGX Root CA' "$1/dcap.out"; then
		PL_DCAP_SAID="$PL_DCAP_SAID; root: NOT the pinned Intel root"
	fi
}

# ---- the OS image (issue 11) -------------------------------------------------
# An image is allowed by its release identity, os_image_hash (SHA-256 of the
# image build's sha256sum.txt), and trusted only when MRTD and RTMR0-2
# recomputed from that image (tdx-measure) equal the fresh quote's. Register
# tuples are only an optional pin on top (pinned_registers).

pl_is_hex64() { case $1 in *[!0-9a-f]*) return 1 ;; esac; [ ${#1} -eq 64 ]; }

# pl_image_allowed INFO QUOTE D: the claimed os_image_hash (PL_IMAGE_HASH)
# stated alike everywhere and named in the allowed-image list
# (PL_IMAGE_NAME). Needs no network: it runs before DCAP and before any
# download.
pl_image_allowed() {
	info=$1 quote=$2 d=$3
	PL_IMAGE_HASH=$(pj --embedded get "$info" os_image_hash 2>/dev/null) || PL_IMAGE_HASH=''
	pl_is_hex64 "$PL_IMAGE_HASH" || { echo "verify: Info names no os_image_hash (64 hex digits): '$PL_IMAGE_HASH'"; return 1; }
	pj --embedded value "$info" vm_config >"$d/vm_config.info" 2>/dev/null || { echo "verify: Info has no vm_config"; return 1; }
	pj --embedded value "$quote" vm_config >"$d/vm_config.quote" 2>/dev/null || rm -f "$d/vm_config.quote"
	# Every statement of it: Info's vm_config (the host's), tcb_info, the
	# GetQuote answer's vm_config, RTMR3's os-image-hash event (the guest's).
	pl_image_same "Info's vm_config" "$d/vm_config.info" os_image_hash required &&
		pl_image_same tcb_info "$d/tcb.json" os_image_hash &&
		pl_image_same "the GetQuote answer's vm_config" "$d/vm_config.quote" os_image_hash &&
		pl_image_same "RTMR3's os-image-hash event" "$d/replay.json" named_events.os-image-hash &&
		pl_image_listed "$CF_IMAGES" "$PL_IMAGE_HASH"
}

# pl_image_same WHAT FILE PATH [required]: FILE's PATH, when FILE and the
# value are there (always with "required"), is PL_IMAGE_HASH.
pl_image_same() {
	[ -f "$2" ] || return 0
	h=$(pj get "$2" "$3" 2>/dev/null) || { echo "verify: $1: malformed"; return 1; }
	[ -n "$h" ] || [ "${4:-}" = required ] || return 0
	[ "$h" = "$PL_IMAGE_HASH" ] && return 0
	echo "verify: os_image_hash: Info says $PL_IMAGE_HASH, $1 says '$h'"
	return 1
}

# pl_image_entries FILE: FILE's entries, "<os_image_hash> <name>" a line, in
# file order; blank lines and # comments skipped. A line of register tuples
# (the list's old format) is refused with where they go now, any other line
# that is not an entry as malformed: a "verify: ..." line and status 1.
pl_image_entries() {
	f=$1
	[ -f "$f" ] || { echo "verify: allowed-image list $f missing"; return 1; }
	r=$(awk '
		function hex(s, n) { return length(s) == n && s !~ /[^0-9a-f]/ }
		/^[ \t]*(#|$)/ { next }
		NF == 4 && hex($1, 96) && hex($2, 96) && hex($3, 96) && hex($4, 96) { print "!tuple " NR; exit }
		NF != 2 || !hex($1, 64) { print "!bad " NR; exit }
		{ print $1, $2 }' "$f") || { echo "verify: allowed-image list $f: unreadable"; return 1; }
	case $(printf '%s\n' "$r" | tail -n 1) in
	'!tuple '*)
		echo "verify: allowed-image list $f, line ${r##*!tuple }: an MRTD RTMR0 RTMR1 RTMR2 tuple, the list's old format; it now holds release identities, '<os_image_hash> <name>' lines, whose registers the gate recomputes from the image; to pin register tuples as well, put them in a file of their own named by pinned_registers (see $PL_SHARE/pinned-registers)"
		return 1 ;;
	'!bad '*)
		echo "verify: allowed-image list $f, line ${r##*!bad }: not '<os_image_hash> <name>' (64 hex digits, then one word)"
		return 1 ;;
	esac
	[ -z "$r" ] || printf '%s\n' "$r"
}

# pl_image_listed FILE HASH: PL_IMAGE_NAME, the name FILE gives HASH.
pl_image_listed() {
	f=$1 h=$2
	r=$(pl_image_entries "$f") || { printf '%s\n' "$r"; return 1; }
	PL_IMAGE_NAME=$(printf '%s\n' "$r" | awk -v h="$h" '$1 == h { print $2; exit }')
	[ -n "$PL_IMAGE_NAME" ] && return 0
	echo "verify: os_image_hash $h is not in the allowed-image list $f; to allow a release, review it (phala-lease images --service lists the service's release identities) and add the line '$h NAME' to a list of your own, named by allowed_images in your config (or PHALA_LEASE_ALLOWED_IMAGES)"
	return 1
}

# pl_image_pinned D: with pinned_registers, the fresh quote's MRTD and
# RTMR0-2 (as tdx-measure read them) must be one of its "MRTD RTMR0 RTMR1
# RTMR2" lines.
pl_image_pinned() {
	[ -n "$CF_PINNED" ] || return 0
	[ -f "$CF_PINNED" ] || { echo "verify: pinned-register list $CF_PINNED missing"; return 1; }
	{ read -r m; read -r r0; read -r r1; read -r r2; } <<EOF
$(pj get "$1/measure.json" quote.mrtd quote.rtmr0 quote.rtmr1 quote.rtmr2)
EOF
	r=$(awk -v m="$m" -v a="$r0" -v b="$r1" -v c="$r2" '
		function hex(s) { return length(s) == 96 && s !~ /[^0-9a-f]/ }
		/^[ \t]*(#|$)/ { next }
		NF != 4 || !hex($1) || !hex($2) || !hex($3) || !hex($4) { print "bad " NR; bad = 1; exit }
		$1 == m && $2 == a && $3 == b && $4 == c { f = 1 }
		END { if (!bad && f) print "pinned" }' "$CF_PINNED") || { echo "verify: pinned-register list $CF_PINNED: unreadable"; return 1; }
	case $r in
	pinned) return 0 ;;
	bad*) echo "verify: pinned-register list $CF_PINNED, line ${r#bad }: not 'MRTD RTMR0 RTMR1 RTMR2' (96 hex digits each)" ;;
	*) echo "verify: the quote's MRTD $m RTMR0 $r0 RTMR1 $r1 RTMR2 $r2 are not pinned in $CF_PINNED (pinned_registers)" ;;
	esac
	return 1
}

# pl_image_measure QUOTE D: tdx-measure on the GetQuote answer - its fresh
# quote, its log (the ACPI digests, the events to name), its vm_config, else
# Info's - with the lite material when that vm_config carries it, else the
# image os_image_hash names, from the cache or fetched into it from the
# trusted template (verified before use either way). All four registers must
# equal the quote's. Sets PL_IMAGE_KIND (lite|full) and PL_IMAGE_ACPI (log:
# the ACPI tables' digests taken from the log, not verified; list: matched in
# the acpi_list).
pl_image_measure() {
	quote=$1 d=$2
	measure=$(pl_tool tdx-measure) || { echo "verify: tdx-measure not found: the image's registers cannot be recomputed"; return 1; }
	set -- --json
	[ -z "$CF_ACPI_LIST" ] || set -- "$@" --acpi "$CF_ACPI_LIST"
	vm=$d/vm_config.quote
	[ -f "$vm" ] || { vm=$d/vm_config.info; set -- "$@" --vm-config "$vm"; }
	if ! pj value "$vm" tdx_measurement >/dev/null 2>&1; then
		set -- "$@" --fetch
		[ -z "$CF_IMAGE_CACHE" ] || set -- "$@" --cache "$CF_IMAGE_CACHE"
	fi
	set -- "$measure" "$@" "$quote"
	[ -z "$CF_IMAGE_URL" ] || set -- env "TDX_MEASURE_IMAGE_URL=$CF_IMAGE_URL" "$@"
	if "$@" >"$d/measure.json" 2>"$d/measure.err"; then rc=0; else rc=$?; fi
	{ read -r ok; read -r PL_IMAGE_KIND; read -r PL_IMAGE_ACPI; read -r first; read -r err; } <<EOF
$(pj get "$d/measure.json" ok image acpi first_difference.message error 2>/dev/null)
EOF
	[ "$rc" -ne 0 ] || [ "$ok" != true ] || return 0
	if [ -n "$first" ]; then
		# Every difference, then the first one as the reason.
		sed -n 's/^tdx-measure: /verify: image: /p' "$d/measure.err"
		echo "verify: the quote's registers are not those of image $PL_IMAGE_NAME ($PL_IMAGE_HASH): $first"
	elif [ "$rc" -eq 5 ]; then
		echo "verify: image $PL_IMAGE_NAME ($PL_IMAGE_HASH) could not be fetched: ${err:-tdx-measure exit 5}"
	else
		echo "verify: image $PL_IMAGE_NAME ($PL_IMAGE_HASH): ${err:-tdx-measure failed (exit $rc)}"
	fi
	return 1
}

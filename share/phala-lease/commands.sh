# shellcheck shell=sh disable=SC2034,SC2153,SC2154 # variables shared by the sourced helpers; OPT_* set by pl_getopts
# Commands other than acquire, their usage texts, and the entry point.

# The commands, in the order --help lists them. A new command adds its name
# here, its usage to pl_usage_text and a pl_<name> function (dashes as
# underscores) that starts with pl_getopts and pl_setup (common.sh).
PL_COMMANDS='doctor acquire run status list ssh ssh-config release cleanup images attest-verify'

# pl_usage_text CMD: the usage of CMD ('' the whole tool), for --help.
pl_usage_text() {
	case $1 in
	'')
		printf 'usage: phala-lease [--phala PATH] [--node N] COMMAND [ARGS]\n'
		printf '       phala-lease --help | --version\n'
		for c in $PL_COMMANDS; do pl_usage_text "$c" | sed -n '1s/^usage: phala-lease /  /p; 2,/^  -/{/^  -/!s/^/  /p}'; done
		printf 'phala-lease COMMAND --help describes one command and its options.\n'
		printf 'LEASE is a lease id, an app id or a slug. Durations: %s.\n' "$PL_DURATION_FORMS"
		printf 'Exit: 0 ok, 1 runtime failure, 2 usage/config/claim changed, 4 refused or\n'
		printf 'not found, 5 malformed CLI output or timeout, else the phala CLI status.\n'
		return 0 ;;
	doctor) cat <<'EOT' ;;
usage: phala-lease doctor [--json]
  checks the phala CLI, the login (whoami), the inventory listing and the tools
  --json         the findings as one JSON object
EOT
	acquire) cat <<EOT ;;
usage: phala-lease acquire [--ttl D] [--idle D] [--keep] [--slug S] [-t TYPE]
         [-c COMPOSE] [--node N] [--no-attest] [--json]
  leases an attested CVM; prints "lease=L [slug=S] app_id=ID host=H port=P"
  --ttl D        lifetime (default 90m, at least 1m; forms: $PL_DURATION_FORMS)
  --idle D       reaped after D without use (default 30m, at least 1m)
  --keep         cleanup never reaps it, a failure other than attestation keeps it
  --slug S       a name for the lease ([a-z0-9-], at most 40): used exactly or refused
  -t, --type T   instance type (default tdx.small)
  -c, --compose F  the compose file to deploy (default: the built-in one)
  --node N       pin to a node (numeric id)
  --no-attest    no attestation gate; recorded in the claim, use then needs none
  --json         the result as one JSON object
EOT
	run) cat <<EOT ;;
usage: phala-lease run [ACQUIRE OPTIONS | --lease LEASE] [--sync DIR] [--exclude P]
         [--env NAME[=VALUE]] [--fetch REMOTE[:DIR]] [--summary FILE] [-t|-T] [-q]
         [--] COMMAND [ARG...]
  the whole job: a lease, a work root on the guest, the sync, COMMAND (its
  arguments exactly, no shell), the fetch, the release; exits with COMMAND's status
  --ttl D --idle D --keep --slug S --type T -c F --node N --no-attest
                 acquire's options (-t is --type's short form only for acquire)
  --lease LEASE  use this usable lease (id, app id or slug); never released by run
  --sync DIR     the directory to send (default .); in a git work tree what
                 git ls-files --cached --others --exclude-standard lists
  --exclude P    an rsync exclude pattern, a directory with its contents (repeatable)
  --env NAME[=VALUE]  a variable for COMMAND, its value from this environment or
                 given (repeatable; values go over ssh's stdin, never in an argv)
  --fetch REMOTE[:DIR]  copy REMOTE (relative to the work root) into DIR (default .)
                 after COMMAND, also when it failed (repeatable; missing: a warning)
  --summary FILE one JSON object about the job, written atomically, also on failure
  -t, --tty      force a terminal (default: one only when stdin and stdout are terminals)
  -T, --no-tty   no terminal
  -q, --quiet    no progress lines (errors and warnings still on stderr)
EOT
	status) cat <<'EOT' ;;
usage: phala-lease status [--json] [--wait] LEASE
  the claim and the live CVM status (read-only); exit 0 usable or on its way,
  1 failed, 4 gone, 5 live status unknown
  --wait         wait (ready_timeout) until the lease is usable or has failed
  --json         one JSON object
EOT
	list) cat <<'EOT' ;;
usage: phala-lease list [--json]
  the leases of this account scope with their live status and expiry
  --json         one JSON object {"leases": [...]}
EOT
	ssh) cat <<'EOT' ;;
usage: phala-lease ssh LEASE [COMMAND...]
  runs COMMAND (or a login shell) on a usable lease; counts as use
EOT
	ssh-config) cat <<'EOT' ;;
usage: phala-lease ssh-config [--path] [LEASE]
  ssh_config Host blocks (LEASE.phala, SLUG.phala) of the usable leases, or of one;
  phala-lease keeps them current in a file to Include from ~/.ssh/config
  --path         print the path of that file
EOT
	release) cat <<'EOT' ;;
usage: phala-lease release [--app-id ID] LEASE
  destroys the lease's CVM through the ownership gate and removes the claim
  --app-id ID    refuse unless the claim is for this app id
EOT
	cleanup) cat <<'EOT' ;;
usage: phala-lease cleanup [--dry-run]
  the expiry sweep (for cron or a systemd timer)
  --dry-run      print what would be destroyed or removed; change nothing
EOT
	images) cat <<'EOT' ;;
usage: phala-lease images [--service] [--json]
  the OS image releases the attestation gate accepts (os_image_hash and name,
  from the allowed-images list) and how to add one
  --service      also the service's releases (phala os-images), each marked
                 allowed or not: offered for review, never trusted for being listed
  --json         one JSON object
EOT
	attest-verify) cat <<'EOT' ;;
usage: phala-lease attest-verify --info F --quote F --app-id ID --compose F
         --report-data HEX [--collateral F] [--reduced]
  the offline checks of the attestation gate on evidence files
  --info F         a guest agent Info answer
  --quote F        a GetQuote answer
  --app-id ID      the app id the evidence must attest
  --compose F      the compose it must attest
  --report-data HEX  the expected REPORTDATA (128 hex digits)
  --collateral F   DCAP collateral (else fetched)
  --reduced        DCAP without collateral (dcap = reduced)
EOT
	*) return 1 ;;
	esac
}

# Resolves an identifier to a lease id (U2): exact lease id, then app id,
# then slug; several slug matches are ambiguous (exit 2).
pl_resolve() {
	id=${1#app_}
	if pl_is_lease "$id" && claim get "$id" lease_id >/dev/null 2>&1; then
		printf '%s\n' "$id"; return 0
	fi
	claim --json list >"$PL_TMP/resolve.json" || pl_die 4 "phala-claim list failed"
	tab=$(printf '\t')
	pj items "$PL_TMP/resolve.json" claims lease_id app_id slug >"$PL_TMP/resolve"
	if pl_is_hex40 "$id"; then
		l=$(awk -F "$tab" -v a="$id" '$2 == a { print $1 }' "$PL_TMP/resolve")
		[ -z "$l" ] || { printf '%s\n' "$l" | head -n 1; return 0; }
	fi
	n=$(awk -F "$tab" -v s="$id" '$3 == s' "$PL_TMP/resolve" | wc -l)
	[ "$n" -le 1 ] || pl_die 2 "'$1' matches $n leases by slug; use the lease id"
	[ "$n" -eq 1 ] || pl_die 4 "no local claim for lease $1"
	awk -F "$tab" -v s="$id" '$3 == s { print $1 }' "$PL_TMP/resolve"
}

pl_doctor() {
	pl_getopts doctor '--json' '' "$@"
	shift "$PL_SHIFT"
	pl_setup
	run_phala --version
	[ "$PL_RC" -eq 0 ] || pl_die "$PL_RC" "phala --version: $(pl_cli_error)"
	version=$(head -n 1 "$PL_OUT")
	pl_whoami
	pl_list_all
	cvms=$(wc -l <"$PL_TMP/inventory" | tr -d ' ')
	found=''
	for t in phala-claim phala-json phala-proxy tdx-rtmr-replay tdx-dcap-verify tdx-collateral-fetch tdx-measure ssh ssh-keygen; do
		p=$(pl_tool "$t") || p=MISSING
		found="$found$t	$p
"
	done
	if [ -n "$OPT_json" ]; then
		set --
		while IFS='	' read -r t p; do
			[ -n "$t" ] || continue
			[ "$p" != MISSING ] || p=''
			set -- "$@" "s:$t=$p"
		done <<EOF
$found
EOF
		tools=$(pl_jobject "$@")
		pl_jobject s:phala_version="$version" s:workspace="$PL_SCOPE_WS" s:api="$PL_SCOPE_API" s:node="$PL_SCOPE_NODE" \
			n:cvms="$cvms" j:tools="$tools" b:attestation="$CF_ATTEST"
		return 0
	fi
	printf 'phala: %s\n' "$version"
	printf 'account: workspace=%s api=%s node=%s\n' "$PL_SCOPE_WS" "$PL_SCOPE_API" "${PL_SCOPE_NODE:-none}"
	printf 'cvms: %s listed\n' "$cvms"
	printf '%s' "$found" | while IFS='	' read -r t p; do printf 'tool: %s %s\n' "$t" "$p"; done
	printf 'attestation: %s\n' "$([ "$CF_ATTEST" = 1 ] && echo on || echo "OFF ($CF_ATTEST_SRC)")"
}

# Full paginated inventory into $PL_TMP/inventory (appId TAB cvmName TAB
# status); any failure aborts before action (T3, T5).
pl_list_all() {
	: >"$PL_TMP/inventory"
	page=1 total='' pages=''
	while :; do
		run_phala cvms list --page "$page" --page-size 100 --json
		[ -s "$PL_OUT" ] || pl_die "$([ "$PL_RC" -ne 0 ] && echo "$PL_RC" || echo 5)" "cvms list page $page: empty output; nothing done"
		if ! pl_ok_json; then
			rc=$PL_RC; [ "$rc" -ne 0 ] || rc=5
			pl_die "$rc" "cvms list page $page: $(pl_cli_error); nothing done"
		fi
		{ read -r t; read -r tp; } <<EOF
$(pj --embedded get "$PL_OUT" total totalPages)
EOF
		{ pl_is_uint "$t" && pl_is_uint "$tp"; } || pl_die 5 "cvms list page $page: no total/totalPages; nothing done"
		if [ -n "$total" ] && { [ "$t" != "$total" ] || [ "$tp" != "$pages" ]; }; then
			pl_die 5 "cvms list: total/totalPages changed between pages; nothing done"
		fi
		total=$t pages=$tp
		pj --embedded items "$PL_OUT" items appId cvmName status >"$PL_TMP/page" 2>"$PL_TMP/page.err" ||
			pl_die 5 "cvms list page $page: $(cat "$PL_TMP/page.err"); nothing done"
		tab=$(printf '\t')
		while IFS="$tab" read -r a _ _; do
			pl_is_hex40 "${a#app_}" || pl_die 5 "cvms list page $page: an item without a valid appId; nothing done"
			! cut -f1 "$PL_TMP/inventory" | grep -qxF "${a#app_}" ||
				pl_die 5 "cvms list: appId $a repeated across pages; nothing done"
		done <"$PL_TMP/page"
		sed 's/^app_//' "$PL_TMP/page" >>"$PL_TMP/inventory"
		[ "$page" -lt "$tp" ] || break
		page=$((page + 1))
	done
}

# The verdict on the loaded claim given its live status LIVE: PL_VERDICT is
# usable, pending (on its way: creating, provisioning, or the live status
# not known), failed (recovery label, stopped/error, being released) or gone
# (the CVM proven absent); PL_WHY says why it is not usable.
pl_verdict() {
	live=$1 PL_WHY=''
	if [ -n "$C_RECOVERY" ]; then PL_VERDICT=failed PL_WHY="recovery=$C_RECOVERY (release it)"
	elif [ "$live" = absent ]; then PL_VERDICT=gone PL_WHY="its CVM no longer exists (deleted outside phala-lease; release removes the claim)"
	elif [ "$live" = stopped ] || [ "$live" = error ]; then PL_VERDICT=failed PL_WHY="CVM $live"
	elif [ "$C_STATE" = releasing ]; then PL_VERDICT=failed PL_WHY="being released"
	elif [ "$C_STATE" != ready ]; then PL_VERDICT=pending PL_WHY="state $C_STATE"
	elif [ "$C_ATTEST_REQ" = true ] && [ "$C_ATTESTED" != true ]; then PL_VERDICT=failed PL_WHY="not attested"
	elif [ "$live" != running ]; then PL_VERDICT=pending PL_WHY="live ${live:-unknown}"
	else PL_VERDICT=usable; fi
}

# Expired for the sweep (§5): keep never is; provisioning only after the margin.
pl_expired() {
	pl_is_uint "$C_EXPIRES" || return 1
	[ "$(pl_now)" -gt "$C_EXPIRES" ]
}

pl_status() {
	pl_getopts status '--json --wait' LEASE "$@"
	shift "$PL_SHIFT"
	pl_setup
	lease=$(pl_resolve "$1")
	t0=$(date +%s)
	t_end=$((t0 + CF_READY_TIMEOUT))
	said=''
	while :; do
		# Read-only: the claim (acquire may be moving it on) and one get.
		if claim_load "$lease"; then :; else
			rc=$?
			[ "$rc" -ne 2 ] || exit 2
			pl_die 4 "no local claim for lease $lease${said:+ any more (its acquire failed and rolled back, or it was released)}"
		fi
		live=unknown
		if [ -n "$C_APP" ]; then
			if pl_get "$C_APP"; then live=$G_STATUS; elif [ $? -eq 3 ]; then live=absent; else live="unknown ($PL_GATE_ERR)"; fi
		elif [ "$C_STATE" = creating ]; then live=not-created-yet
		fi
		pl_verdict "$live"
		[ -n "$OPT_wait" ] || break
		case $PL_VERDICT in usable | failed | gone) break ;; esac
		if [ "$(date +%s)" -ge "$t_end" ]; then
			PL_WHY="not usable after waiting $(pl_human_secs "$CF_READY_TIMEOUT") (ready_timeout): $PL_WHY"
			PL_VERDICT=timeout
			break
		fi
		[ -n "$said" ] || pl_say "lease $lease: waiting until it is usable ($PL_WHY)"
		said=1
		sleep "$CF_POLL"
	done
	state=$C_STATE
	case $live in stopped | error) state=$live ;; esac
	expired=false
	! pl_expired || expired=true
	if [ -n "$OPT_json" ]; then
		pl_jobject s:lease_id="$lease" s:slug="$C_SLUG" s:name="$C_NAME" s:app_id="$C_APP" s:vm_uuid="$C_VM" \
			s:state="$state" s:recovery="$C_RECOVERY" s:live_status="$live" \
			b:usable="$([ "$PL_VERDICT" = usable ] && echo true)" s:reason="$PL_WHY" b:keep="$C_KEEP" \
			b:attested="$C_ATTESTED" b:attestation_required="$C_ATTEST_REQ" s:gateway_host="$C_HOST" \
			n:gateway_port="$C_PORT" n:created_at="$C_CREATED" n:ttl_secs="$C_TTL" n:idle_secs="$C_IDLE" \
			n:last_touched_at="$C_TOUCHED" n:expires_at="$C_EXPIRES" b:expired="$expired"
	else
		host=-
		[ -z "$C_HOST" ] || host=$C_HOST:${C_PORT:-443}
		[ "$C_ATTESTED" = true ] && att=yes || att=no
		[ "$C_ATTEST_REQ" = true ] || att="$att (not required: attestation was off at acquire)"
		if [ "$C_KEEP" = true ]; then keep="yes: cleanup never reaps it, whatever its expiry; release it yourself"
		else keep="no: cleanup destroys it once expired"; fi
		[ "$PL_VERDICT" = usable ] && usable=yes || usable="no: $PL_WHY"
		printf 'lease %s%s\n  name %s\n  app_id %s\n  state %s%s\n  live %s\n  usable %s\n  host %s\n  attested %s\n  keep %s\n  expires %s\n' \
			"$lease" "${C_SLUG:+ ($C_SLUG)}" "$C_NAME" "${C_APP:--}" "$state" "${C_RECOVERY:+ (recovery=$C_RECOVERY)}" \
			"$live" "$usable" "$host" "$att" "$keep" "$(pl_when "$C_EXPIRES")"
	fi
	if [ -n "$OPT_wait" ]; then
		case $PL_VERDICT in
		usable) pl_say "lease $lease is usable (after $(($(date +%s) - t0))s)" ;;
		*) pl_say "lease $lease is not usable: $PL_WHY" ;;
		esac
	fi
	case $PL_VERDICT in
	usable) return 0 ;;
	pending) case $live in unknown\ \(*) return 5 ;; esac; return 0 ;;
	failed) return 1 ;;
	gone) return 4 ;;
	timeout) return 5 ;;
	esac
}

pl_list() {
	pl_getopts list '--json' '' "$@"
	shift "$PL_SHIFT"
	pl_setup
	pl_whoami
	pl_list_all
	claim_leases >"$PL_TMP/leases"
	tab=$(printf '\t')
	[ -n "$OPT_json" ] && printf '{"leases":[' || printf 'LEASE\tSLUG\tAPP_ID\tSTATE\tLIVE\tUSABLE\tEXPIRES\tHOST\n'
	first=1
	while read -r l; do
		pl_is_lease "$l" || continue
		claim_load "$l" || continue
		claim_in_scope || continue
		live=missing
		[ -z "$C_APP" ] || live=$(awk -F "$tab" -v a="$C_APP" '$1 == a { print $3; exit }' "$PL_TMP/inventory")
		[ -n "$live" ] || live=missing
		pl_verdict "$live"
		expired=false
		! pl_expired || expired=true
		if [ -n "$OPT_json" ]; then
			[ "$first" = 1 ] || printf ','
			pl_jobject s:lease_id="$l" s:slug="$C_SLUG" s:app_id="$C_APP" s:state="$C_STATE" s:recovery="$C_RECOVERY" \
				s:live_status="$live" b:usable="$([ "$PL_VERDICT" = usable ] && echo true)" b:keep="$C_KEEP" \
				b:attested="$C_ATTESTED" n:expires_at="$C_EXPIRES" b:expired="$expired" s:gateway_host="$C_HOST" \
				n:gateway_port="$C_PORT" | tr -d '\n'
		else
			when=$(pl_when "$C_EXPIRES")
			when=${when#*(}
			when=${when%)}
			[ "$C_KEEP" != true ] || when="kept ($when)"
			[ "$PL_VERDICT" = usable ] && usable=yes || usable=no
			printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$l" "${C_SLUG:--}" "${C_APP:--}" "$C_STATE${C_RECOVERY:+/$C_RECOVERY}" \
				"$live" "$usable" "$when" "${C_HOST:--}"
		fi
		first=0
	done <"$PL_TMP/leases"
	[ -z "$OPT_json" ] || printf ']}\n'
	# O2: ours-by-name CVMs without a claim are diagnostics only.
	while IFS="$tab" read -r a n _; do
		l=$(pl_lease_of_name "$n")
		[ -n "$l" ] || continue
		claim get "$l" lease_id >/dev/null 2>&1 ||
			pl_say "note: CVM $n (app_$a) looks like ours but has no claim; not listed, never touched"
	done <"$PL_TMP/inventory"
}

# U1: usable only when ready, without recovery, attested when its claim
# requires it (the choice made at acquire); then touched.
pl_usable() {
	lease=$(pl_resolve "$1")
	claim_load "$lease" || pl_die 2 "claim $lease unreadable"
	[ -z "$C_RECOVERY" ] || pl_die 4 "lease $lease has recovery=$C_RECOVERY; not usable (release it)"
	[ "$C_STATE" = ready ] || pl_die 4 "lease $lease is $C_STATE, not ready"
	[ "$C_ATTEST_REQ" != true ] || [ "$C_ATTESTED" = true ] || pl_die 4 "lease $lease is not attested; not usable"
	{ [ -n "$C_HOST" ] && [ -n "$C_PORT" ]; } || pl_die 5 "lease $lease has no gateway host"
	# The key never leaves the acquiring machine (the claim names it).
	if [ ! -f "$(pl_lease_dir "$lease")/id_ed25519" ]; then
		m_id=$(claim_field "$lease" machine_id)
		if [ -n "$m_id" ] && [ "$m_id" != "$(pl_machine_id)" ]; then
			pl_die 4 "the key of lease $lease is on machine $(claim_field "$lease" machine_name) (id $m_id); run this there"
		fi
	fi
	# An expired lease is the sweep's, whenever it runs (keep=true is never swept).
	if [ "$C_KEEP" != true ] && pl_is_uint "$C_EXPIRES" && [ "$(pl_now)" -gt "$C_EXPIRES" ]; then
		pl_die 4 "lease $lease expired at $C_EXPIRES; not usable (release it)"
	fi
	pl_touch || pl_warn "lease $lease: touch skipped (claim changed)"
}

# Touch (U3) of the loaded claim (C_*): last_touched_at and expires_at, CAS;
# an exactly matching existing claim only, never created or resurrected.
pl_touch() {
	now=$(pl_now)
	claim set "$C_LEASE" --if-revision "$C_REV" last_touched_at="$now" \
		expires_at="$(pl_expiry "$now" "$C_CREATED" "$C_IDLE" "$C_TTL")" >/dev/null 2>&1
}

pl_ssh() {
	pl_getopts ssh '' 'LEASE [COMMAND...]' "$@"
	shift "$PL_SHIFT"
	pl_setup
	pl_usable "$1"
	shift
	pl_ssh_set "$C_KEYDIR" "$C_HOST" "$C_PORT" yes "$C_LEASE"
	[ $# -gt 0 ] || set -- -t
	if pl_ssh_run "$C_HOST" "$@"; then return 0; else rc=$?; fi
	[ "$rc" -eq 255 ] || return "$rc"
	# ssh itself failed: say so when the CVM is gone or not running (one get).
	if pl_get "$C_APP"; then
		[ "$G_STATUS" = running ] || pl_say "lease $C_LEASE: its CVM app_$C_APP is $G_STATUS"
	elif [ $? -eq 3 ]; then
		pl_die 4 "lease $C_LEASE: its CVM app_$C_APP no longer exists (deleted outside phala-lease); phala-lease release $C_LEASE removes the claim"
	fi
	return "$rc"
}

pl_ssh_config_one() {
	printf 'Host %s.phala%s\n' "$C_LEASE" "${C_SLUG:+ $C_SLUG.phala}"
	printf '  HostName %s\n  Port %s\n  User %s\n' "$C_HOST" "$C_PORT" "$CF_SSH_USER"
	printf '  IdentityFile %s/id_ed25519\n  IdentitiesOnly yes\n' "$C_KEYDIR"
	printf '  UserKnownHostsFile %s\n  StrictHostKeyChecking yes\n' "$C_KNOWN"
	printf '  HostKeyAlias %s-%s\n  HostKeyAlgorithms ssh-ed25519\n' "$PL_TOOL" "$C_LEASE"
	printf '  BatchMode yes\n  ForwardAgent no\n  ForwardX11 no\n  ControlMaster no\n'
	printf '  ServerAliveInterval 15\n  ServerAliveCountMax 4\n'
	printf '  ProxyCommand %s\n\n' "$(pl_proxy_command "$C_HOST" "$C_PORT")"
}

# Every usable lease's Host block, one file to Include.
pl_ssh_config_all() {
	printf '# phala-lease ssh-config: the usable leases, kept current by phala-lease (Include this file)\n'
	claim_leases >"$PL_TMP/leases.ssh"
	while read -r l; do
		pl_is_lease "$l" || continue
		claim_load "$l" || continue
		{ [ -z "$C_RECOVERY" ] && [ "$C_STATE" = ready ] && [ -n "$C_HOST" ]; } || continue
		[ "$C_ATTEST_REQ" != true ] || [ "$C_ATTESTED" = true ] || continue
		pl_ssh_config_one
	done <"$PL_TMP/leases.ssh"
}

# The kept ssh_config ($XDG_STATE_HOME/phala-lease/ssh_config): rewritten
# whole after every change to the usable leases (acquire, release, cleanup,
# rollback), under a lock of its own, atomically (readers see the old file or
# the new one). A failure is a warning: the lease itself is fine.
pl_ssh_config_file() { printf '%s/ssh_config\n' "$(pl_state_dir)"; }
pl_ssh_config_update() {
	_sc=$(pl_ssh_config_file)
	if ! command -v flock >/dev/null 2>&1; then pl_warn "flock not found: $_sc not updated"; return 0; fi
	if ! (umask 077 && mkdir -p "$(dirname "$_sc")" && exec 9>>"$_sc.lock" && flock 9 &&
		pl_ssh_config_all >"$_sc.tmp" && mv -f "$_sc.tmp" "$_sc") 2>"$PL_TMP/sshconf.err"; then
		pl_warn "$_sc not updated: $(tr '\n' ' ' <"$PL_TMP/sshconf.err")"
	fi
	return 0
}

pl_ssh_config() {
	pl_getopts ssh-config '--path' '[LEASE]' "$@"
	shift "$PL_SHIFT"
	pl_setup
	if [ -n "$OPT_path" ]; then
		[ $# -eq 0 ] || pl_usage_error --path "takes no LEASE"
		pl_ssh_config_file
		return 0
	fi
	if [ $# -eq 1 ]; then
		pl_usable "$1"
		pl_ssh_config_one
		return 0
	fi
	pl_ssh_config_update
	pl_ssh_config_all
}

pl_release() {
	pl_getopts release '--app-id=' LEASE "$@"
	shift "$PL_SHIFT"
	pl_setup
	target=$OPT_app_id
	if [ -n "$target" ]; then pl_is_hex40 "${target#app_}" || pl_usage_error --app-id "'$target' is not an app id (40 hex)"; fi
	id=${1#app_}
	# D1/D2 with zero CLI calls: a lease id without a claim, an app id
	# nobody claims.
	if pl_is_lease "$id"; then
		claim get "$id" lease_id >/dev/null 2>&1 || pl_die 4 "no local claim for lease $id"
		lease=$id
	else
		lease=$(pl_resolve "$1")
		! pl_is_hex40 "$id" || target=${target:-$id}
	fi
	pl_locked "$lease" release release "$target"
}

# The sweep (§5).
pl_cleanup() {
	pl_getopts cleanup '--dry-run' '' "$@"
	shift "$PL_SHIFT"
	pl_setup
	PL_DRY=0
	[ -z "$OPT_dry_run" ] || PL_DRY=1
	export PL_DRY
	pl_whoami
	pl_list_all
	claim_leases >"$PL_TMP/leases"
	now=$(pl_now)
	tab=$(printf '\t')
	failed=0
	while read -r l; do
		pl_is_lease "$l" || { pl_say "skip claim '$l': not a lease id"; continue; }
		if claim_load "$l"; then :; else pl_say "skip lease=$l reason=unreadable-claim"; continue; fi
		claim_in_scope || continue
		app=$C_APP
		skip() { printf 'skip app_id=%s lease=%s reason=%s\n' "${app:--}" "$l" "$1" >&2; }
		live=''
		[ -z "$app" ] || live=$(awk -F "$tab" -v a="$app" '$1 == a { print $3; exit }' "$PL_TMP/inventory")
		[ "$C_KEEP" != true ] || { skip keep; continue; }
		[ "$C_RECOVERY" != kept-after-failure ] || { skip kept-after-failure; continue; }
		if [ "$C_RECOVERY" = ambiguous-create ] || { [ "$C_STATE" = creating ] && [ -z "$C_RECOVERY" ]; }; then
			pl_is_uint "$C_CREATED" || { skip "no-created_at"; continue; }
			if [ $((now - C_CREATED)) -lt "$CF_GRACE" ]; then skip "ambiguous create recovery pending"; continue; fi
			if [ -z "$app" ]; then
				pl_search_name "$C_NAME" || pl_die "${PL_GATE_RC:-5}" "$PL_GATE_ERR"
				if [ "$PL_MATCHES" -gt 1 ]; then skip "several CVMs named $C_NAME"; continue; fi
				if [ "$PL_MATCHES" -eq 0 ]; then
					pl_remove_unlisted "$l" "$C_NAME" ambiguous-create-absent ||
						pl_warn "lease $l: no CVM named $C_NAME listed, but absence not proven; claim kept"
					continue
				fi
				if [ "$PL_DRY" = 1 ]; then printf 'would adopt app_id=%s lease=%s\n' "$PL_MATCH" "$l"
				else claim_cas app_id="$PL_MATCH"; fi
				app=$PL_MATCH
				live=$(awk -F "$tab" -v a="$app" '$1 == a { print $3; exit }' "$PL_TMP/inventory")
			fi
			# Adopted: the expiry rules below (an ambiguous create never became ready).
		fi
		reason=''
		if [ "$C_RECOVERY" = rollback-cleanup ]; then reason=rollback-cleanup
		elif [ "$live" = stopped ] || [ "$live" = error ]; then reason=$live
		elif ! pl_is_uint "$C_EXPIRES"; then skip "no expires_at"; pl_warn "lease $l has no expires_at; kept"; continue
		elif [ "$C_STATE" = provisioning ] || [ "$C_STATE" = creating ]; then
			[ "$now" -le $((C_EXPIRES + CF_PROV_MARGIN)) ] || reason='expired-provisioning'
		elif [ "$now" -gt "$C_EXPIRES" ]; then reason=expired
		fi
		if [ -z "$live" ]; then
			# Missing-CVM rule: only proof of absence removes the claim.
			if [ -z "$reason" ]; then mode=absent-only; else mode=cleanup; fi
		elif [ -z "$reason" ]; then
			skip "not expired"; continue
		else
			mode=cleanup
		fi
		if pl_locked "$l" "${reason:-missing}" "$mode" "$app" 2>"$PL_TMP/gate.err"; then
			:
		else
			rc=$?
			cat "$PL_TMP/gate.err" >&2
			if [ "$rc" -eq 4 ]; then skip "ownership refused"; continue; fi
			if [ "$rc" -eq 2 ]; then skip "claim changed"; continue; fi
			failed=$rc
			pl_say "cleanup aborted at lease $l"
			break
		fi
		[ ! -s "$PL_TMP/present" ] || { skip "not listed but present"; rm -f "$PL_TMP/present"; }
	done <"$PL_TMP/leases"
	# O2: ours-by-name without a claim (at the start of the sweep) -
	# diagnostics only.
	while IFS="$tab" read -r a n _; do
		ll=$(pl_lease_of_name "$n")
		[ -n "$ll" ] || continue
		grep -qxF "$ll" "$PL_TMP/leases" ||
			printf 'skip app_id=%s lease=%s reason=ours-by-name-without-claim\n' "$a" "$ll" >&2
	done <"$PL_TMP/inventory"
	return "$failed"
}

pl_attest_verify() {
	pl_getopts attest-verify '--info= --quote= --app-id= --compose= --report-data= --collateral= --reduced' '' "$@"
	shift "$PL_SHIFT"
	pl_setup no-claims
	for o in info quote app_id compose report_data; do
		eval "v=\$OPT_$o"
		[ -n "$v" ] || pl_usage_error "--$(printf '%s' "$o" | tr _ -)" "required"
	done
	[ -z "$OPT_collateral" ] || CF_COLLATERAL=$OPT_collateral
	[ -z "$OPT_reduced" ] || CF_DCAP=reduced
	for f in "$OPT_info" "$OPT_quote" "$OPT_compose"; do [ -r "$f" ] || pl_die 4 "$f: not readable"; done
	if pl_verify_evidence "$OPT_info" "$OPT_quote" "${OPT_app_id#app_}" "$OPT_compose" "$OPT_report_data" >"$PL_TMP/v.out" 2>&1; then
		cat "$PL_TMP/v.out"
	else
		sed "s/^verify: /$PL_TOOL: attestation: /" "$PL_TMP/v.out" >&2
		exit 1
	fi
}

pl_main() {
	PL_T0=$(date +%s)
	pl_getopts '' '--phala= --node= --version' '[COMMAND] [ARGS...]' "$@"
	shift "$PL_SHIFT"
	if [ -n "$OPT_version" ]; then printf '%s (phala-tools) %s\n' "$PL_TOOL" "$PL_VERSION"; exit 0; fi
	[ $# -gt 0 ] || pl_usage_error COMMAND missing
	PL_G_PHALA=$OPT_phala PL_G_NODE=$OPT_node
	cmd=$1
	shift
	if [ "$cmd" = __locked ]; then
		# Internal: the critical section run by "phala-claim lock".
		[ "${1:-}" = destroy ] || pl_usage_error __locked "internal command misuse"
		shift
		pl_setup
		PL_WHOAMI_OK=''
		pl_whoami_env
		pl_destroy "$@"
		return
	fi
	case " $PL_COMMANDS " in *" $cmd "*) ;; *) pl_usage_error "$cmd" "unknown command" ;; esac
	case $cmd in
	ssh-config) pl_ssh_config "$@" ;;
	attest-verify) pl_attest_verify "$@" ;;
	*) "pl_$cmd" "$@" ;;
	esac
}

# In the locked child: the parent's scope (whoami already ran there).
pl_whoami_env() {
	if [ -n "${PL_EXPORT_WS:-}" ]; then
		PL_SCOPE_API=$PL_EXPORT_API PL_SCOPE_WS=$PL_EXPORT_WS PL_SCOPE_NODE=$PL_EXPORT_NODE PL_WHOAMI_OK=1
	fi
}

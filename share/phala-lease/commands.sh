# shellcheck shell=sh disable=SC2034,SC2153 # variables shared by the sourced helpers
# Commands other than acquire, and the entry point.

PL_USAGE='usage: phala-lease [--phala PATH] [--node N] COMMAND [ARGS]
  doctor                          check the phala CLI, login (whoami) and listing
  acquire [--ttl D] [--idle D] [--keep] [--slug S] [-t TYPE] [-c COMPOSE]
          [--node N] [--no-attest] [--json]
                                  lease a CVM; prints lease, app id, host, port
  run [ACQUIRE OPTIONS | --lease L] [--sync DIR] [--env NAME[=V]] [--fetch P[:DIR]]
      [--summary FILE] [-t|-T] [-q] -- COMMAND [ARG...]
                                  the whole job: lease, sync, run, fetch, release
  status [--json] [--wait] LEASE  the claim and the live CVM status (read-only)
  list [--json]                   leases of this account scope
  ssh LEASE [COMMAND...]          run a command (or a shell) on a lease
  ssh-config [LEASE]              ssh_config Host block(s) for usable leases
  release [--app-id ID] LEASE     destroy the CVM through the ownership gate
  cleanup [--dry-run]             the expiry sweep (cron, systemd timer)
  attest-verify --info F --quote F --app-id ID --compose F --report-data HEX
                                  the offline checks of the attestation gate
LEASE is a lease id, an app id or a slug. Durations: 90m, 2h, 300s.
Exit: 0 ok, 1 runtime failure, 2 usage/config/claim changed, 4 refused or
not found, 5 malformed CLI output or timeout, else the phala CLI status.'

pl_usage() {
	[ -z "${1:-}" ] || pl_say "$1"
	printf '%s\n' "$PL_USAGE" >&2
	exit 2
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
	run_phala --version
	[ "$PL_RC" -eq 0 ] || pl_die "$PL_RC" "phala --version: $(pl_cli_error)"
	printf 'phala: %s\n' "$(head -n 1 "$PL_OUT")"
	pl_whoami
	printf 'account: workspace=%s api=%s node=%s\n' "$PL_SCOPE_WS" "$PL_SCOPE_API" "${PL_SCOPE_NODE:-none}"
	pl_list_all
	printf 'cvms: %s listed\n' "$(wc -l <"$PL_TMP/inventory")"
	for t in phala-claim phala-json phala-proxy tdx-rtmr-replay tdx-dcap-verify tdx-collateral-fetch ssh ssh-keygen; do
		if p=$(pl_tool "$t"); then printf 'tool: %s %s\n' "$t" "$p"; else printf 'tool: %s MISSING\n' "$t"; fi
	done
	printf 'attestation: %s\n' "$([ "$CF_ATTEST" = 1 ] && echo on || echo OFF)"
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

pl_status() {
	json=0 wait=0
	while [ $# -gt 0 ]; do
		case $1 in
		--json) json=1; shift ;;
		--wait) wait=1; shift ;;
		-*) pl_usage "status: unknown option '$1'" ;;
		*) break ;;
		esac
	done
	[ $# -eq 1 ] || pl_usage "status: one LEASE"
	lease=$(pl_resolve "$1")
	claim_load "$lease" || pl_die $? "no usable claim for lease $lease"
	live=unknown
	t_end=$(($(date +%s) + CF_READY_TIMEOUT))
	while [ -n "$C_APP" ]; do
		if pl_get "$C_APP"; then live=$G_STATUS; elif [ $? -eq 3 ]; then live=absent; else live="unknown ($PL_GATE_ERR)"; fi
		# --wait: read-only polling until running (or a final state), bounded.
		case $live in running | absent | stopped | error) break ;; esac
		{ [ "$wait" = 1 ] && [ "$(date +%s)" -lt "$t_end" ]; } || break
		sleep "$CF_POLL"
	done
	if [ "$wait" = 1 ] && [ "$live" != running ]; then rc=5; else rc=0; fi
	state=$C_STATE
	case $live in stopped | error) state=$live ;; esac
	[ -z "$C_RECOVERY" ] || state="$state (recovery=$C_RECOVERY, unusable)"
	if [ "$json" = 1 ]; then
		pj object lease_id="$lease" slug="$C_SLUG" name="$C_NAME" app_id="$C_APP" vm_uuid="$C_VM" state="$C_STATE" \
			recovery="$C_RECOVERY" live_status="$live" keep="$C_KEEP" attested="$C_ATTESTED" \
			gateway_host="$C_HOST" gateway_port="$C_PORT" expires_at="$C_EXPIRES"
	else
		printf 'lease %s%s\n  name %s\n  app_id %s\n  state %s\n  live %s\n  host %s:%s\n  attested %s\n  keep %s\n  expires_at %s\n' \
			"$lease" "${C_SLUG:+ ($C_SLUG)}" "$C_NAME" "${C_APP:--}" "$state" "$live" "${C_HOST:--}" "${C_PORT:--}" \
			"$C_ATTESTED" "$C_KEEP" "$C_EXPIRES"
	fi
	return "$rc"
}

pl_list() {
	json=0
	[ "${1:-}" != --json ] || json=1
	pl_whoami
	pl_list_all
	claim_leases >"$PL_TMP/leases"
	tab=$(printf '\t')
	[ "$json" = 1 ] && printf '[' || printf 'LEASE\tSLUG\tAPP_ID\tSTATE\tLIVE\tEXPIRES\tHOST\n'
	first=1
	while read -r l; do
		pl_is_lease "$l" || continue
		claim_load "$l" || continue
		claim_in_scope || continue
		live=missing
		[ -z "$C_APP" ] || live=$(awk -F "$tab" -v a="$C_APP" '$1 == a { print $3; exit }' "$PL_TMP/inventory")
		[ -n "$live" ] || live=missing
		if [ "$json" = 1 ]; then
			[ "$first" = 1 ] || printf ','
			pj object lease_id="$l" slug="$C_SLUG" app_id="$C_APP" state="$C_STATE" recovery="$C_RECOVERY" \
				live_status="$live" expires_at="$C_EXPIRES" gateway_host="$C_HOST" | tr -d '\n'
		else
			printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$l" "${C_SLUG:--}" "${C_APP:--}" "$C_STATE${C_RECOVERY:+/$C_RECOVERY}" \
				"$live" "$C_EXPIRES" "${C_HOST:--}"
		fi
		first=0
	done <"$PL_TMP/leases"
	[ "$json" = 0 ] || printf ']\n'
	# O2: ours-by-name CVMs without a claim are diagnostics only.
	while IFS="$tab" read -r a n _; do
		l=$(pl_lease_of_name "$n")
		[ -n "$l" ] || continue
		claim get "$l" lease_id >/dev/null 2>&1 ||
			pl_say "note: CVM $n (app_$a) looks like ours but has no claim; not listed, never touched"
	done <"$PL_TMP/inventory"
}

# U1: usable only when ready, without recovery, attested when required; touch.
pl_usable() {
	lease=$(pl_resolve "$1")
	claim_load "$lease" || pl_die 2 "claim $lease unreadable"
	[ -z "$C_RECOVERY" ] || pl_die 4 "lease $lease has recovery=$C_RECOVERY; not usable (release it)"
	[ "$C_STATE" = ready ] || pl_die 4 "lease $lease is $C_STATE, not ready"
	[ "$CF_ATTEST" = 0 ] || [ "$C_ATTESTED" = true ] || pl_die 4 "lease $lease is not attested; not usable"
	{ [ -n "$C_HOST" ] && [ -n "$C_PORT" ]; } || pl_die 5 "lease $lease has no gateway host"
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
	[ $# -ge 1 ] || pl_usage "ssh: LEASE required"
	pl_usable "$1"
	shift
	pl_ssh_set "$C_KEYDIR" "$C_HOST" "$C_PORT" yes "$C_LEASE"
	[ $# -gt 0 ] || set -- -t
	pl_cleanup_tmp
	pl_ssh_run "$C_HOST" "$@"
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

pl_ssh_config() {
	if [ $# -eq 1 ]; then
		pl_usable "$1"
		pl_ssh_config_one
		return 0
	fi
	[ $# -eq 0 ] || pl_usage "ssh-config: at most one LEASE"
	printf '# phala-lease ssh-config: usable leases (Include this file)\n'
	claim_leases >"$PL_TMP/leases"
	while read -r l; do
		pl_is_lease "$l" || continue
		claim_load "$l" || continue
		{ [ -z "$C_RECOVERY" ] && [ "$C_STATE" = ready ] && [ -n "$C_HOST" ]; } || continue
		[ "$CF_ATTEST" = 0 ] || [ "$C_ATTESTED" = true ] || continue
		pl_ssh_config_one
	done <"$PL_TMP/leases"
}

pl_release() {
	target=''
	if [ "${1:-}" = --app-id ]; then target=${2:?}; shift 2; fi
	[ $# -eq 1 ] || pl_usage "release: [--app-id ID] LEASE"
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
	PL_DRY=0
	while [ $# -gt 0 ]; do
		case $1 in
		--dry-run) PL_DRY=1; shift ;;
		*) pl_usage "cleanup: unknown argument '$1'" ;;
		esac
	done
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
					if pl_probe_absent "$C_NAME"; then
						if [ "$PL_DRY" = 1 ]; then printf 'would remove claim lease=%s reason=ambiguous-create-absent\n' "$l"
						else
							claim_remove
							printf 'removed claim lease=%s reason=ambiguous-create-absent\n' "$l"
						fi
					else
						pl_warn "lease $l: no CVM named $C_NAME listed, but absence not proven; claim kept"
					fi
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
			[ "$now" -le $((C_EXPIRES + CF_PROV_MARGIN)) ] || reason=expired-provisioning
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
	info='' quote='' app='' compose='' rd=''
	while [ $# -gt 0 ]; do
		case $1 in
		--info) info=${2:?}; shift 2 ;;
		--quote) quote=${2:?}; shift 2 ;;
		--app-id) app=${2:?}; shift 2 ;;
		--compose) compose=${2:?}; shift 2 ;;
		--report-data) rd=${2:?}; shift 2 ;;
		--collateral) CF_COLLATERAL=${2:?}; shift 2 ;;
		--reduced) CF_DCAP=reduced; shift ;;
		*) pl_usage "attest-verify: unknown argument '$1'" ;;
		esac
	done
	{ [ -n "$info" ] && [ -n "$quote" ] && [ -n "$app" ] && [ -n "$compose" ] && [ -n "$rd" ]; } ||
		pl_usage "attest-verify: --info, --quote, --app-id, --compose and --report-data are required"
	for f in "$info" "$quote" "$compose"; do [ -r "$f" ] || pl_die 4 "$f: not readable"; done
	if pl_verify_evidence "$info" "$quote" "${app#app_}" "$compose" "$rd" >"$PL_TMP/v.out" 2>&1; then
		cat "$PL_TMP/v.out"
	else
		sed "s/^verify: /$PL_TOOL: attestation: /" "$PL_TMP/v.out" >&2
		exit 1
	fi
}

pl_main() {
	PL_T0=$(date +%s)
	pl_config_load
	while [ $# -gt 0 ]; do
		case $1 in
		--phala) pl_config_set phala "${2:?}" --phala; shift 2 ;;
		--node) pl_config_set node "${2:?}" --node; shift 2 ;;
		-h | --help) printf '%s\n' "$PL_USAGE"; exit 0 ;;
		-*) pl_usage "unknown option '$1'" ;;
		*) break ;;
		esac
	done
	[ $# -ge 1 ] || pl_usage "missing command"
	cmd=$1; shift
	PL_JSON=$(pl_tool phala-json) || pl_die 4 "phala-json not found"
	PL_CLAIM=${PHALA_LEASE_CLAIM:-$(pl_tool phala-claim || true)}
	[ -n "$PL_CLAIM" ] || [ "$cmd" = attest-verify ] || pl_die 4 "phala-claim not found"
	pl_init_tmp
	trap pl_cleanup_tmp EXIT
	case $cmd in
	doctor) pl_doctor "$@" ;;
	acquire) pl_acquire "$@" ;;
	run) pl_run "$@" ;;
	status) pl_status "$@" ;;
	list) pl_list "$@" ;;
	ssh) pl_ssh "$@" ;;
	ssh-config) pl_ssh_config "$@" ;;
	release) pl_release "$@" ;;
	cleanup) pl_cleanup "$@" ;;
	attest-verify) pl_attest_verify "$@" ;;
	__locked)
		# Internal: the critical section run by "phala-claim lock".
		[ "${1:-}" = destroy ] || pl_usage "internal command misuse"
		shift
		PL_WHOAMI_OK=''
		pl_whoami_env
		pl_destroy "$@" ;;
	*) pl_usage "unknown command '$cmd'" ;;
	esac
}

# In the locked child: the parent's scope (whoami already ran there).
pl_whoami_env() {
	if [ -n "${PL_EXPORT_WS:-}" ]; then
		PL_SCOPE_API=$PL_EXPORT_API PL_SCOPE_WS=$PL_EXPORT_WS PL_SCOPE_NODE=$PL_EXPORT_NODE PL_WHOAMI_OK=1
	fi
}

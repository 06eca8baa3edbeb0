# shellcheck shell=sh disable=SC2034,SC2153 # variables shared by the sourced helpers
# The destroy gate (lease-contract.md D1-D10): one code path for release,
# cleanup and rollback, run while holding the claim's lock.

# Absence (§4). pl_probe_absent ID: 0 absent (HTTP 404 from `phala api -i`,
# in a run whose whoami succeeded), 1 not proven (transient or present).
pl_probe_absent() {
	if [ "${PL_WHOAMI_OK:-0}" != 1 ]; then
		# The positive control: the same key and base URL work.
		run_phala whoami --json
		pl_ok_json || return 1
		PL_WHOAMI_OK=1
	fi
	run_phala api -i "/cvms/$1"
	first=$(head -n 1 "$PL_OUT" | tr -d '\r')
	case $first in "HTTP/"*" 404"*) return 0 ;; esac
	return 1
}

# Secondary hint: the last get/delete said "not found" in the CLI's own output.
pl_says_not_found() {
	[ "$PL_RC" -ne 0 ] || return 1
	s=$(pj --embedded get "$PL_OUT" success 2>/dev/null) || return 1
	[ "$s" = false ] || return 1
	msg=$(pj --embedded get "$PL_OUT" error 2>/dev/null | tr '[:upper:]' '[:lower:]') || return 1
	case $msg in *gateway* | *endpoint* | *route* | *upstream* | *dns*) return 1 ;; esac
	case $msg in *"cvm not found"* | *"no such cvm"* | *"cvm does not exist"* | *"could not find cvm"*) return 0 ;; esac
	return 1
}

# pl_get ID: one `cvms get`, classified. Sets G_NAME G_VM G_STATUS G_DOMAIN.
# Returns 0 present (success:true with an id), 3 absent (hint confirmed by a
# 404), 1 transient (keep everything), 5 malformed/inconsistent output.
pl_get() {
	run_phala cvms get "app_$1" --json
	if [ "$PL_RC" -ne 0 ]; then
		if pl_says_not_found; then
			get_err=$(pl_cli_error)
			if pl_probe_absent "app_$1"; then return 3; fi
			PL_GATE_ERR="cvms get app_$1: '$get_err' but no HTTP 404 to prove absence"
			return 1
		fi
		PL_GATE_ERR="cvms get app_$1: $(pl_cli_error)"
		PL_GATE_RC=$PL_RC
		return 1
	fi
	if ! pj --embedded get "$PL_OUT" success >"$PL_TMP/get.s" 2>/dev/null || [ "$(cat "$PL_TMP/get.s")" != true ]; then
		PL_GATE_ERR="cvms get app_$1: exit 0 without a success:true JSON object"
		return 5
	fi
	{ read -r g_id; read -r G_APP; read -r G_NAME; read -r G_VM; read -r G_STATUS; read -r G_DOMAIN; } <<EOF
$(pj --embedded get "$PL_OUT" id app_id name vm_uuid status 'gateway.base_domain|gateway_domain')
EOF
	if [ -z "$g_id" ]; then
		PL_GATE_ERR="cvms get app_$1: no id in the answer"
		return 5
	fi
	G_APP=${G_APP#app_}
	return 0
}

# Poll for definitive absence after a delete (D8).
pl_confirm_absent() {
	i=0
	while [ "$i" -lt "${PHALA_LEASE_ABSENCE_TRIES:-10}" ]; do
		if pl_probe_absent "app_$1"; then return 0; fi
		i=$((i + 1))
		sleep "$CF_POLL"
	done
	return 1
}

# pl_destroy LEASE MODE [TARGET]: D1-D8 for the claim of LEASE. MODE is
# release, cleanup or rollback; with "absent-only" it removes the claim only
# when its CVM is proven absent and never deletes. Must run under the lock
# (pl_locked). Exit status per the contract; PL_DRY=1 changes nothing.
pl_destroy() {
	lease=$1 mode=$2 target=${3:-}
	PL_GATE_RC=''
	# D1: a claim in scope, or nothing (zero CLI calls so far).
	claim_load "$lease" || {
		[ $? -eq 2 ] && exit 2
		pl_die 4 "no local claim for lease $lease"
	}
	# D2
	target=${target#app_}
	if [ -n "$target" ] && [ -n "$C_APP" ] && [ "$C_APP" != "$target" ]; then
		pl_die 4 "claim for $lease points to $C_APP"
	fi
	name=$(pl_name "$lease")
	[ "$C_NAME" = "$name" ] || pl_die 4 "claim $lease: name '$C_NAME' is not $name; refused"
	[ -n "${PL_WHOAMI_OK:-}" ] || pl_whoami
	claim_in_scope || pl_die 4 "no local claim for lease $lease in this scope (claim: $C_API $C_WS ${C_NODE:-no node})"
	# D3: no app id recorded: exactly one exact-name match or refuse; a
	# release of an ambiguous create with none finishes it (below).
	if [ -z "$C_APP" ]; then
		pl_search_name "$name" || pl_die "${PL_GATE_RC:-5}" "$PL_GATE_ERR"
		if [ "$PL_MATCHES" -eq 0 ] && [ "$mode" = release ] &&
			{ [ "$C_RECOVERY" = ambiguous-create ] || { [ "$C_STATE" = creating ] && [ -z "$C_RECOVERY" ]; }; }; then
			pl_finish_ambiguous "$lease" "$name" && return 0
		fi
		[ "$PL_MATCHES" -eq 1 ] || pl_die 4 "lease $lease: $PL_MATCHES CVMs named $name; refused, claim kept"
		[ "${PL_DRY:-0}" = 1 ] || claim_cas app_id="$PL_MATCH"
		C_APP=$PL_MATCH
	fi
	# D4
	if pl_get "$C_APP"; then rc=0; else rc=$?; fi
	case $rc in
	3)
		if [ "${PL_DRY:-0}" = 1 ]; then
			printf 'would remove claim lease=%s app_id=%s reason=absent\n' "$lease" "$C_APP"
			return 0
		fi
		claim_remove
		printf 'removed claim lease=%s app_id=%s reason=absent\n' "$lease" "$C_APP"
		return 0 ;;
	1) pl_die "${PL_GATE_RC:-1}" "$PL_GATE_ERR; claim kept" ;;
	5) pl_die 5 "$PL_GATE_ERR; claim kept" ;;
	esac
	# D5, D6
	[ "$G_NAME" = "$name" ] || pl_die 4 "CVM app_$C_APP is named '$G_NAME', not $name; refused, no delete"
	[ -z "$C_VM" ] || [ "$C_VM" = "$G_VM" ] ||
		pl_die 4 "CVM app_$C_APP has vm_uuid $G_VM, claim says $C_VM; refused, no delete"
	[ "$mode" != absent-only ] || {
		printf 'lease=%s app_id=%s present\n' "$lease" "$C_APP" >"$PL_TMP/present"
		return 0
	}
	if [ "${PL_DRY:-0}" = 1 ]; then
		printf 'would destroy app_id=%s lease=%s reason=%s\n' "$C_APP" "$lease" "${PL_REASON:-$mode}"
		return 0
	fi
	# D7
	claim_cas state=releasing
	run_phala cvms delete "app_$C_APP" --force --json
	if [ "$PL_RC" -ne 0 ]; then
		if pl_says_not_found && pl_probe_absent "app_$C_APP"; then
			claim_remove
			printf 'removed claim lease=%s app_id=%s reason=absent\n' "$lease" "$C_APP"
			return 0
		fi
		pl_die "$PL_RC" "cvms delete app_$C_APP: $(pl_cli_error); claim kept"
	fi
	pl_ok_json || pl_die 5 "cvms delete app_$C_APP: exit 0 without success:true; claim kept at releasing"
	[ "$(pj --embedded get "$PL_OUT" deleted)" = true ] ||
		pl_die 5 "cvms delete app_$C_APP: answer lacks deleted:true; claim kept at releasing"
	# D8
	pl_confirm_absent "$C_APP" ||
		pl_die 5 "CVM app_$C_APP deleted but its absence is not confirmed; claim kept at releasing (run release again)"
	claim_remove
	printf 'destroy app_id=%s lease=%s reason=%s\n' "$C_APP" "$lease" "${PL_REASON:-$mode}"
}

# pl_remove_unlisted LEASE NAME REASON: the sweep's proof (§5) for a claim
# without an app id whose name no CVM in the list carries (the caller
# searched): the API answering HTTP 404 for the name. On proof the loaded
# claim is removed (or, with --dry-run, would be). 1: not proven.
pl_remove_unlisted() {
	pl_probe_absent "$2" || return 1
	if [ "${PL_DRY:-0}" = 1 ]; then
		printf 'would remove claim lease=%s reason=%s\n' "$1" "$3"
	else
		claim_remove
		printf 'removed claim lease=%s reason=%s\n' "$1" "$3"
	fi
}

# Release of an ambiguous create that no CVM carries the name of (D3 with
# no match). Until the grace period after the deploy has passed the server
# may still be creating it, so the name is watched until then (a match is
# adopted and destroyed through the rest of the gate: returns 1 with
# PL_MATCHES 1); after it, no match and the sweep's proof remove the claim
# (returns 0); no proof: exit 5, claim kept.
pl_finish_ambiguous() {
	lease=$1 name=$2
	pl_is_uint "$C_CREATED" || pl_die 4 "lease $lease: its claim has no created_at; refused, claim kept"
	left=$((C_CREATED + CF_GRACE - $(pl_now)))
	if [ "$left" -gt 0 ]; then
		pl_say "lease $lease: ambiguous create, no CVM named $name yet; watching for $(pl_human_secs "$left") (the grace period after the deploy) before proving it absent"
		t_end=$(($(date +%s) + left))
		while [ "$PL_MATCHES" -eq 0 ] && [ "$(date +%s)" -lt "$t_end" ]; do
			sleep "$([ "$CF_POLL" -gt 0 ] && echo "$CF_POLL" || echo 1)"
			pl_search_name "$name" || pl_die "${PL_GATE_RC:-5}" "$PL_GATE_ERR; claim kept"
		done
		[ "$PL_MATCHES" -eq 0 ] || return 1
	fi
	pl_remove_unlisted "$lease" "$name" ambiguous-create-absent && return 0
	pl_die 5 "lease $lease: no CVM named $name is listed, but the API does not answer 404 for the name; absence not proven, claim kept (release again later)"
}

# pl_search_name NAME: one `cvms list --search`; PL_MATCHES, PL_MATCH (appId of
# items whose cvmName equals NAME exactly). 1 on CLI failure (PL_GATE_ERR).
pl_search_name() {
	run_phala cvms list --search "$1" --page 1 --page-size 100 --json
	if ! pl_ok_json; then
		PL_GATE_RC=$PL_RC
		[ "$PL_RC" -ne 0 ] || PL_GATE_RC=5
		PL_GATE_ERR="cvms list --search $1: $(pl_cli_error)"
		return 1
	fi
	pj --embedded items "$PL_OUT" items appId cvmName >"$PL_TMP/search" 2>"$PL_TMP/search.err" || {
		PL_GATE_RC=5
		PL_GATE_ERR="cvms list --search $1: $(cat "$PL_TMP/search.err")"
		return 1
	}
	PL_MATCHES=0 PL_MATCH=''
	tab=$(printf '\t')
	while IFS="$tab" read -r a n; do
		[ "$n" = "$1" ] || continue
		pl_is_hex40 "${a#app_}" || { PL_GATE_RC=5; PL_GATE_ERR="cvms list: item '$n' has no valid appId"; return 1; }
		PL_MATCHES=$((PL_MATCHES + 1))
		PL_MATCH=${a#app_}
	done <"$PL_TMP/search"
	return 0
}

# pl_locked LEASE REASON MODE [TARGET]: the destroy gate in "phala-lease
# __locked" under the claim's lock, so that the ownership check and the
# removal of the claim are one critical section. The child inherits this
# run's settings and scope through the environment.
pl_locked() {
	lease=$1 reason=$2; shift 2
	PHALA_LEASE_PHALA=$CF_PHALA PHALA_LEASE_NODE=$CF_NODE PL_REASON=$reason PL_DRY=${PL_DRY:-0} \
		PHALA_LEASE_POLL=$CF_POLL PHALA_LEASE_CLI_TIMEOUT=$CF_CLI_TIMEOUT PHALA_LEASE_CLAIM=$PL_CLAIM \
		claim lock "$lease" -- "$PL_SELF" __locked destroy "$lease" "$@"
}

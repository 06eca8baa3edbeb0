# shellcheck shell=sh disable=SC2034,SC2153 # variables shared by the sourced helpers
# acquire: intent claim, deploy, readiness, SSH, attestation gate, final
# claim; every failure after the intent claim goes through rollback.

PL_INTERRUPTED=0
pl_on_signal() { PL_INTERRUPTED=1; }

# Rollback (§1): keep=true and not an attestation failure => keep the CVM
# marked kept-after-failure; otherwise the destroy gate with the claim as the
# ownership proof, under the lock, signals ignored (non-cancellable). A
# failed rollback leaves recovery=rollback-cleanup.
pl_rollback() {
	why=$1 attest=${2:-0}
	PL_ROLLING=1
	trap '' INT TERM
	pl_step "rollback: $why"
	C_REV=$(claim_field "$PL_L" revision)
	C_LEASE=$PL_L
	if [ "$PL_KEEP" = true ] && [ "$attest" = 0 ]; then
		claim_cas recovery=kept-after-failure
		pl_die 1 "$why; CVM kept (--keep), lease $PL_L marked kept-after-failure; release it with: phala-lease release $PL_L"
	fi
	if [ -z "$(claim_field "$PL_L" app_id)" ]; then
		claim_cas recovery=ambiguous-create
		pl_die 1 "$why; no CVM id known, claim kept with recovery=ambiguous-create"
	fi
	if pl_locked "$PL_L" rollback rollback >"$PL_TMP/rollback.out" 2>"$PL_TMP/rollback.err"; then
		cat "$PL_TMP/rollback.out"
		pl_die 1 "$why; rolled back (CVM destroyed, claim removed)"
	fi
	cat "$PL_TMP/rollback.err" >&2
	C_REV=$(claim_field "$PL_L" revision)
	[ -z "$C_REV" ] || claim set "$PL_L" recovery=rollback-cleanup >/dev/null 2>&1 || true
	pl_die 1 "$why; rollback failed: $(tail -n 1 "$PL_TMP/rollback.err"); claim kept with recovery=rollback-cleanup"
}

# EXIT guard during steps 5-11: any way out that is not the end of acquire
# or a rollback (a helper killed by a terminal interrupt under set -e, an
# unexpected error) rolls back first.
pl_exit_guard() {
	if [ "${PL_ACQUIRING:-0}" = 1 ] && [ "${PL_ROLLING:-0}" = 0 ]; then
		why="aborted"
		[ "$PL_INTERRUPTED" = 0 ] || why="interrupted"
		pl_rollback "$why" 0
	fi
	pl_cleanup_tmp
}

pl_check_interrupt() {
	[ "$PL_INTERRUPTED" = 0 ] || pl_rollback "interrupted" 0
}

# Slug: [a-z0-9-], unique among live claims (short hex suffix, bounded).
pl_slug() {
	s=$(printf '%s' "$1" | tr 'A-Z_ ' 'a-z--' | tr -cd 'a-z0-9-' | cut -c1-40)
	[ -n "$s" ] || pl_die 2 "slug '$1': nothing left after normalising to [a-z0-9-]"
	claim --json list >"$PL_TMP/slugs.json" || pl_die 4 "phala-claim list failed"
	pj items "$PL_TMP/slugs.json" claims slug >"$PL_TMP/slugs"
	try=$s i=0
	while grep -qxF "$try" "$PL_TMP/slugs"; do
		i=$((i + 1))
		[ "$i" -le 8 ] || pl_die 2 "slug '$s': no unique variant found"
		try=$s-$(pl_random_hex 2)
	done
	printf '%s\n' "$try"
}

# §1.1: deploy result => 0 recorded, or exits.
pl_deploy() {
	name=$1 compose=$2 pub=$3
	set -- deploy --json -n "$name" -c "$compose" -t "$CF_TYPE" --dev-os --ssh-pubkey "$pub"
	[ -z "$CF_NODE" ] || set -- "$@" --node-id "$CF_NODE"
	pl_step "deploying $name"
	run_phala "$@"
	if ! grep -q '^Provisioning CVM ' "$PL_OUT"; then
		# Path 1: nothing was sent.
		err=$(pl_cli_error)
		claim rm "$PL_L" >/dev/null 2>&1 || pl_warn "could not remove the intent claim $PL_L"
		rm -rf "$PL_DIR"
		rc=$PL_RC; [ "$rc" -ne 0 ] || rc=5
		pl_die "$rc" "phala deploy: $err (nothing created)"
	fi
	if pl_ok_json; then
		{ read -r d_name; read -r d_app; read -r d_vm; } <<EOF
$(pj --embedded get "$PL_OUT" name app_id vm_uuid)
EOF
		d_app=${d_app#app_}
		if [ "$d_name" = "$name" ] && pl_is_hex40 "$d_app"; then
			C_LEASE=$PL_L C_REV=$(claim_field "$PL_L" revision)
			if [ -n "$d_vm" ]; then claim_cas app_id="$d_app" vm_uuid="$d_vm" state=provisioning
			else claim_cas app_id="$d_app" state=provisioning; fi
			PL_APP=$d_app
			return 0
		fi
		pl_warn "deploy answered name '$d_name' app_id '$d_app' for $name: not trusted"
	fi
	# Path 2/3: ambiguous - the CVM may exist. Search by exact name.
	pl_warn "deploy outcome ambiguous ($(pl_cli_error)); searching for $name"
	t_end=$(($(date +%s) + CF_SEARCH))
	while :; do
		if pl_search_name "$name"; then
			if [ "$PL_MATCHES" -eq 1 ]; then
				C_LEASE=$PL_L C_REV=$(claim_field "$PL_L" revision)
				claim_cas app_id="$PL_MATCH" state=provisioning
				PL_APP=$PL_MATCH
				pl_step "found $name as app_$PL_MATCH"
				return 0
			fi
			[ "$PL_MATCHES" -le 1 ] || pl_die 4 "$PL_MATCHES CVMs named $name; claim $PL_L kept, resolve by hand"
		fi
		[ "$(date +%s)" -lt "$t_end" ] || break
		sleep "$CF_POLL"
	done
	C_LEASE=$PL_L C_REV=$(claim_field "$PL_L" revision)
	claim_cas recovery=ambiguous-create
	pl_die 1 "deploy of $name ambiguous and no CVM found by name; claim $PL_L kept with recovery=ambiguous-create (cleanup resolves it)"
}

# Step 7/8: poll until running with a gateway domain; records vm_uuid and G.
pl_wait_ready() {
	name=$1
	t_end=$(($(date +%s) + CF_READY_TIMEOUT))
	while :; do
		pl_check_interrupt
		if pl_get "$PL_APP"; then
			[ "$G_NAME" = "$name" ] || pl_rollback "CVM app_$PL_APP is now named '$G_NAME'"
			vm=$(claim_field "$PL_L" vm_uuid)
			if [ -z "$vm" ] && [ -n "$G_VM" ]; then
				C_LEASE=$PL_L C_REV=$(claim_field "$PL_L" revision)
				claim_cas vm_uuid="$G_VM"
			elif [ -n "$vm" ] && [ "$vm" != "$G_VM" ]; then
				pl_rollback "CVM app_$PL_APP vm_uuid changed ($vm -> $G_VM)"
			fi
			case $G_STATUS in
			error | stopped) pl_rollback "CVM status $G_STATUS" ;;
			running) [ -z "$G_DOMAIN" ] || break ;;
			esac
			pl_step "waiting: status ${G_STATUS:-unknown}"
		else
			pl_step "waiting: $PL_GATE_ERR"
		fi
		[ "$(date +%s)" -lt "$t_end" ] || pl_rollback "not ready after ${CF_READY_TIMEOUT}s"
		sleep "$CF_POLL"
	done
	# Step 8: G = <app_id>-22.<domain host>, port from :P else 443.
	case $G_DOMAIN in
	*:*) PL_PORT=${G_DOMAIN##*:} PL_DOMAIN=${G_DOMAIN%:*} ;;
	*) PL_PORT=443 PL_DOMAIN=$G_DOMAIN ;;
	esac
	pl_is_uint "$PL_PORT" || pl_rollback "gateway domain '$G_DOMAIN': bad port"
	PL_HOST=$PL_APP-22.$PL_DOMAIN
	C_LEASE=$PL_L C_REV=$(claim_field "$PL_L" revision)
	claim_cas gateway_host="$PL_HOST" gateway_port="$PL_PORT"
}

pl_acquire() {
	PL_KEEP=false slug='' json=0
	while [ $# -gt 0 ]; do
		case $1 in
		--ttl) pl_config_set ttl "${2:?}" --ttl; shift 2 ;;
		--idle) pl_config_set idle "${2:?}" --idle; shift 2 ;;
		--keep) PL_KEEP=true; shift ;;
		--slug) slug=${2:?}; shift 2 ;;
		-t | --type) CF_TYPE=${2:?}; shift 2 ;;
		--node) CF_NODE=${2:?}; shift 2 ;;
		-c | --compose) CF_COMPOSE=${2:?}; shift 2 ;;
		--no-attest) CF_ATTEST=0; shift ;;
		--json) json=1; shift ;;
		*) pl_usage "acquire: unknown argument '$1'" ;;
		esac
	done
	pl_config_check
	# Step 1
	run_phala --version
	[ "$PL_RC" -eq 0 ] || pl_die "$PL_RC" "phala --version failed: $(pl_cli_error)"
	pl_whoami
	# Step 2
	PL_L=$(pl_random_hex 6)
	name=$(pl_name "$PL_L")
	[ -z "$slug" ] || slug=$(pl_slug "$slug")
	# Step 3
	PL_DIR=$(pl_lease_dir "$PL_L")
	(umask 077 && mkdir -p "$(dirname "$PL_DIR")" && mkdir "$PL_DIR") || pl_die 4 "cannot create $PL_DIR"
	[ ! -L "$PL_DIR" ] || pl_die 4 "$PL_DIR is a symlink"
	ssh-keygen -q -t ed25519 -N '' -C "$PL_TOOL-$PL_L" -f "$PL_DIR/id_ed25519" </dev/null >/dev/null 2>&1 ||
		{ rm -rf "$PL_DIR"; pl_die 4 "ssh-keygen failed"; }
	: >"$PL_DIR/known_hosts"
	if [ -n "$CF_COMPOSE" ]; then
		case $CF_COMPOSE in /*) compose=$CF_COMPOSE ;; *) compose=$(pwd)/$CF_COMPOSE ;; esac
	else
		compose=$PL_DIR/docker-compose.yml
		(umask 077 && cp "$PL_SHARE/default-compose.yml" "$compose") || { rm -rf "$PL_DIR"; pl_die 4 "cannot write $compose"; }
	fi
	sha=$(sha256sum <"$compose" | cut -d' ' -f1) || { rm -rf "$PL_DIR"; pl_die 4 "cannot hash $compose"; }
	# Step 4: durable intent claim before anything is sent.
	now=$(pl_now)
	set -- name="$name" state=creating keep="$PL_KEEP" created_at="$now" ttl_secs="$CF_TTL" idle_secs="$CF_IDLE" \
		last_touched_at="$now" expires_at="$(pl_expiry "$now" "$now" "$CF_IDLE" "$CF_TTL")" \
		scope_api="$PL_SCOPE_API" scope_workspace="$PL_SCOPE_WS" scope_node="$PL_SCOPE_NODE" \
		compose_sha256="$sha" key_dir="$PL_DIR" known_hosts="$PL_DIR/known_hosts" attested=false
	[ -z "$slug" ] || set -- "$@" slug="$slug"
	claim create "$PL_L" "$@" >/dev/null || { rm -rf "$PL_DIR"; pl_die 4 "cannot write the intent claim for $PL_L"; }
	pl_step "lease $PL_L: intent claim written"
	# run learns its lease here, before anything exists to clean up.
	[ -z "${PL_ACQUIRE_LEASE_FILE:-}" ] || printf '%s\n' "$PL_L" >"$PL_ACQUIRE_LEASE_FILE"
	# Steps 5-11: interrupts and failed claim writes roll back.
	trap pl_on_signal INT TERM
	trap pl_exit_guard EXIT
	PL_ACQUIRING=1
	pl_deploy "$name" "$compose" "$PL_DIR/id_ed25519.pub"
	pl_check_interrupt
	pl_wait_ready "$name"
	pl_check_interrupt
	pl_ssh_ready || pl_rollback "SSH to $PL_HOST not reachable: ${PL_SSH_ERR:-no answer}"
	pl_check_interrupt
	if [ "$CF_ATTEST" = 1 ]; then
		pl_attest_gate "$compose" || pl_rollback "attestation failed: $PL_ATTEST_ERR" 1
		pl_check_interrupt
	else
		pl_warn "attestation disabled by trusted configuration"
	fi
	# Step 11
	C_LEASE=$PL_L C_REV=$(claim_field "$PL_L" revision)
	claim_cas state=ready attested="$([ "$CF_ATTEST" = 1 ] && echo true || echo false)" last_touched_at="$(pl_now)"
	trap - INT TERM
	PL_ACQUIRING=0
	pl_step "lease $PL_L ready"
	if [ "$json" = 1 ]; then
		pj object lease_id="$PL_L" name="$name" app_id="$PL_APP" gateway_host="$PL_HOST" gateway_port:="$PL_PORT" \
			slug="$slug" attested:="$([ "$CF_ATTEST" = 1 ] && echo true || echo false)"
	else
		printf 'lease=%s app_id=%s host=%s port=%s\n' "$PL_L" "$PL_APP" "$PL_HOST" "$PL_PORT"
	fi
}

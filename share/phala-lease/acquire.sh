# shellcheck shell=sh disable=SC2034,SC2153,SC2154 # variables shared by the sourced helpers; OPT_* set by pl_getopts
# acquire: intent claim, deploy, readiness, SSH, attestation gate, final
# claim; every failure after the intent claim goes through rollback.

PL_INTERRUPTED=0
# During steps 5-11 a signal is noted (PL_INTERRUPTED: its exit status) and
# acted on at the next step boundary, by a rollback.
pl_on_signal() { PL_INTERRUPTED=$1; }

# Rollback (§1): keep=true and not an attestation failure => keep the CVM
# marked kept-after-failure; otherwise the destroy gate with the claim as the
# ownership proof, under the lock, signals ignored (non-cancellable). A
# failed rollback leaves recovery=rollback-cleanup. Its report goes to
# standard error (standard output is for the result). Exits 1, or 128+N
# after signal N.
pl_rollback() {
	why=$1 attest=${2:-0}
	PL_ROLLING=1
	trap '' INT TERM HUP
	code=1
	[ "$PL_INTERRUPTED" = 0 ] || code=$PL_INTERRUPTED
	pl_step "rollback: $why"
	C_REV=$(claim_field "$PL_L" revision)
	C_LEASE=$PL_L
	if [ "$PL_KEEP" = true ] && [ "$attest" = 0 ]; then
		claim_cas recovery=kept-after-failure
		pl_die "$code" "$why; CVM kept (--keep), lease $PL_L marked kept-after-failure; release it with: phala-lease release $PL_L"
	fi
	if [ -z "$(claim_field "$PL_L" app_id)" ]; then
		claim_cas recovery=ambiguous-create
		pl_die "$code" "$why; no CVM id known, claim kept with recovery=ambiguous-create (phala-lease release $PL_L finishes it)"
	fi
	if pl_locked "$PL_L" rollback rollback >"$PL_TMP/rollback.out" 2>"$PL_TMP/rollback.err"; then
		cat "$PL_TMP/rollback.out" >&2
		pl_die "$code" "$why; rolled back (CVM destroyed, claim removed)"
	fi
	cat "$PL_TMP/rollback.err" >&2
	C_REV=$(claim_field "$PL_L" revision)
	[ -z "$C_REV" ] || claim set "$PL_L" recovery=rollback-cleanup >/dev/null 2>&1 || true
	pl_die "$code" "$why; rollback failed: $(tail -n 1 "$PL_TMP/rollback.err"); claim kept with recovery=rollback-cleanup"
}

pl_check_interrupt() {
	[ "$PL_INTERRUPTED" = 0 ] || pl_rollback "interrupted" 0
}

# A slug the user asked for is used exactly, or refused: [a-z0-9-], starting
# with a letter or digit, at most 40, not a lease id or app id (those win
# over slugs), not held by another claim.
pl_slug_check() {
	case $1 in *[!a-z0-9-]*) pl_usage_error --slug "'$1' may hold only lowercase letters, digits and '-'" ;; esac
	case $1 in -*) pl_usage_error --slug "'$1' must start with a letter or digit" ;; esac
	[ ${#1} -le 40 ] || pl_usage_error --slug "'$1' is longer than 40 characters"
	if pl_is_lease "$1" || pl_is_hex40 "$1"; then pl_usage_error --slug "'$1' looks like a lease id or app id"; fi
	pl_slug_holders "$1"
	[ -z "$PL_HOLDERS" ] || pl_usage_error --slug "'$1' is taken by lease $PL_HOLDERS"
}
# PL_HOLDERS: the leases (space-separated) whose claims carry slug $1, but $2.
pl_slug_holders() {
	claim --json find slug="$1" >"$PL_TMP/slugs.json" 2>/dev/null || : >"$PL_TMP/slugs.json"
	PL_HOLDERS=$(pj items "$PL_TMP/slugs.json" claims lease_id 2>/dev/null | grep -vxF "${2:-}" | tr '\n' ' ')
	PL_HOLDERS=${PL_HOLDERS% }
}

# The API's answers that refuse a deploy: it created nothing. The CLI keeps
# only the message in --json mode (no HTTP status, no error code), so these
# are recognised by text (case-insensitive): no capacity for the request
# (ERR-01-005), authentication and permission failures, invalid requests.
# Anything else - "Unknown API error" (no answer, a timeout), a 5xx text, a
# killed CLI, output without that JSON - leaves the outcome unknown.
pl_deploy_refused() {
	m=$(printf '%s' "$1" | tr '[:upper:]' '[:lower:]')
	case $m in
	"no available resources match your requirements"* | "invalid api key"* | "api key expired"* | \
		"api key is expired"* | "not authenticated"* | "unauthorized"* | "forbidden"* | \
		"api token is required"* | "validation failed"* | "invalid cvm name"* | "insufficient balance"* | \
		"insufficient credits"*) return 0 ;;
	esac
	return 1
}

# §1.1: deploy result => 0 recorded, or exits.
pl_deploy() {
	name=$1 compose=$2 pub=$3
	set -- deploy --json -n "$name" -c "$compose" -t "$CF_TYPE" --dev-os --ssh-pubkey "$pub"
	[ -z "$CF_NODE" ] || set -- "$@" --node-id "$CF_NODE"
	pl_step "deploying $name"
	run_phala "$@"
	refused=''
	if ! grep -q '^Provisioning CVM ' "$PL_OUT"; then
		refused="nothing was sent" # path 1: a local check failed
	elif [ "$PL_RC" -ne 0 ] && [ "$PL_RC" -lt 124 ] &&
		[ "$(pj --embedded get "$PL_ERR" success 2>/dev/null)" = false ] && pl_deploy_refused "$(pl_cli_error)"; then
		refused="the API refused it"
	fi
	if [ -n "$refused" ]; then
		# Nothing was created: no claim, no key, no search.
		err=$(pl_cli_error)
		PL_ACQUIRING=0
		claim rm "$PL_L" >/dev/null 2>&1 || pl_warn "could not remove the intent claim $PL_L"
		rm -rf "$PL_DIR"
		rc=$PL_RC; [ "$rc" -ne 0 ] || rc=5
		pl_die "$rc" "phala deploy: $err ($refused; nothing created)"
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
	deploy_err=$(pl_cli_error)
	pl_warn "deploy outcome ambiguous ($deploy_err); searching for $name"
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
			if [ "$PL_MATCHES" -gt 1 ]; then
				C_LEASE=$PL_L C_REV=$(claim_field "$PL_L" revision)
				claim_cas recovery=ambiguous-create
				PL_ACQUIRING=0
				pl_die 4 "$PL_MATCHES CVMs named $name; claim $PL_L kept with recovery=ambiguous-create, resolve by hand"
			fi
		fi
		[ "$(date +%s)" -lt "$t_end" ] || break
		sleep "$CF_POLL"
	done
	C_LEASE=$PL_L C_REV=$(claim_field "$PL_L" revision)
	claim_cas recovery=ambiguous-create
	PL_ACQUIRING=0
	code=1
	[ "$PL_INTERRUPTED" = 0 ] || code=$PL_INTERRUPTED
	pl_die "$code" "deploy of $name ambiguous ($deploy_err) and no CVM found by name; claim $PL_L kept with recovery=ambiguous-create: phala-lease release $PL_L finishes it once the grace period ($(pl_human_secs "$CF_GRACE") after the deploy) has passed, as cleanup does"
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
	# On PostgreSQL the claim names the machine that holds the lease's key.
	set -- gateway_host="$PL_HOST" gateway_port="$PL_PORT"
	! pl_claims_on_pg || set -- "$@" machine_name="$(uname -n)" machine_id="$(pl_machine_id)"
	claim_cas "$@"
}

# acquire's options, for every command that acquires (acquire, run): parse
# with pl_getopts CMD "$PL_ACQUIRE_SPEC ..." and, after pl_setup, apply them
# with pl_acquire_options (flags win over configuration).
PL_ACQUIRE_SPEC='--ttl= --idle= --keep --slug= -t|--type= --node= -c|--compose= --no-attest --json'
pl_acquire_options() {
	PL_KEEP=false PL_SLUG=$OPT_slug PL_AJSON=${OPT_json:-0}
	[ -z "$OPT_ttl" ] || pl_config_set ttl "$OPT_ttl" --ttl
	[ -z "$OPT_idle" ] || pl_config_set idle "$OPT_idle" --idle
	[ -z "$OPT_keep" ] || PL_KEEP=true
	[ -z "$OPT_type" ] || pl_config_set instance_type "$OPT_type" --type
	[ -z "$OPT_node" ] || pl_config_set node "$OPT_node" --node
	[ -z "$OPT_compose" ] || pl_config_set compose "$OPT_compose" --compose
	[ -z "$OPT_no_attest" ] || pl_config_set attest false --no-attest
	pl_config_check
	[ -z "$PL_SLUG" ] || pl_slug_check "$PL_SLUG"
	if [ "$PL_KEEP" = true ] && { [ -n "$OPT_ttl" ] || [ -n "$OPT_idle" ]; }; then
		pl_warn "--keep: cleanup never reaps this lease; its ttl and idle only mark it expired (release it yourself)"
	fi
}

pl_acquire() {
	pl_getopts acquire "$PL_ACQUIRE_SPEC" '' "$@"
	shift "$PL_SHIFT"
	pl_setup
	pl_acquire_options
	pl_acquire_lease
	pl_acquire_result
}

# Steps 1-11. Sets PL_L, PL_APP, PL_HOST, PL_PORT, PL_NAME.
pl_acquire_lease() {
	# Step 1
	run_phala --version
	[ "$PL_RC" -eq 0 ] || pl_die "$PL_RC" "phala --version failed: $(pl_cli_error)"
	pl_whoami
	# Step 2
	PL_L=$(pl_random_hex 6)
	PL_NAME=$(pl_name "$PL_L")
	name=$PL_NAME
	# Step 3
	PL_DIR=$(pl_lease_dir "$PL_L")
	(umask 077 && mkdir -p "$(dirname "$PL_DIR")" && mkdir "$PL_DIR") || pl_die 4 "cannot create $PL_DIR"
	[ ! -L "$PL_DIR" ] || pl_die 4 "$PL_DIR is a symlink"
	ssh-keygen -q -t ed25519 -N '' -C "$PL_TOOL-$PL_L" -f "$PL_DIR/id_ed25519" </dev/null >/dev/null 2>&1 ||
		{ rm -rf "$PL_DIR"; pl_die 4 "ssh-keygen failed"; }
	: >"$PL_DIR/known_hosts"
	if [ -n "$CF_COMPOSE" ]; then
		case $CF_COMPOSE in /*) PL_COMPOSE=$CF_COMPOSE ;; *) PL_COMPOSE=$(pwd)/$CF_COMPOSE ;; esac
	else
		PL_COMPOSE=$PL_DIR/docker-compose.yml
		(umask 077 && cp "$PL_SHARE/default-compose.yml" "$PL_COMPOSE") || { rm -rf "$PL_DIR"; pl_die 4 "cannot write $PL_COMPOSE"; }
	fi
	sha=$(sha256sum <"$PL_COMPOSE" | cut -d' ' -f1) || { rm -rf "$PL_DIR"; pl_die 4 "cannot hash $PL_COMPOSE"; }
	attest_req=false
	[ "$CF_ATTEST" = 0 ] || attest_req=true
	# Step 4: durable intent claim before anything is sent.
	now=$(pl_now)
	set -- name="$name" state=creating keep="$PL_KEEP" created_at="$now" ttl_secs="$CF_TTL" idle_secs="$CF_IDLE" \
		last_touched_at="$now" expires_at="$(pl_expiry "$now" "$now" "$CF_IDLE" "$CF_TTL")" \
		scope_api="$PL_SCOPE_API" scope_workspace="$PL_SCOPE_WS" scope_node="$PL_SCOPE_NODE" \
		compose_sha256="$sha" key_dir="$PL_DIR" known_hosts="$PL_DIR/known_hosts" attested=false \
		attest_required="$attest_req"
	[ -z "$PL_SLUG" ] || set -- "$@" slug="$PL_SLUG"
	claim create "$PL_L" "$@" >/dev/null || { rm -rf "$PL_DIR"; pl_die 4 "cannot write the intent claim for $PL_L"; }
	if [ -n "$PL_SLUG" ]; then
		# Two acquires asking for one slug at once: the later claim gives way.
		pl_slug_holders "$PL_SLUG" "$PL_L"
		if [ -n "$PL_HOLDERS" ]; then
			claim rm "$PL_L" >/dev/null 2>&1 || pl_warn "could not remove the intent claim $PL_L"
			rm -rf "$PL_DIR"
			pl_usage_error --slug "'$PL_SLUG' is taken by lease $PL_HOLDERS"
		fi
	fi
	pl_step "lease $PL_L: intent claim written"
	# run learns its lease here, before anything exists to clean up.
	[ -z "${PL_ACQUIRE_LEASE_FILE:-}" ] || printf '%s\n' "$PL_L" >"$PL_ACQUIRE_LEASE_FILE"
	# Steps 5-11: interrupts and failed claim writes roll back.
	trap 'pl_on_signal 130' INT
	trap 'pl_on_signal 143' TERM
	trap 'pl_on_signal 129' HUP
	PL_ACQUIRING=1
	pl_deploy "$name" "$PL_COMPOSE" "$PL_DIR/id_ed25519.pub"
	pl_check_interrupt
	pl_wait_ready "$name"
	pl_check_interrupt
	pl_ssh_ready || pl_rollback "SSH to $PL_HOST not reachable: ${PL_SSH_ERR:-no answer}"
	pl_check_interrupt
	if [ "$CF_ATTEST" = 1 ]; then
		pl_attest_gate "$PL_COMPOSE" || pl_rollback "attestation failed: $PL_ATTEST_ERR" 1
		pl_check_interrupt
	else
		pl_warn "attestation disabled by $CF_ATTEST_SRC: this CVM's hardware and code are not verified; the lease records it and its use does not require it"
	fi
	# Step 11
	C_LEASE=$PL_L C_REV=$(claim_field "$PL_L" revision)
	claim_cas state=ready attested="$attest_req" last_touched_at="$(pl_now)"
	PL_ACQUIRING=0
	trap 'pl_signalled 130' INT
	trap 'pl_signalled 143' TERM
	trap 'pl_signalled 129' HUP
	pl_check_interrupt_late
	pl_ssh_config_update
	pl_step "lease $PL_L ready"
}

# A signal that came during the last claim write: the lease is ready and
# kept (it is usable; release or cleanup remove it); say so and stop.
pl_check_interrupt_late() {
	[ "$PL_INTERRUPTED" = 0 ] || pl_die "$PL_INTERRUPTED" "interrupted after lease $PL_L became ready; it is kept (release it with: phala-lease release $PL_L)"
}

# Step 11's result on standard output: one line, or one JSON object.
pl_acquire_result() {
	claim_load "$PL_L" || pl_die 4 "lease $PL_L: claim gone"
	if [ "$PL_AJSON" = 1 ]; then
		pl_jobject s:lease_id="$PL_L" s:name="$PL_NAME" s:slug="$PL_SLUG" s:app_id="$PL_APP" s:gateway_host="$PL_HOST" \
			n:gateway_port="$PL_PORT" b:attested="$C_ATTESTED" b:attestation_required="$C_ATTEST_REQ" \
			b:keep="$C_KEEP" n:expires_at="$C_EXPIRES"
	else
		printf 'lease=%s%s app_id=%s host=%s port=%s\n' "$PL_L" "${PL_SLUG:+ slug=$PL_SLUG}" "$PL_APP" "$PL_HOST" "$PL_PORT"
	fi
}

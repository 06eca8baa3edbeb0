# shellcheck shell=sh disable=SC2034,SC2153 # variables shared by the sourced helpers
# phala-lease helpers: messages, configuration (trust rules), running the
# phala CLI safely, JSON access through phala-json, the claim ledger.

PL_TOOL=phala-lease
PL_PREFIX=tdxlease
PL_TAG=phala-lease-ssh

# Exit classes (lease-contract.md): 0 ok, 1 runtime failure, 2 usage/config,
# ambiguous match, claim changed; 4 refusal or not found; 5 malformed or
# inconsistent CLI output, timeouts; otherwise the phala CLI's own status.
pl_say() { printf '%s: %s\n' "$PL_TOOL" "$*" >&2; }
pl_die() {
	code=$1; shift
	pl_say "$*"
	exit "$code"
}
pl_warn() { pl_say "warning: $*"; }
# Progress on stderr with elapsed seconds since the command started.
pl_step() { printf '%s: [%3ss] %s\n' "$PL_TOOL" "$(($(date +%s) - PL_T0))" "$*" >&2; }
pl_now() { printf '%s\n' "${PHALA_LEASE_NOW:-$(date +%s)}"; }

pl_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
pl_random_hex() { # bytes; an RNG failure aborts (no fallback)
	h=$(pl_hex "$1") || pl_die 4 "cannot read /dev/urandom"
	[ ${#h} -eq $(($1 * 2)) ] || pl_die 4 "short read from /dev/urandom"
	printf '%s\n' "$h"
}

pl_is_hex40() { case $1 in *[!0-9a-f]*) return 1 ;; esac; [ ${#1} -eq 40 ]; }
pl_is_lease() { case $1 in *[!0-9a-f]*) return 1 ;; esac; [ ${#1} -eq 12 ]; }
pl_is_uint() { case $1 in '' | *[!0-9]*) return 1 ;; esac; }
# A POSIX portable user name: [A-Za-z0-9._-], no leading '-', at most 32
# (it reaches ssh's -l and an ssh_config line).
pl_is_user() {
	case $1 in '' | -* | *[!A-Za-z0-9_.-]*) return 1 ;; esac
	[ "${#1}" -le 32 ]
}
pl_name() { printf '%s-%s\n' "$PL_PREFIX" "$1"; }
# Lease id of a CVM name that matches ^<prefix>-[0-9a-f]{12}$ exactly, else empty.
pl_lease_of_name() {
	l=${1#"$PL_PREFIX"-}
	if [ "$l" != "$1" ] && pl_is_lease "$l"; then printf '%s\n' "$l"; fi
}

# Durations: 90m, 2h, 300s or plain seconds.
pl_secs() {
	case $1 in
	*[!0-9smh]* | '') return 1 ;;
	*h) v=${1%h}; m=3600 ;;
	*m) v=${1%m}; m=60 ;;
	*s) v=${1%s}; m=1 ;;
	*) v=$1; m=1 ;;
	esac
	pl_is_uint "$v" || return 1
	printf '%s\n' $((v * m))
}

# ---- configuration --------------------------------------------------------
# Precedence: defaults < files < env < flags. The trusted file is the user's
# (or the one PHALA_LEASE_CONFIG names, then the only file read); the
# project-local ./.phala-lease.conf is untrusted: it may set the instance
# type and guest work dir, turn attestation on, and nothing else.

pl_config_defaults() {
	CF_PHALA=phala CF_API='' CF_NODE='' CF_COMPOSE='' CF_TYPE=tdx.small CF_WORKDIR=/var/volatile/phala-lease
	CF_ATTEST=1 CF_TTL=5400 CF_IDLE=1800 CF_GRACE=300 CF_PROV_MARGIN=43200
	CF_IMAGES=$PL_SHARE/allowed-images CF_PRELAUNCH=$PL_SHARE/allowed-prelaunch
	CF_PCCS='' CF_COLLATERAL='' CF_DCAP=online
	CF_READY_TIMEOUT=900 CF_POLL=5 CF_SEARCH=30 CF_SSH_TRIES=30 CF_CLI_TIMEOUT=120
	CF_PROXY_ARGS='' CF_SSH_USER=root
}

# Reads "key = value" lines (no shell evaluation). $2 = trusted|untrusted.
pl_config_file() {
	f=$1 trust=$2
	[ -f "$f" ] || return 0
	[ -r "$f" ] || pl_die 2 "config $f: not readable"
	while IFS='' read -r line || [ -n "$line" ]; do
		case $line in '' | '#'*) continue ;; esac
		case $line in *=*) ;; *) pl_die 2 "config $f: not key = value: $line" ;; esac
		k=$(printf '%s' "${line%%=*}" | tr -d ' \t')
		v=${line#*=}
		v=$(printf '%s' "$v" | sed 's/^[ \t]*//; s/[ \t]*$//')
		if [ "$trust" = untrusted ]; then
			case $k in
			instance_type | work_dir) ;;
			attest) [ "$v" = true ] || pl_warn "config $f: untrusted file may only turn attestation on; ignored"
				[ "$v" = true ] || continue ;;
			*) pl_warn "config $f: '$k' is not accepted from a project file; ignored"; continue ;;
			esac
		fi
		pl_config_set "$k" "$v" "config $f"
	done <"$f"
}

pl_config_set() {
	k=$1 v=$2 src=$3
	case $k in
	phala) case $v in [~]/*) v=$HOME/${v#??} ;; esac; CF_PHALA=$v ;;
	api_prefix) CF_API=$v ;;
	node) CF_NODE=$(printf '%s' "$v" | tr -d ' \t') ;;
	compose) CF_COMPOSE=$v ;;
	instance_type) CF_TYPE=$v ;;
	work_dir) CF_WORKDIR=$v ;;
	attest) case $v in true | 1 | yes) CF_ATTEST=1 ;; false | 0 | no) CF_ATTEST=0 ;; *) pl_die 2 "$src: attest: not true/false" ;; esac ;;
	ttl) CF_TTL=$(pl_secs "$v") || pl_die 2 "$src: ttl: bad duration '$v'" ;;
	idle) CF_IDLE=$(pl_secs "$v") || pl_die 2 "$src: idle: bad duration '$v'" ;;
	grace) CF_GRACE=$(pl_secs "$v") || pl_die 2 "$src: grace: bad duration '$v'" ;;
	allowed_images) CF_IMAGES=$v ;;
	allowed_prelaunch) CF_PRELAUNCH=$v ;;
	pccs) CF_PCCS=$v ;;
	collateral) CF_COLLATERAL=$v ;;
	dcap) case $v in online | reduced) CF_DCAP=$v ;; *) pl_die 2 "$src: dcap: online or reduced" ;; esac ;;
	ready_timeout) CF_READY_TIMEOUT=$(pl_secs "$v") || pl_die 2 "$src: ready_timeout: bad duration" ;;
	poll) CF_POLL=$(pl_secs "$v") || pl_die 2 "$src: poll: bad duration" ;;
	search) CF_SEARCH=$(pl_secs "$v") || pl_die 2 "$src: search: bad duration" ;;
	ssh_tries) pl_is_uint "$v" || pl_die 2 "$src: ssh_tries: not a number"; CF_SSH_TRIES=$v ;;
	cli_timeout) CF_CLI_TIMEOUT=$(pl_secs "$v") || pl_die 2 "$src: cli_timeout: bad duration" ;;
	proxy_args) CF_PROXY_ARGS=$v ;;
	ssh_user) pl_is_user "$v" || pl_die 2 "$src: ssh_user: not a user name '$v'"; CF_SSH_USER=$v ;;
	*) pl_die 2 "$src: unknown setting '$k'" ;;
	esac
}

pl_config_env() {
	[ -z "${PHALA_LEASE_PHALA:-}" ] || pl_config_set phala "$PHALA_LEASE_PHALA" env
	[ -z "${PHALA_CLOUD_API_PREFIX:-}" ] || CF_API=$PHALA_CLOUD_API_PREFIX
	[ -z "${PHALA_LEASE_NODE:-}" ] || pl_config_set node "$PHALA_LEASE_NODE" env
	[ -z "${PHALA_LEASE_COMPOSE:-}" ] || CF_COMPOSE=$PHALA_LEASE_COMPOSE
	[ -z "${PHALA_LEASE_TYPE:-}" ] || CF_TYPE=$PHALA_LEASE_TYPE
	[ -z "${PHALA_LEASE_ATTEST:-}" ] || pl_config_set attest "$PHALA_LEASE_ATTEST" env
	[ -z "${PHALA_LEASE_TTL:-}" ] || pl_config_set ttl "$PHALA_LEASE_TTL" env
	[ -z "${PHALA_LEASE_IDLE:-}" ] || pl_config_set idle "$PHALA_LEASE_IDLE" env
	[ -z "${PHALA_LEASE_GRACE:-}" ] || pl_config_set grace "$PHALA_LEASE_GRACE" env
	[ -z "${PHALA_LEASE_POLL:-}" ] || pl_config_set poll "$PHALA_LEASE_POLL" env
	[ -z "${PHALA_LEASE_SEARCH:-}" ] || pl_config_set search "$PHALA_LEASE_SEARCH" env
	[ -z "${PHALA_LEASE_READY_TIMEOUT:-}" ] || pl_config_set ready_timeout "$PHALA_LEASE_READY_TIMEOUT" env
	[ -z "${PHALA_LEASE_SSH_TRIES:-}" ] || pl_config_set ssh_tries "$PHALA_LEASE_SSH_TRIES" env
	[ -z "${PHALA_LEASE_CLI_TIMEOUT:-}" ] || pl_config_set cli_timeout "$PHALA_LEASE_CLI_TIMEOUT" env
	[ -z "${PHALA_LEASE_PROXY_ARGS:-}" ] || CF_PROXY_ARGS=$PHALA_LEASE_PROXY_ARGS
	[ -z "${PHALA_LEASE_SSH_USER:-}" ] || pl_config_set ssh_user "$PHALA_LEASE_SSH_USER" env
	return 0
}

pl_config_load() {
	pl_config_defaults
	if [ -n "${PHALA_LEASE_CONFIG:-}" ]; then
		[ -f "$PHALA_LEASE_CONFIG" ] || pl_die 2 "config $PHALA_LEASE_CONFIG: no such file"
		pl_config_file "$PHALA_LEASE_CONFIG" trusted
	else
		pl_config_file "${XDG_CONFIG_HOME:-$HOME/.config}/phala-lease/config" trusted
		pl_config_file ./.phala-lease.conf untrusted
	fi
	pl_config_env
}

# Validation after flags applied (step 1; contract §6).
pl_config_check() {
	case $CF_TYPE in
	[a-z0-9]*) ;;
	*) pl_die 2 "instance type '$CF_TYPE': must match ^[a-z0-9][a-z0-9.-]*\$" ;;
	esac
	case $CF_TYPE in *[!a-z0-9.-]*) pl_die 2 "instance type '$CF_TYPE': must match ^[a-z0-9][a-z0-9.-]*\$" ;; esac
	case $CF_WORKDIR in
	/var/volatile/?*) ;;
	*) pl_die 2 "work dir '$CF_WORKDIR': must be a strict subdirectory of /var/volatile/" ;;
	esac
	case $CF_WORKDIR in *..* | *[!A-Za-z0-9_./-]*) pl_die 2 "work dir '$CF_WORKDIR': invalid characters or '..'" ;; esac
	if [ -n "$CF_COMPOSE" ]; then
		case $CF_COMPOSE in *://*) pl_die 2 "compose '$CF_COMPOSE': a local file, not a URL" ;; esac
		case /$CF_COMPOSE/ in */../*) pl_die 2 "compose '$CF_COMPOSE': must not contain '..'" ;; esac
		[ -f "$CF_COMPOSE" ] || pl_die 2 "compose '$CF_COMPOSE': no such file"
	fi
	[ -z "$CF_NODE" ] || pl_is_uint "$CF_NODE" || pl_die 2 "node '$CF_NODE': must be numeric"
}

# ---- state, tools ----------------------------------------------------------

pl_state_dir() { printf '%s\n' "${XDG_STATE_HOME:-$HOME/.local/state}/phala-lease"; }
pl_lease_dir() { printf '%s/leases/%s\n' "$(pl_state_dir)" "$1"; }

# A tool named by trusted env (PHALA_LEASE_PROXY, PHALA_LEASE_DCAP_VERIFY,
# PHALA_LEASE_COLLATERAL_FETCH), else a sibling (same bin/ as this script),
# else one on PATH.
pl_tool() {
	case $1 in
	phala-proxy) o=${PHALA_LEASE_PROXY:-} ;;
	tdx-dcap-verify) o=${PHALA_LEASE_DCAP_VERIFY:-} ;;
	tdx-collateral-fetch) o=${PHALA_LEASE_COLLATERAL_FETCH:-} ;;
	*) o='' ;;
	esac
	if [ -n "$o" ]; then printf '%s\n' "$o"
	elif [ -x "$PL_BINDIR/$1" ]; then printf '%s\n' "$PL_BINDIR/$1"
	elif command -v "$1" >/dev/null 2>&1; then command -v "$1"
	else return 1; fi
}

pl_init_tmp() {
	PL_TMP=$(mktemp -d "${TMPDIR:-/tmp}/phala-lease.XXXXXX") || pl_die 4 "cannot create a temporary directory"
	mkdir -m 700 "$PL_TMP/cwd" "$PL_TMP/io" || pl_die 4 "cannot create $PL_TMP"
	PL_CALL=0
}
pl_cleanup_tmp() { [ -z "${PL_TMP:-}" ] || rm -rf "$PL_TMP"; }

# JSON through phala-json (never grep/sed).
pj() { "$PL_JSON" "$@"; }

# ---- the phala CLI -----------------------------------------------------------
# run_phala ARGS...: runs the CLI in the private empty directory, stdin from
# /dev/null, no DEBUG, update check off, under a timeout, in its own session
# (a terminal interrupt must not reach it: it exits 0 when signalled, D9).
# Sets PL_OUT/PL_ERR (files) and PL_RC.
run_phala() {
	PL_CALL=$((PL_CALL + 1))
	PL_OUT=$PL_TMP/io/$PL_CALL.out
	PL_ERR=$PL_TMP/io/$PL_CALL.err
	if (cd "$PL_TMP/cwd" && if [ -n "$CF_API" ]; then export PHALA_CLOUD_API_PREFIX="$CF_API"; fi &&
		exec env -u DEBUG PHALA_DISABLE_UPDATE_CHECK=1 setsid -w timeout -k 5 "$CF_CLI_TIMEOUT" "$CF_PHALA" "$@") \
		</dev/null >"$PL_OUT" 2>"$PL_ERR"; then
		PL_RC=0
	else
		PL_RC=$?
	fi
}

# True when the last call printed a JSON object with success:true.
pl_ok_json() {
	[ "$PL_RC" -eq 0 ] || return 1
	s=$(pj --embedded get "$PL_OUT" success 2>/dev/null) || return 1
	[ "$s" = true ]
}

# The CLI's error text from the last call (stdout JSON, else stderr), one line.
pl_cli_error() {
	e=$(pj --embedded get "$PL_OUT" error 2>/dev/null) || e=''
	[ -n "$e" ] || e=$(pj --embedded get "$PL_ERR" error 2>/dev/null) || e=''
	[ -n "$e" ] || e=$(tr '\n' ' ' <"$PL_ERR" | cut -c1-300)
	[ -n "$e" ] || e="no output (rc $PL_RC)"
	printf '%s\n' "$e"
}

# Scope: API base, account workspace (whoami), node pin. Sets PL_SCOPE_*.
pl_whoami() {
	run_phala whoami --json
	if ! pl_ok_json; then
		rc=$PL_RC; [ "$rc" -ne 0 ] || rc=5
		pl_die "$rc" "phala whoami: $(pl_cli_error)"
	fi
	PL_SCOPE_API=${CF_API:-https://cloud-api.phala.com/api/v1}
	PL_SCOPE_WS=$(pj --embedded get "$PL_OUT" 'workspace.slug|workspace') || pl_die 5 "phala whoami: malformed output"
	[ -n "$PL_SCOPE_WS" ] || pl_die 5 "phala whoami: no workspace"
	PL_SCOPE_NODE=$CF_NODE
	PL_WHOAMI_OK=1
	PL_EXPORT_API=$PL_SCOPE_API PL_EXPORT_WS=$PL_SCOPE_WS PL_EXPORT_NODE=$PL_SCOPE_NODE
	export PL_EXPORT_API PL_EXPORT_WS PL_EXPORT_NODE
}

# ---- the claim ledger (phala-claim) ------------------------------------------

claim() { "$PL_CLAIM" "$@"; }
# claim_field LEASE FIELD: bare value, empty when unset.
claim_field() { claim get "$1" "$2" 2>/dev/null || true; }
# Loads a claim into C_* variables; returns 1 when there is none.
claim_load() {
	f=$PL_TMP/claim.$1.json
	claim --json get "$1" >"$f" 2>"$PL_TMP/claim.err" || return 1
	C_LEASE=$1
	# shellcheck disable=SC2034 # read by callers
	{
		read -r C_ID; read -r C_NAME; read -r C_SLUG; read -r C_APP; read -r C_VM
		read -r C_STATE; read -r C_RECOVERY; read -r C_KEEP; read -r C_REV
		read -r C_CREATED; read -r C_TTL; read -r C_IDLE; read -r C_TOUCHED; read -r C_EXPIRES
		read -r C_HOST; read -r C_PORT; read -r C_ATTESTED; read -r C_API; read -r C_WS; read -r C_NODE
		read -r C_KEYDIR; read -r C_KNOWN
	} <<EOF
$(pj get "$f" lease_id name slug app_id vm_uuid state recovery keep revision created_at ttl_secs idle_secs \
	last_touched_at expires_at gateway_host gateway_port attested scope_api scope_workspace scope_node key_dir known_hosts)
EOF
	if [ "$C_ID" != "$1" ]; then
		pl_say "claim $1: lease_id '$C_ID' does not match its file; refused"
		return 2
	fi
	return 0
}

# O5/O6: a claim is in scope when API base and workspace match this run's.
claim_in_scope() { [ "$C_API" = "$PL_SCOPE_API" ] && [ "$C_WS" = "$PL_SCOPE_WS" ] && [ "$C_NODE" = "$PL_SCOPE_NODE" ]; }

# CAS update of the loaded claim; refreshes C_REV. Exit 2 when it changed
# (phala-claim exit 1 with --if-revision), 1 when the write failed. During
# acquire, after the intent claim, a failure rolls back instead.
claim_cas() {
	if claim set "$C_LEASE" --if-revision "$C_REV" "$@" >/dev/null 2>"$PL_TMP/cas.err"; then
		C_REV=$(claim_field "$C_LEASE" revision)
		return 0
	else
		rc=$?
	fi
	why=$(tr '\n' ' ' <"$PL_TMP/cas.err")
	if [ "$rc" -eq 1 ]; then msg="claim $C_LEASE changed; retry ($why)" rc=2
	else msg="claim $C_LEASE: write failed: $why" rc=1; fi
	if [ "${PL_ACQUIRING:-0}" = 1 ] && [ "${PL_ROLLING:-0}" = 0 ]; then pl_rollback "$msg"; fi
	pl_die "$rc" "$msg"
}

# Removes the claim (CAS), then the per-lease key dir (only after the claim).
claim_remove() {
	claim rm "$C_LEASE" --if-revision "$C_REV" >/dev/null 2>"$PL_TMP/cas.err" ||
		pl_die 2 "claim $C_LEASE changed; retry ($(tr '\n' ' ' <"$PL_TMP/cas.err"))"
	rm -rf "$(pl_lease_dir "$C_LEASE")"
}

# Leases of all readable claims, one per line (unreadable ones reported).
claim_leases() {
	claim --json list >"$PL_TMP/claims.json" || pl_die 4 "phala-claim list failed"
	pj items "$PL_TMP/claims.json" claims lease_id
}

# expires_at = min(last_touched + idle, created + ttl)
pl_expiry() {
	a=$(($1 + $3)) b=$(($2 + $4))
	if [ "$a" -lt "$b" ]; then echo "$a"; else echo "$b"; fi
}

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

# Durations as people type them: plain seconds or number+unit groups in the
# order d, h, m, s (300, 300s, 90m, 2h, 1d, 1h30m, 1d12h); at most 366 days.
PL_DURATION_FORMS='300, 300s, 90m, 2h, 1d, 1h30m'
pl_secs() {
	_d=$1 _t=0 _units=dhms
	case $_d in '' | *[!0-9dhms]* | [!0-9]*) return 1 ;; esac
	pl_is_uint "$_d" && _d=${_d}s
	while [ -n "$_d" ]; do
		_n=${_d%%[dhms]*}
		_d=${_d#"$_n"}
		_u=${_d%"${_d#?}"}
		_d=${_d#?}
		# each unit once, larger first; at most 9 digits (no overflow)
		case $_units in *"$_u"*) _units=${_units#*"$_u"} ;; *) return 1 ;; esac
		{ [ -n "$_n" ] && [ ${#_n} -le 9 ]; } || return 1
		while case $_n in 0?*) true ;; *) false ;; esac; do _n=${_n#0}; done
		case $_u in d) _m=86400 ;; h) _m=3600 ;; m) _m=60 ;; s) _m=1 ;; esac
		_t=$((_t + _n * _m))
	done
	[ "$_t" -le 31622400 ] || return 1
	printf '%s\n' "$_t"
}

# pl_duration SRC VALUE MIN: seconds, or exit 2 naming SRC and the forms.
pl_duration() {
	_s=$(pl_secs "$2") || pl_die 2 "$1: '$2' is not a duration (forms: $PL_DURATION_FORMS; at most 366d)"
	[ "$_s" -ge "$3" ] || pl_die 2 "$1: '$2' is too short (at least $(pl_human_secs "$3"))"
	printf '%s\n' "$_s"
}

# 5400 -> 1h30m, 90 -> 1m30s, 0 -> 0s (for people).
pl_human_secs() {
	_h='' _r=$1
	[ "$_r" -lt 86400 ] || { _h=$((_r / 86400))d; _r=$((_r % 86400)); }
	[ "$_r" -lt 3600 ] || { _h=$_h$((_r / 3600))h; _r=$((_r % 3600)); }
	[ "$_r" -lt 60 ] || { _h=$_h$((_r / 60))m; _r=$((_r % 60)); }
	[ "$_r" -eq 0 ] && [ -n "$_h" ] || _h=$_h${_r}s
	printf '%s\n' "$_h"
}

# An expiry for people: "2026-11-25 10:30Z (in 25m)" or "(expired 3m ago)".
pl_when() {
	case $1 in '' | *[!0-9]*) printf '%s\n' "${1:--}"; return 0 ;; esac
	_now=$(pl_now)
	_at=$(date -u -d "@$1" '+%Y-%m-%d %H:%MZ' 2>/dev/null) || _at=$1
	if [ "$1" -gt "$_now" ]; then printf '%s (in %s)\n' "$_at" "$(pl_human_secs $(($1 - _now)))"
	else printf '%s (expired %s ago)\n' "$_at" "$(pl_human_secs $((_now - $1)))"; fi
}

# ---- command lines ------------------------------------------------------------
# One mechanism for the command line of every command (the global options,
# doctor, acquire, status, ..., and any new command such as run):
#
#     pl_getopts CMD SPEC OPERANDS "$@"; shift "$PL_SHIFT"; pl_setup
#
# SPEC lists the options, space-separated: "--name" is a flag, "--name=" takes
# a value (as the next word or --name=VALUE; empty, or a word starting with
# "-", is refused), "-x|--name=" adds a short form. Each option sets
# OPT_<name> (dashes as underscores): 1 for a flag, the value for the others,
# empty when not given. "--name=+" may be repeated: OPT_<name> counts the
# values (0 when none), OPT_<name>_1 ... hold them in order. -h/--help prints CMD's usage (pl_usage_text CMD) on
# standard output and exits 0, whatever else is on the line. Parsing stops at
# "--" or at the first operand, so that a remote command keeps its own
# options. OPERANDS is the synopsis of what must remain ("LEASE", "[LEASE]",
# "LEASE [COMMAND...]", ""): its unbracketed words are required, "..." allows
# any number. Every error is one line on standard error, "phala-lease: WHAT:
# why (see 'phala-lease CMD --help')", and exit 2. pl_setup then loads the
# configuration (flags win over it: apply OPT_* after pl_setup), finds the
# companion tools and makes the private temporary directory. A new command
# adds its usage to pl_usage_text and its name to PL_COMMANDS (commands.sh);
# acquire's options are PL_ACQUIRE_SPEC, applied by pl_acquire_options
# (acquire.sh), for any command that acquires.

PL_CMD=''
pl_usage_error() {
	printf "%s: %s: %s (see '%s --help')\n" "$PL_TOOL" "$1" "$2" "$PL_TOOL${PL_CMD:+ $PL_CMD}" >&2
	exit 2
}

# PL_OV: the variable suffix of one SPEC entry ("-t|--type=" -> type).
pl_opt_var() {
	PL_OV=${1%+}
	PL_OV=${PL_OV%=}
	PL_OV=${PL_OV##*|}
	PL_OV=${PL_OV#--}
	while case $PL_OV in *-*) true ;; *) false ;; esac; do PL_OV=${PL_OV%%-*}_${PL_OV#*-}; done
}

pl_getopts() {
	PL_CMD=$1 _go_spec=$2 _go_ops=$3
	shift 3
	_go_n=$#
	for _go_o in $_go_spec; do
		pl_opt_var "$_go_o"
		case $_go_o in *=+) eval "OPT_$PL_OV=0" ;; *) eval "OPT_$PL_OV=''" ;; esac
	done
	# --help anywhere before "--" or the first operand wins.
	for _go_a in "$@"; do
		case $_go_a in -h | --help) pl_usage_text "$PL_CMD"; exit 0 ;; --) break ;; -?*) ;; *) break ;; esac
	done
	while [ $# -gt 0 ]; do
		case $1 in
		--) shift; break ;;
		-h | --help) pl_usage_text "$PL_CMD"; exit 0 ;;
		--*=*) _go_name=${1%%=*} _go_val=${1#*=} _go_inline=1 ;;
		-?*) _go_name=$1 _go_val='' _go_inline=0 ;;
		*) break ;;
		esac
		_go_found=''
		for _go_o in $_go_spec; do
			_go_b=${_go_o%+}
			case "|${_go_b%=}|" in *"|$_go_name|"*) _go_found=$_go_o; break ;; esac
		done
		[ -n "$_go_found" ] || pl_usage_error "$_go_name" "unknown option"
		pl_opt_var "$_go_found"
		case $_go_found in
		*=| *=+)
			if [ "$_go_inline" = 0 ]; then
				case ${2-} in '' | -?*) pl_usage_error "$_go_name" "needs a value" ;; esac
				_go_val=$2
				shift
			fi
			[ -n "$_go_val" ] || pl_usage_error "$_go_name" "needs a value"
			case $_go_found in
			*+)
				_go_i=0
				eval "_go_i=\$((OPT_$PL_OV + 1))"
				eval "OPT_$PL_OV=\$_go_i OPT_${PL_OV}_$_go_i=\$_go_val" ;;
			*) eval "OPT_$PL_OV=\$_go_val" ;;
			esac ;;
		*)
			[ "$_go_inline" = 0 ] || pl_usage_error "$_go_name" "takes no value"
			eval "OPT_$PL_OV=1" ;;
		esac
		shift
	done
	PL_SHIFT=$((_go_n - $#))
	_go_need=0 _go_max=0
	for _go_w in $_go_ops; do
		case $_go_w in *...*) _go_max=-1 ;; \[*) [ "$_go_max" -lt 0 ] || _go_max=$((_go_max + 1)) ;;
		*) _go_need=$((_go_need + 1)); [ "$_go_max" -lt 0 ] || _go_max=$((_go_max + 1)) ;; esac
	done
	if [ $# -lt "$_go_need" ]; then
		# shellcheck disable=SC2086 # one word per operand of the synopsis
		_go_missing=$(printf '%s\n' $_go_ops | sed -n "$(($# + 1))p")
		pl_usage_error "$_go_missing" "missing"
	fi
	[ "$_go_max" -lt 0 ] || [ $# -le "$_go_max" ] ||
		pl_usage_error "$(eval "printf '%s' \"\${$((_go_max + 1))}\"")" "unexpected argument"
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
	CF_PINNED='' CF_IMAGE_URL='' CF_IMAGE_CACHE='' CF_ACPI_LIST=''
	CF_PCCS='' CF_COLLATERAL='' CF_DCAP=online
	CF_READY_TIMEOUT=900 CF_POLL=5 CF_SEARCH=30 CF_SSH_TRIES=30 CF_CLI_TIMEOUT=120
	CF_PROXY_ARGS='' CF_SSH_USER=root CF_ATTEST_SRC=default CF_CLAIMS_PG=''
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
		pl_config_set "$k" "$v" "config $f: $k"
	done <"$f"
}

# pl_config_set KEY VALUE SRC: one setting; SRC names where it came from in
# errors ("config FILE: ttl", "PHALA_LEASE_TTL", "--ttl").
pl_config_set() {
	k=$1 v=$2 src=$3
	case $k in
	phala) case $v in [~]/*) v=$HOME/${v#??} ;; esac; CF_PHALA=$v ;;
	api_prefix) CF_API=$v ;;
	node) CF_NODE=$(printf '%s' "$v" | tr -d ' \t') ;;
	compose) CF_COMPOSE=$v ;;
	instance_type) CF_TYPE=$v ;;
	work_dir) CF_WORKDIR=$v ;;
	attest) case $v in true | 1 | yes) CF_ATTEST=1 ;; false | 0 | no) CF_ATTEST=0 ;; *) pl_die 2 "$src: '$v' is not true or false" ;; esac
		CF_ATTEST_SRC=$src ;;
	ttl) CF_TTL=$(pl_duration "$src" "$v" 60) || exit 2 ;;
	idle) CF_IDLE=$(pl_duration "$src" "$v" 60) || exit 2 ;;
	grace) CF_GRACE=$(pl_duration "$src" "$v" 0) || exit 2 ;;
	allowed_images) CF_IMAGES=$v ;;
	pinned_registers) CF_PINNED=$v ;;
	image_url)
		case $v in http://*'{OS_IMAGE_HASH}'* | https://*'{OS_IMAGE_HASH}'*) ;;
		*) pl_die 2 "$src: '$v' is not an http(s) URL template with {OS_IMAGE_HASH}" ;;
		esac
		CF_IMAGE_URL=$v ;;
	image_cache) CF_IMAGE_CACHE=$v ;;
	acpi_list) CF_ACPI_LIST=$v ;;
	allowed_prelaunch) CF_PRELAUNCH=$v ;;
	pccs) CF_PCCS=$v ;;
	collateral) CF_COLLATERAL=$v ;;
	dcap) case $v in online | reduced) CF_DCAP=$v ;; *) pl_die 2 "$src: '$v' is not online or reduced" ;; esac ;;
	ready_timeout) CF_READY_TIMEOUT=$(pl_duration "$src" "$v" 1) || exit 2 ;;
	poll) CF_POLL=$(pl_duration "$src" "$v" 0) || exit 2 ;;
	search) CF_SEARCH=$(pl_duration "$src" "$v" 0) || exit 2 ;;
	ssh_tries) { pl_is_uint "$v" && [ ${#v} -le 4 ] && [ "$v" -ge 1 ]; } || pl_die 2 "$src: '$v' is not a number from 1 to 9999"
		CF_SSH_TRIES=$v ;;
	cli_timeout) CF_CLI_TIMEOUT=$(pl_duration "$src" "$v" 1) || exit 2 ;;
	proxy_args) CF_PROXY_ARGS=$v ;;
	claims_url) CF_CLAIMS_PG=${v:+1} ;; # the store: phala-claim reads the URL itself (phala-claim(1), STORES)
	ssh_user) pl_is_user "$v" || pl_die 2 "$src: '$v' is not a user name"; CF_SSH_USER=$v ;;
	*) pl_die 2 "$src: unknown setting" ;;
	esac
}

pl_config_env() {
	for _ce in phala:PHALA_LEASE_PHALA node:PHALA_LEASE_NODE compose:PHALA_LEASE_COMPOSE \
		instance_type:PHALA_LEASE_TYPE attest:PHALA_LEASE_ATTEST ttl:PHALA_LEASE_TTL idle:PHALA_LEASE_IDLE \
		grace:PHALA_LEASE_GRACE poll:PHALA_LEASE_POLL search:PHALA_LEASE_SEARCH \
		ready_timeout:PHALA_LEASE_READY_TIMEOUT ssh_tries:PHALA_LEASE_SSH_TRIES \
		cli_timeout:PHALA_LEASE_CLI_TIMEOUT proxy_args:PHALA_LEASE_PROXY_ARGS ssh_user:PHALA_LEASE_SSH_USER \
		allowed_images:PHALA_LEASE_ALLOWED_IMAGES pinned_registers:PHALA_LEASE_PINNED_REGISTERS \
		image_url:PHALA_LEASE_IMAGE_URL image_cache:PHALA_LEASE_IMAGE_CACHE acpi_list:PHALA_LEASE_ACPI_LIST; do
		eval "_cv=\${${_ce#*:}:-}"
		[ -z "$_cv" ] || pl_config_set "${_ce%%:*}" "$_cv" "${_ce#*:}"
	done
	[ -z "${PHALA_CLOUD_API_PREFIX:-}" ] || CF_API=$PHALA_CLOUD_API_PREFIX
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
		if [ -d "$CF_COMPOSE" ]; then pl_die 2 "compose '$CF_COMPOSE': a directory, not a compose file"
		elif [ ! -e "$CF_COMPOSE" ]; then pl_die 2 "compose '$CF_COMPOSE': no such file"
		elif [ ! -f "$CF_COMPOSE" ] || [ ! -r "$CF_COMPOSE" ]; then pl_die 2 "compose '$CF_COMPOSE': not a readable file"; fi
	fi
	[ -z "$CF_NODE" ] || pl_is_uint "$CF_NODE" || pl_die 2 "node '$CF_NODE': must be numeric"
}

# ---- state, tools ----------------------------------------------------------

pl_state_dir() { printf '%s\n' "${XDG_STATE_HOME:-$HOME/.local/state}/phala-lease"; }
pl_lease_dir() { printf '%s/leases/%s\n' "$(pl_state_dir)" "$1"; }
# The claim ledger's directory, as phala-claim finds it.
pl_claims_dir() { printf '%s\n' "${PHALA_CLAIMS_DIR:-$(pl_state_dir)/claims}"; }
# True when phala-claim keeps the claims in PostgreSQL: PHALA_CLAIMS_URL, else
# the trusted config's claims_url (a project file cannot set it).
pl_claims_on_pg() { [ -n "${PHALA_CLAIMS_URL:-}" ] || [ -n "$CF_CLAIMS_PG" ]; }
# This machine's random id, made by phala-claim on its first use of
# PostgreSQL (phala-claim(1), STORES); empty before.
pl_machine_id() { head -c 32 "$(pl_state_dir)/machine-id" 2>/dev/null || true; }

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

# After a command's options are parsed (pl_getopts): the configuration and
# the global flags (--phala, --node), the companion tools, the private
# temporary directory. "no-claims": the command needs no claim ledger.
pl_setup() {
	pl_config_load
	[ -z "${PL_G_PHALA:-}" ] || pl_config_set phala "$PL_G_PHALA" --phala
	[ -z "${PL_G_NODE:-}" ] || pl_config_set node "$PL_G_NODE" --node
	PL_JSON=$(pl_tool phala-json) || pl_die 4 "phala-json not found (install phala-tools)"
	PL_CLAIM=${PHALA_LEASE_CLAIM:-$(pl_tool phala-claim || true)}
	[ -n "$PL_CLAIM" ] || [ "${1:-}" = no-claims ] || pl_die 4 "phala-claim not found (install phala-tools)"
	pl_init_tmp
}

# The private temporary directory (CLI answers, claim copies: the whoami
# answer names the account) goes on every way out: exit, error, interrupt,
# a closed output pipe, a hang-up. The traps are set before it exists.
pl_init_tmp() {
	trap pl_exit EXIT
	trap 'pl_signalled 129' HUP
	trap 'pl_signalled 130' INT
	trap 'pl_signalled 141' PIPE
	trap 'pl_signalled 143' TERM
	PL_TMP=$(mktemp -d "${TMPDIR:-/tmp}/phala-lease.XXXXXX") || pl_die 4 "cannot create a temporary directory"
	mkdir -m 700 "$PL_TMP/cwd" "$PL_TMP/io" || pl_die 4 "cannot create $PL_TMP"
	PL_CALL=0
}
pl_signalled() { exit "$1"; }
pl_cleanup_tmp() { [ -z "${PL_TMP:-}" ] || rm -rf "$PL_TMP"; PL_TMP=''; }

# EXIT: an acquire cut short between its intent claim and its end rolls back
# first (in a subshell: its own exit must not skip the cleanup), then the
# temporary directory goes.
pl_exit() {
	rc=$?
	if [ "${PL_ACQUIRING:-0}" = 1 ] && [ "${PL_ROLLING:-0}" = 0 ]; then
		why=aborted
		[ "${PL_INTERRUPTED:-0}" = 0 ] || why=interrupted
		(pl_rollback "$why" 0) && rc=0 || rc=$?
		PL_ACQUIRING=0
	fi
	pl_cleanup_tmp
	exit "$rc"
}

# JSON through phala-json (never grep/sed).
pj() { "$PL_JSON" "$@"; }

# One JSON object with typed members, each argument TYPE:KEY=VALUE: s a
# string (null when empty), n a number (null when not one), b a boolean
# (true for "true" or 1), j raw JSON. The types are those of phala-lease(1),
# JSON OUTPUT.
pl_jobject() {
	_jn=$#
	for _ja in "$@"; do
		_jt=${_ja%%:*} _jkv=${_ja#*:}
		_jk=${_jkv%%=*} _jv=${_jkv#*=}
		case $_jt in
		s) if [ -n "$_jv" ]; then set -- "$@" "$_jk=$_jv"; else set -- "$@" "$_jk:=null"; fi ;;
		n) if pl_is_uint "$_jv"; then set -- "$@" "$_jk:=$_jv"; else set -- "$@" "$_jk:=null"; fi ;;
		b) if [ "$_jv" = true ] || [ "$_jv" = 1 ]; then set -- "$@" "$_jk:=true"; else set -- "$@" "$_jk:=false"; fi ;;
		j) set -- "$@" "$_jk:=$_jv" ;;
		*) pl_die 4 "internal: pl_jobject $_ja" ;;
		esac
	done
	shift "$_jn"
	pj object "$@"
}

# The phala CLI this suite is tested with (t/sim/phala-cli/package.json).
PL_PHALA_PINNED=1.1.18
pl_phala_found() {
	[ -z "${PL_PHALA_OK:-}" ] || return 0
	case $CF_PHALA in */*) [ -f "$CF_PHALA" ] && [ -x "$CF_PHALA" ] ;; *) command -v "$CF_PHALA" >/dev/null 2>&1 ;; esac ||
		pl_die 4 "the phala CLI '$CF_PHALA' is not installed or not executable; install the version this suite is tested with: npm install -g phala@$PL_PHALA_PINNED (or name it with --phala, PHALA_LEASE_PHALA or phala = in the config)"
	PL_PHALA_OK=1
}

run_phala() {
	pl_phala_found
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
	rm -f "$PL_OUT" "$PL_ERR" # it names the account (e-mail)
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
		read -r C_KEYDIR; read -r C_KNOWN; read -r C_ATTEST_REQ
	} <<EOF
$(pj get "$f" lease_id name slug app_id vm_uuid state recovery keep revision created_at ttl_secs idle_secs \
	last_touched_at expires_at gateway_host gateway_port attested scope_api scope_workspace scope_node key_dir known_hosts \
	attest_required)
EOF
	# Claims written before attest_required existed: attestation required.
	[ -n "$C_ATTEST_REQ" ] || C_ATTEST_REQ=true
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

# Removes the claim (CAS), then the per-lease key dir (only after the claim),
# then the lease's block from the kept ssh_config.
claim_remove() {
	claim rm "$C_LEASE" --if-revision "$C_REV" >/dev/null 2>"$PL_TMP/cas.err" ||
		pl_die 2 "claim $C_LEASE changed; retry ($(tr '\n' ' ' <"$PL_TMP/cas.err"))"
	rm -rf "$(pl_lease_dir "$C_LEASE")"
	pl_ssh_config_update
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

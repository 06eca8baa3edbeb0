# shellcheck shell=sh disable=SC2034,SC2153,SC2154 # variables shared by the sourced helpers; OPT_* set by pl_getopts
# run: the whole job in one command (issue 12) - a lease (acquired through
# acquire's own code path, or an existing usable one), a per-lease work root
# in the guest's volatile area, the sync of the project, the command with
# its exact exit status and untouched output, the fetch of results, and the
# release of a lease run acquired, on the non-cancellable path.

# run's options (pl_getopts): its own, then acquire's, whose -t is run's
# terminal switch here (--type stays).
PL_RUN_SPEC="--lease= --sync= --exclude=+ --env=+ --fetch=+ --summary= -t|--tty -T|--no-tty -q|--quiet
	$(printf '%s' "$PL_ACQUIRE_SPEC" | sed 's/-t|--type=/--type=/')"

# Guest programs run needs beyond a POSIX shell (checked before the sync).
PL_RUN_GUEST_TOOLS='rsync python3'

# Quotes one word for a POSIX shell: single quotes, ' as '\''.
pl_sh_quote() {
	case $1 in
	*"'"*) q=$(printf '%sx' "$1" | sed "s/'/'\\\\''/g"); q=${q%x} ;;
	*) q=$1 ;;
	esac
	printf "'%s'" "$q"
}

pl_ms() {
	m=$(date +%s%3N)
	case $m in *[!0-9]*) m=$(($(date +%s) * 1000)) ;; esac
	printf '%s\n' "$m"
}
pl_secs_of_ms() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }

pl_run_step() { [ "$PL_RUN_QUIET" = 1 ] || pl_step "run: $*"; }

# Phases: name, seconds, ok - for the progress line and the summary.
pl_run_phase() { PL_RUN_PHASE=$1 PL_RUN_PHASE_T0=$(pl_ms); }
pl_run_phase_end() { # OK(true|false) DETAIL
	ms=$(($(pl_ms) - PL_RUN_PHASE_T0))
	s=$(pl_secs_of_ms "$ms")
	# Phase names are run's own words: no escaping needed.
	o=$(printf '{"name":"%s","seconds":%s,"ok":%s}' "$PL_RUN_PHASE" "$s" "$1")
	PL_RUN_PHASES=${PL_RUN_PHASES:+$PL_RUN_PHASES,}$o
	[ "$1" = false ] || pl_run_step "$PL_RUN_PHASE ${s}s: $2"
	PL_RUN_DONE_PHASE=$PL_RUN_PHASE PL_RUN_PHASE=''
	pl_run_summary
}

# A failure of run itself in the current phase: message, exit class.
pl_run_fail() {
	code=$1; shift
	PL_RUN_FAILED=$PL_RUN_PHASE
	[ -z "$PL_RUN_PHASE" ] || pl_run_phase_end false ''
	pl_die "$code" "run: $PL_RUN_FAILED: $*"
}

pl_run_on_signal() {
	PL_INTERRUPTED=1
	[ -n "$PL_RUN_SIGNAL" ] || PL_RUN_SIGNAL=$1
}
pl_run_signal_rc() {
	case $PL_RUN_SIGNAL in TERM) echo 143 ;; HUP) echo 129 ;; *) echo 130 ;; esac
}
pl_run_check_interrupt() {
	[ "$PL_INTERRUPTED" = 0 ] || exit "$(pl_run_signal_rc)"
}

# pl_run_fg CMD...: CMD as a child that a signal to run stops at once (then
# run exits 130/143); its exit status otherwise. Its stdin is /dev/null.
pl_run_fg() {
	"$@" &
	p=$!
	pl_run_wait "$p" && return "$PL_WAIT_RC"
	kill -TERM "$p" 2>/dev/null || :
	wait "$p" 2>/dev/null || :
	exit "$(pl_run_signal_rc)"
}

# pl_run_wait PID: 0 once the child is reaped (its status in PL_WAIT_RC), 1
# when a trapped signal ended the wait first (the child runs on).
pl_run_wait() {
	if wait "$1"; then PL_WAIT_RC=0; else PL_WAIT_RC=$?; fi
	! kill -0 "$1" 2>/dev/null
}

pl_run() {
	pl_getopts run "$PL_RUN_SPEC" 'COMMAND [ARG...]' "$@"
	shift "$PL_SHIFT"
	[ -z "$OPT_json" ] || pl_usage_error --json "stdout is the command's; use --summary FILE"
	acq=''
	for o in ttl idle keep slug type node compose no_attest; do
		eval "[ -z \"\$OPT_$o\" ]" || acq="$acq --$(printf '%s' "$o" | tr _ -)"
	done
	PL_RUN_LEASE=$OPT_lease PL_RUN_SYNC=${OPT_sync:-.} PL_RUN_SUMMARY=$OPT_summary PL_RUN_QUIET=${OPT_quiet:-0}
	[ -z "$PL_RUN_LEASE" ] || [ -z "$acq" ] || pl_usage_error --lease "not with acquire options:$acq"
	[ -d "$PL_RUN_SYNC" ] || pl_usage_error --sync "$PL_RUN_SYNC: not a directory"
	PL_RUN_TTY=auto
	[ -z "$OPT_tty" ] || PL_RUN_TTY=yes
	[ -z "$OPT_no_tty" ] || PL_RUN_TTY=no
	PL_RUN_KEEP=false
	[ -z "$OPT_keep" ] || PL_RUN_KEEP=true
	PL_RUN_NFETCH=0
	i=1
	while [ "$i" -le "$OPT_fetch" ]; do
		eval "f=\$OPT_fetch_$i"
		r=${f%%:*} d=.
		[ "$r" = "$f" ] || d=${f#*:}
		{ [ -n "$r" ] && [ -n "$d" ]; } || pl_usage_error --fetch "'$f': REMOTE_PATH[:LOCAL_DIR]"
		PL_RUN_NFETCH=$i
		eval "PL_RUN_FETCH_R_$i=\$r PL_RUN_FETCH_D_$i=\$d"
		i=$((i + 1))
	done
	PL_RUN_NENV=0
	i=1
	while [ "$i" -le "$OPT_env" ]; do
		eval "pl_run_env \"\$OPT_env_$i\""
		i=$((i + 1))
	done
	pl_setup
	case ${PL_TMP:-} in *"'"*) pl_die 4 "run: temporary directory $PL_TMP: a quote in its path" ;; esac
	if [ -n "$PL_RUN_LEASE" ]; then pl_config_check; else pl_acquire_options; fi

	PL_RUN_PHASES='' PL_RUN_PHASE='' PL_RUN_DONE_PHASE='' PL_RUN_FAILED='' PL_RUN_SIGNAL='' PL_RUN_RC=''
	PL_RUN_L='' PL_RUN_APP='' PL_RUN_ACQUIRED=false PL_RUN_RELEASED=false PL_RUN_FETCHED='' PL_RUN_TOUCHER=''
	PL_RUN_CTL='' PL_RUN_WORK='' PL_INTERRUPTED=0
	trap 'pl_run_on_signal INT' INT
	trap 'pl_run_on_signal TERM' TERM
	trap 'pl_run_on_signal HUP' HUP
	trap pl_run_exit EXIT

	pl_run_phase lease
	if [ -n "$PL_RUN_LEASE" ]; then
		pl_usable "$PL_RUN_LEASE"
		PL_RUN_L=$C_LEASE
		how="$PL_RUN_L in use"
	else
		pl_run_acquire
		how="$PL_RUN_L acquired"
	fi
	claim_load "$PL_RUN_L" || pl_run_fail 2 "claim $PL_RUN_L unreadable"
	PL_RUN_APP=$C_APP PL_RUN_WORK=$CF_WORKDIR/$PL_RUN_L
	PL_RUN_CTL=$CF_WORKDIR/.run/$PL_RUN_L-$(pl_random_hex 4)
	pl_run_phase_end true "$how (app_$C_APP)"
	pl_run_toucher
	pl_run_check_interrupt
	pl_ssh_set "$C_KEYDIR" "$C_HOST" "$C_PORT" yes "$C_LEASE"
	pl_run_ssh_script "$PL_TMP/ssh"

	pl_run_phase prepare
	pl_run_prepare "$@"
	pl_run_phase_end true "work root $PL_RUN_WORK on the guest"
	pl_run_check_interrupt

	pl_run_phase sync
	pl_run_sync
	pl_run_phase_end true "$PL_RUN_SYNC_SAID"
	pl_run_check_interrupt

	pl_run_phase command
	pl_run_command
	pl_run_phase_end true "exit status $PL_RUN_RC"

	if [ "$PL_RUN_NFETCH" -gt 0 ]; then
		pl_run_phase fetch
		pl_run_fetch
		pl_run_phase_end true "$PL_RUN_FETCH_SAID"
		pl_run_check_interrupt
	fi
	exit "$PL_RUN_RC"
}

# --env NAME (value from this environment) or NAME=VALUE; kept in shell
# variables until it goes to the guest over ssh's stdin.
pl_run_env() {
	n=${1%%=*}
	case $n in
	'' | [0-9]* | *[!A-Za-z0-9_]*) pl_usage_error --env "'$n': not a variable name" ;;
	esac
	if [ "$n" = "$1" ]; then
		# printenv, not eval: the environment, never a variable of this script.
		v=$(printenv "$n" && echo .) || pl_usage_error --env "$n: not set in the environment"
		v=${v%.}; v=${v%?}
	else
		v=${1#*=}
	fi
	PL_RUN_NENV=$((PL_RUN_NENV + 1))
	eval "PL_RUN_ENV_N_$PL_RUN_NENV=\$n PL_RUN_ENV_V_$PL_RUN_NENV=\$v"
}

# acquire with its own options, in a subshell of its own: its traps, rollback
# and exit status stay acquire's. A signal to run is passed on as SIGTERM
# (acquire then rolls back); the lease id is known from the intent claim on.
pl_run_acquire() {
	PL_RUN_ACQUIRED=true
	lf=$PL_TMP/acquire.lease err=$PL_TMP/acquire.err
	: >"$lf"
	if [ "$PL_RUN_QUIET" = 1 ]; then
		pl_run_acquire_child "$lf" >"$PL_TMP/acquire.json" 2>"$err" &
	else
		pl_run_acquire_child "$lf" >"$PL_TMP/acquire.json" &
	fi
	pid=$! fwd=0
	until pl_run_wait "$pid"; do
		[ "$fwd" = 1 ] || kill -TERM "$pid" 2>/dev/null || :
		fwd=1
	done
	PL_RUN_L=$(cat "$lf")
	if [ "$PL_WAIT_RC" -ne 0 ]; then
		[ "$PL_RUN_QUIET" = 0 ] || cat "$err" >&2
		# A signal between acquire's last check and its result: the lease is
		# ready and ours to release.
		if [ "$PL_INTERRUPTED" = 1 ] && [ -n "$PL_RUN_L" ] && claim_load "$PL_RUN_L" &&
			[ "$C_STATE" = ready ] && [ -z "$C_RECOVERY" ]; then
			exit "$(pl_run_signal_rc)"
		fi
		PL_RUN_L='' PL_RUN_ACQUIRED=false
		pl_run_check_interrupt
		pl_run_fail "$PL_WAIT_RC" "acquire failed (exit $PL_WAIT_RC)"
	fi
	l=$(pj get "$PL_TMP/acquire.json" lease_id) || pl_run_fail 5 "acquire printed no result"
	[ "$l" = "$PL_RUN_L" ] || pl_run_fail 5 "acquire answered lease '$l', its intent claim was '$PL_RUN_L'"
}

# In the background child: a temporary directory and traps of its own
# (acquire's exit guard rolls back and removes it), acquire's steps with the
# options pl_acquire_options applied, the lease id written once the intent
# claim is, the result as JSON.
pl_run_acquire_child() {
	PL_ACQUIRE_LEASE_FILE=$1 PL_AJSON=1
	pl_init_tmp
	pl_acquire_lease
	pl_acquire_result
}

# An ssh command for rsync -e and the background command: ssh with the
# lease's options (pl_ssh_set), then its own arguments.
pl_run_ssh_script() {
	{
		printf '#!/bin/sh\nexec %s' "$(pl_sh_quote "$PL_SSH")"
		i=1
		while [ "$i" -le "$PL_SSH_ARGS_N" ]; do
			eval "a=\$PL_SSH_A$i"
			printf ' %s' "$(pl_sh_quote "$a")"
			i=$((i + 1))
		done
		printf ' "$@"\n'
	} >"$1.tmp" || pl_die 4 "cannot write $1"
	{ chmod 700 "$1.tmp" && mv "$1.tmp" "$1"; } || pl_die 4 "cannot write $1"
}
# The record stream of the command's spec: "a" ARG NUL..., "e" NAME=VALUE NUL...
pl_run_spec() {
	for a in "$@"; do printf 'a%s\000' "$a"; done
	i=1
	while [ "$i" -le "$PL_RUN_NENV" ]; do
		eval "printf 'e%s=%s\000' \"\$PL_RUN_ENV_N_$i\" \"\$PL_RUN_ENV_V_$i\""
		i=$((i + 1))
	done
}

# The script the guest's sh reads on stdin: the tool check, the work root
# and the control directory, the supervisor, the spec.
pl_run_prep_script() {
	w=$(pl_sh_quote "$PL_RUN_WORK") c=$(pl_sh_quote "$PL_RUN_CTL")
	cat <<EOF
missing=''
for t in $PL_RUN_GUEST_TOOLS; do
	p=\$(command -v "\$t" 2>/dev/null) || { missing="\$missing \$t"; continue; }
	case \$p in /*) [ -x "\$p" ] || missing="\$missing \$t" ;; esac
done
if [ -n "\$missing" ]; then echo "phala-lease-missing:\$missing"; exit 0; fi
umask 077
mkdir -p $w $c || exit 1
cat >$c/run-guest.py <<'PHALA_LEASE_RUN_GUEST_EOF' || exit 1
EOF
	cat "$PL_SHARE/run-guest.py"
	printf "PHALA_LEASE_RUN_GUEST_EOF\ncat >%s/spec <<'PHALA_LEASE_RUN_SPEC_EOF' || exit 1\n" "$c"
	pl_run_spec "$@" | base64
	printf 'PHALA_LEASE_RUN_SPEC_EOF\necho phala-lease-prepared\n'
}

pl_run_prepare() {
	if pl_run_prep_script "$@" | "$PL_TMP/ssh" -T "$C_HOST" sh -s >"$PL_TMP/prep.out" 2>"$PL_TMP/prep.err"; then
		:
	fi
	pl_run_check_interrupt
	m=$(sed -n 's/^phala-lease-missing: *//p' "$PL_TMP/prep.out")
	[ -z "$m" ] || pl_run_fail 1 "the guest lacks $m (run needs: $PL_RUN_GUEST_TOOLS)"
	grep -qx phala-lease-prepared "$PL_TMP/prep.out" ||
		pl_run_fail 1 "cannot prepare $PL_RUN_WORK over ssh: $(tail -n 1 "$PL_TMP/prep.err")"
}

# rsync over the lease's ssh: -lpt (links as links, never followed; unsafe
# ones - pointing out of the tree - skipped; no owner, no devices). It execs:
# only through pl_run_fg, in the child.
pl_run_rsync() {
	exec "${PHALA_LEASE_RSYNC:-rsync}" -lpt --safe-links -s -e "$(pl_sh_quote "$PL_TMP/ssh")" "$@"
}

pl_run_sync() {
	dir=$PL_RUN_SYNC
	set -- --stats
	i=1
	while [ "$i" -le "$OPT_exclude" ]; do
		# P/** too: a file list is not a recursion, an excluded directory
		# must still take its contents with it.
		x=''
		eval "x=\$OPT_exclude_$i"
		set -- "$@" --exclude="$x" --exclude="${x%/}/**"
		i=$((i + 1))
	done
	if command -v git >/dev/null 2>&1 && [ "$(git -C "$dir" rev-parse --is-inside-work-tree 2>/dev/null)" = true ]; then
		# The manifest is built here: git is not on the guest.
		git -c core.fsmonitor=false -C "$dir" ls-files -z --cached --others --exclude-standard \
			>"$PL_TMP/manifest" 2>"$PL_TMP/git.err" ||
			pl_run_fail 1 "git ls-files in $dir: $(tail -n 1 "$PL_TMP/git.err")"
		set -- "$@" --from0 --files-from="$PL_TMP/manifest" --ignore-missing-args
		how="git manifest of $(tr -cd '\000' <"$PL_TMP/manifest" | wc -c | tr -d ' ') entries"
	else
		[ ! -e "$dir/.git" ] || pl_run_fail 1 "$dir/.git exists but git cannot list it (is git installed?)"
		set -- "$@" -r
		how="whole directory"
	fi
	if pl_run_fg pl_run_rsync "$@" "$dir/" "$C_HOST:$PL_RUN_WORK/" >"$PL_TMP/sync.out" 2>"$PL_TMP/sync.err"; then
		:
	else
		rc=$?
		sed 's/^/  /' "$PL_TMP/sync.err" >&2
		pl_run_fail 1 "rsync to $PL_RUN_WORK failed (exit $rc)"
	fi
	n=$(sed -n 's/^Number of regular files transferred: *//p' "$PL_TMP/sync.out" | tr -d ,)
	b=$(sed -n 's/^Total transferred file size: *\([0-9,]*\).*/\1/p' "$PL_TMP/sync.out" | tr -d ,)
	PL_RUN_SYNC_SAID="$(pl_sh_quote "$dir"), $how; ${n:-?} files (${b:-?} bytes) transferred"
}

# The command: ssh in the background (a trapped signal then ends the wait at
# once), stdin passed on, stdout and stderr untouched; the claim touched
# while it runs.
pl_run_command() {
	case $PL_RUN_TTY in
	yes) t=-tt ;;
	no) t=-T ;;
	*) if [ -t 0 ] && [ -t 1 ]; then t=-tt; else t=-T; fi ;;
	esac
	g=$(pl_sh_quote "$PL_RUN_CTL")
	if true <&0 2>/dev/null; then exec 8<&0; else exec 8</dev/null; fi
	"$PL_TMP/ssh" "$t" -o LogLevel=ERROR "$C_HOST" "python3 $g/run-guest.py exec $g $(pl_sh_quote "$PL_RUN_WORK")" 0<&8 8<&- &
	pid=$!
	exec 8<&-
	if pl_run_wait "$pid"; then
		rc=$PL_WAIT_RC
	else
		pl_run_stop_remote "$pid"
	fi
	if [ "$rc" -eq 255 ]; then
		# ssh's own failures are 255 too: the supervisor's record decides.
		s=$("$PL_TMP/ssh" -T "$C_HOST" "cat $g/status 2>/dev/null; rm -rf $g" </dev/null 2>/dev/null) || s=''
		pl_is_uint "$s" || pl_run_fail 1 "the connection to $C_HOST ended before the command did (ssh exit 255)"
		rc=$s
	fi
	PL_RUN_RC=$rc
}

# Interrupted while the command runs: further signals ignored, the remote
# process group stopped (SIGTERM, SIGKILL after a grace) over a connection of
# its own, nothing fetched; the exit handler releases.
pl_run_stop_remote() {
	trap '' INT TERM HUP
	pl_run_toucher_stop
	pl_run_phase_end false ''
	pl_run_phase stop
	g=$(pl_sh_quote "$PL_RUN_CTL")
	pl_say "run: interrupted (SIG$PL_RUN_SIGNAL): stopping the command on the guest"
	if timeout -k 5 60 "$PL_TMP/ssh" -T "$C_HOST" "python3 $g/run-guest.py stop $g; r=\$?; rm -rf $g; exit \$r" \
		</dev/null >/dev/null 2>"$PL_TMP/stop.err"; then
		pl_run_phase_end true "the command's process group on the guest is gone"
	else
		pl_warn "run: could not confirm that the command stopped on the guest: $(tail -n 1 "$PL_TMP/stop.err")"
		pl_run_phase_end false ''
	fi
	kill -TERM "$1" 2>/dev/null || :
	wait "$1" 2>/dev/null || :
	exit "$(pl_run_signal_rc)"
}

# The idle timeout must not reap a box while a job runs: touch the claim
# every third of it (1 s .. 5 min) from the lease on until run ends, or is
# gone (killed outright: this loop must not outlive it).
pl_run_toucher() {
	n=$((C_IDLE / 3))
	[ "$n" -ge 1 ] || n=1
	[ "$n" -le 300 ] || n=300
	(
		trap 'kill "$s" 2>/dev/null; exit 0' TERM
		i=0
		while kill -0 "$$" 2>/dev/null; do
			sleep 1 &
			s=$!
			wait "$s"
			i=$((i + 1))
			[ "$i" -ge "$n" ] || continue
			i=0
			{ claim_load "$PL_RUN_L" && pl_touch; } || :
		done
	) </dev/null >/dev/null 2>&1 &
	PL_RUN_TOUCHER=$!
}
pl_run_toucher_stop() {
	[ -n "$PL_RUN_TOUCHER" ] || return 0
	kill -TERM "$PL_RUN_TOUCHER" 2>/dev/null || :
	wait "$PL_RUN_TOUCHER" 2>/dev/null || :
	PL_RUN_TOUCHER=''
}

# --fetch: which remote paths exist (one connection), then one rsync each.
pl_run_fetch() {
	set --
	i=1
	while [ "$i" -le "$PL_RUN_NFETCH" ]; do
		eval "set -- \"\$@\" \"\$(pl_sh_quote \"\$PL_RUN_FETCH_R_$i\")\""
		i=$((i + 1))
	done
	# shellcheck disable=SC2016 # expanded by the guest's shell
	"$PL_TMP/ssh" -T "$C_HOST" "cd $(pl_sh_quote "$PL_RUN_WORK") && for p in $*; do"' if [ -e "$p" ] || [ -L "$p" ]; then echo y; else echo n; fi; done' \
		</dev/null >"$PL_TMP/fetch.probe" 2>"$PL_TMP/fetch.err" ||
		pl_run_fail 1 "cannot reach $C_HOST: $(tail -n 1 "$PL_TMP/fetch.err")"
	got=0 miss=0 bad=0 i=1
	while [ "$i" -le "$PL_RUN_NFETCH" ]; do
		eval "r=\$PL_RUN_FETCH_R_$i d=\$PL_RUN_FETCH_D_$i"
		there=$(sed -n "${i}p" "$PL_TMP/fetch.probe")
		case $r in /*) rp=$r ;; *) rp=$PL_RUN_WORK/$r ;; esac
		if [ "$there" != y ]; then
			pl_warn "run: fetch: $r: no such file on the guest; skipped"
			ok=false miss=$((miss + 1))
		elif mkdir -p "$d" 2>"$PL_TMP/fetch.err" &&
			pl_run_fg pl_run_rsync -r "$C_HOST:$rp" "$d/" >/dev/null 2>"$PL_TMP/fetch.err"; then
			ok=true got=$((got + 1))
		else
			pl_warn "run: fetch: $r: $(tail -n 1 "$PL_TMP/fetch.err")"
			ok=false bad=$((bad + 1))
		fi
		o=$(pl_jobject s:remote="$r" s:local="$d" b:arrived="$ok")
		PL_RUN_FETCHED=${PL_RUN_FETCHED:+$PL_RUN_FETCHED,}$o
		i=$((i + 1))
	done
	PL_RUN_FETCH_SAID="$got fetched, $miss missing, $bad failed"
	[ "$bad" -eq 0 ] || pl_run_fail 1 "$bad of $PL_RUN_NFETCH paths could not be copied back"
}

# The summary: one JSON object, written to a temporary file beside FILE and
# renamed, after every phase and at the end.
pl_run_summary() {
	[ -n "$PL_RUN_SUMMARY" ] || return 0
	interrupted=false
	[ "$PL_INTERRUPTED" = 0 ] || interrupted=true
	# kept: the lease is meant to outlive the job (--lease, --keep); a lease
	# run acquired that is neither kept nor released is a leftover to release.
	kept=$PL_RUN_KEEP
	[ -z "$PL_RUN_LEASE" ] || kept=true
	tmp=$PL_RUN_SUMMARY.tmp.$$
	if pl_jobject s:lease="$PL_RUN_L" s:app_id="$PL_RUN_APP" s:work_dir="$PL_RUN_WORK" \
		b:acquired="$PL_RUN_ACQUIRED" b:released="$PL_RUN_RELEASED" b:kept="$kept" \
		n:exit_status="$PL_RUN_RC" n:status="${PL_RUN_STATUS:-}" s:failed_phase="$PL_RUN_FAILED" \
		b:interrupted="$interrupted" s:signal="$PL_RUN_SIGNAL" \
		j:phases="[$PL_RUN_PHASES]" j:fetched="[$PL_RUN_FETCHED]" >"$tmp" 2>/dev/null && mv -f "$tmp" "$PL_RUN_SUMMARY"; then
		:
	else
		rm -f "$tmp"
		pl_warn "run: cannot write the summary $PL_RUN_SUMMARY"
	fi
}

# Every way out: release a lease run acquired (unless --keep) on the
# non-cancellable path, touch a lease that stays, write the summary, and
# exit with the command's status, 130/143 when interrupted, or the class of
# run's own failure (a failed release counts only when the command passed).
pl_run_exit() {
	rc=$?
	trap '' INT TERM HUP
	pl_run_toucher_stop
	[ "$PL_INTERRUPTED" = 0 ] || rc=$(pl_run_signal_rc)
	if [ -n "$PL_RUN_PHASE" ]; then
		[ "$PL_INTERRUPTED" = 1 ] || PL_RUN_FAILED=${PL_RUN_FAILED:-$PL_RUN_PHASE}
		pl_run_phase_end false ''
	fi
	if [ -n "$PL_RUN_L" ] && [ "$PL_RUN_ACQUIRED" = true ] && [ "$PL_RUN_KEEP" = false ]; then
		pl_run_phase release
		if pl_locked "$PL_RUN_L" run release >"$PL_TMP/release.out" 2>"$PL_TMP/release.err"; then
			PL_RUN_RELEASED=true
			pl_run_phase_end true "$(tail -n 1 "$PL_TMP/release.out")"
		else
			r=$?
			cat "$PL_TMP/release.err" >&2
			PL_RUN_FAILED=${PL_RUN_FAILED:-release}
			pl_run_phase_end false ''
			pl_say "run: release of $PL_RUN_L failed (exit $r): claim kept; phala-lease release $PL_RUN_L (or the sweep) retries"
			[ "$rc" -ne 0 ] || rc=$r
		fi
	elif [ -n "$PL_RUN_L" ] && [ "$PL_INTERRUPTED" = 0 ]; then
		{ claim_load "$PL_RUN_L" && pl_touch; } || pl_warn "run: lease $PL_RUN_L: touch skipped (claim changed)"
		[ -z "$PL_RUN_DONE_PHASE" ] || pl_run_step "lease $PL_RUN_L kept"
	fi
	[ -z "$PL_RUN_FAILED" ] || pl_say "run: failed in phase $PL_RUN_FAILED (exit $rc)"
	PL_RUN_STATUS=$rc
	pl_run_summary
	pl_cleanup_tmp
	exit "$rc"
}

#!/usr/bin/env bats
# phala-proxy: the verified TLS tunnel for ssh's ProxyCommand.
#
# Real peers on loopback only: socat as the TLS terminator standing in for the
# dstack gateway (certificates from a CA the suite generates, t/helpers/proxy-pki.sh),
# a real OpenSSH sshd behind it and the real ssh client in front. sshd runs
# unprivileged: as the invoking user, or, when the suite runs as root (CI), as
# the dedicated user phala-proxy-test (created on first use, no home, /bin/sh),
# with its own host key, config, authorized_keys and pid file in a private dir.
# Every server is started by the test and killed by teardown, also on failure.
# The phala CLI is t/helpers/fake-phala.sh, which logs each call.

# Each @test runs in its own subshell, so changing a variable there is meant
# to stay local (SC2030/SC2031); remote commands are built on the client side
# on purpose (SC2029).
# shellcheck disable=SC2030,SC2031,SC2029
load helpers/common
bats_require_minimum_version 1.5.0

PX() { "$BIN/phala-proxy" "$@"; }
APP=3f2a9c4d8e7b6a5f4c3d2e1f0a9b8c7d6e5f4a3b
GWHOST=$APP-22.test-gateway.example
LEASE=0123456789ab

setup_file() {
	export PKI="$BATS_FILE_TMPDIR/pki"
	sh "$ROOT/t/helpers/proxy-pki.sh" "$PKI"
}

setup() {
	cd "$BATS_TEST_TMPDIR" || return 1
	: >pids
	export FAKE_PHALA_LOG="$BATS_TEST_TMPDIR/phala.log"
	FAKE="$ROOT/t/helpers/fake-phala.sh"
	mkdir -p claims
	export PHALA_CLAIMS_DIR="$BATS_TEST_TMPDIR/claims"
}

teardown() {
	local p
	if [ -z "${BATS_TEST_COMPLETED:-}" ] && [ -f "$BATS_TEST_TMPDIR/sshd.log" ]; then
		sed 's/^/# sshd: /' "$BATS_TEST_TMPDIR/sshd.log" >&3
	fi
	while read -r p; do kill "$p" 2>/dev/null || true; done <"$BATS_TEST_TMPDIR/pids"
	if [ -n "${SSHD_DIR:-}" ]; then rm -rf "$SSHD_DIR"; fi
}

# free_port: a loopback TCP port nobody listens on.
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
}

# wait_port PORT [LOG]: until something listens on 127.0.0.1:PORT (at most
# 30 s: the machine may be busy); on failure shows the server's LOG.
wait_port() {
	local _
	for _ in $(seq 600); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		sleep 0.05
	done
	echo "nothing listens on port $1" >&2
	if [ -n "${2:-}" ]; then cat "$2" >&2; fi
	return 1
}

# bg LOG CMD...: a server in the background, killed by teardown.
bg() {
	local log=$1
	shift
	"$@" >"$log" 2>&1 3>&- &
	echo $! >>"$BATS_TEST_TMPDIR/pids"
}

# start_server NAME CMD...: runs CMD... PORT in the background on a fresh
# port until it listens, retrying with another port when the server dies
# (the port was taken meanwhile); prints the port. Killed by teardown.
start_server() {
	local name=$1 port pid _try _
	shift
	for _try in 1 2 3; do
		port=$(free_port)
		"$@" "$port" >"$name-$port.log" 2>&1 3>&- &
		pid=$!
		echo "$pid" >>"$BATS_TEST_TMPDIR/pids"
		for _ in $(seq 600); do
			if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
				echo "$port"
				return 0
			fi
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.05
		done
	done
	echo "$name did not start:" >&2
	cat "$name-$port.log" >&2
	return 1
}

# gateway_on CERT BACKEND OPTS PORT: socat as the TLS terminator.
gateway_on() {
	exec socat -t 5 "OPENSSL-LISTEN:$4,bind=127.0.0.1,reuseaddr,fork,cert=$PKI/$1,verify=0$3" "$2"
}

# tls_gateway CERT BACKEND [socat options]: a TLS terminator on a fresh port
# (printed) presenting CERT (in $PKI) and relaying to BACKEND (a socat address).
tls_gateway() {
	start_server gw gateway_on "$1" "$2" "${3:-}"
}

# recorder FILE: a backend that appends everything it receives to FILE; prints its port.
recorder_on() { exec socat -u "TCP-LISTEN:$2,bind=127.0.0.1,reuseaddr,fork" "OPEN:$1,creat,append"; }
recorder() { start_server rec recorder_on "$1"; }

# start_sshd: an unprivileged sshd on a fresh port; sets SSHD_PORT, SSHD_DIR, SSH_USER, and SSH_ARGS
# for a client that trusts exactly this host key for the gateway host name.
start_sshd() {
	SSH_USER=$(sh "$ROOT/t/helpers/test-user.sh")
	SSHD_DIR=$(mktemp -d /tmp/phala-proxy-sshd.XXXXXX)
	SSHD_PORT=$(free_port)
	ssh-keygen -q -t ed25519 -N '' -f "$SSHD_DIR/host_key"
	ssh-keygen -q -t ed25519 -N '' -f "$BATS_TEST_TMPDIR/client_key"
	cp "$BATS_TEST_TMPDIR/client_key.pub" "$SSHD_DIR/authorized_keys"
	cat >"$SSHD_DIR/sshd_config" <<-EOF
		Port $SSHD_PORT
		ListenAddress 127.0.0.1
		HostKey $SSHD_DIR/host_key
		PidFile $SSHD_DIR/sshd.pid
		AuthorizedKeysFile $SSHD_DIR/authorized_keys
		AllowUsers $SSH_USER
		PasswordAuthentication no
		KbdInteractiveAuthentication no
		UsePAM no
		StrictModes no
	EOF
	chmod 755 "$SSHD_DIR"
	local run_as=()
	if [ "$(id -u)" -eq 0 ]; then
		chown -R "$SSH_USER" "$SSHD_DIR"
		run_as=(setpriv --reuid="$SSH_USER" --regid="$(id -g "$SSH_USER")" --clear-groups)
	fi
	# An unprivileged sshd drops every connection when /dev/null is not the
	# device (on a shared machine a root process renaming a file over it
	# leaves a 0644 file). As root, where mount namespaces work, sshd sees a
	# private /dev of its own (null, zero, random, urandom); otherwise the
	# real /dev/null must be sound.
	if [ "$(id -u)" -eq 0 ] && mkdir "$SSHD_DIR/dev" && mknod -m 666 "$SSHD_DIR/dev/null" c 1 3 &&
		mknod -m 666 "$SSHD_DIR/dev/zero" c 1 5 && mknod -m 666 "$SSHD_DIR/dev/random" c 1 8 &&
		mknod -m 666 "$SSHD_DIR/dev/urandom" c 1 9 &&
		unshare --mount --propagation private true 2>/dev/null; then
		# shellcheck disable=SC2016 # $1 and $@ belong to the inner sh
		bg sshd.log unshare --mount --propagation private \
			sh -c 'mount --bind "$1" /dev && shift && exec "$@"' sh "$SSHD_DIR/dev" \
			"${run_as[@]}" /usr/sbin/sshd -D -e -f "$SSHD_DIR/sshd_config"
	else
		[ -c /dev/null ] || fail "/dev/null is not a character device: $(ls -l /dev/null)"
		bg sshd.log "${run_as[@]}" /usr/sbin/sshd -D -e -f "$SSHD_DIR/sshd_config"
	fi
	wait_port "$SSHD_PORT" sshd.log
	echo "$GWHOST $(cut -d' ' -f1-2 "$SSHD_DIR/host_key.pub")" >known_hosts
	SSH_ARGS=(-F none -T -o BatchMode=yes -o IdentitiesOnly=yes -i "$BATS_TEST_TMPDIR/client_key"
		-o UserKnownHostsFile="$BATS_TEST_TMPDIR/known_hosts" -o StrictHostKeyChecking=yes
		-o ConnectTimeout=20 -l "$SSH_USER")
}

# claim LEASE SLUG APP [HOST [PORT]]: a claim written by the real phala-claim.
claim() {
	"$BIN/phala-claim" --dir "$PHALA_CLAIMS_DIR" create "$1" slug="$2" app_id="$3" state=ready \
		${4:+gateway_host=$4} ${5:+gateway_port=$5} >/dev/null
}

calls() { if [ -f "$FAKE_PHALA_LOG" ]; then wc -l <"$FAKE_PHALA_LOG"; else echo 0; fi; }

# ---- end to end: ssh through the proxy and the TLS gateway to sshd ----

@test "ssh through phala-proxy and a TLS gateway: true, remote output, 50 MiB each way intact" {
	start_sshd
	gw=$(tls_gateway gw.pem "TCP:127.0.0.1:$SSHD_PORT")
	SSH_ARGS+=(-o "ProxyCommand=$BIN/phala-proxy --connect-to 127.0.0.1:$gw --cafile $PKI/ca.pem %h")
	run ssh "${SSH_ARGS[@]}" "$GWHOST" true
	assert_success
	run ssh "${SSH_ARGS[@]}" "$GWHOST" 'echo "hello from $(id -un)"'
	assert_success
	assert_output "hello from $SSH_USER"

	head -c 52428800 /dev/urandom >up.bin
	ssh "${SSH_ARGS[@]}" "$GWHOST" "cat > $SSHD_DIR/up.bin" <up.bin
	run ssh "${SSH_ARGS[@]}" "$GWHOST" "sha256sum < $SSHD_DIR/up.bin"
	assert_output "$(sha256sum <up.bin)"
	head -c 52428800 /dev/urandom >"$SSHD_DIR/down.bin"
	chmod 644 "$SSHD_DIR/down.bin"
	ssh "${SSH_ARGS[@]}" "$GWHOST" "cat $SSHD_DIR/down.bin" >down.bin
	[ "$(stat -c %s down.bin)" -eq 52428800 ]
	[ "$(sha256sum <down.bin)" = "$(sha256sum <"$SSHD_DIR/down.bin")" ]
}

@test "ssh config: Host *.phala block resolves a slug through the claim, no phala call" {
	start_sshd
	gw=$(tls_gateway gw.pem "TCP:127.0.0.1:$SSHD_PORT")
	claim "$LEASE" my-box "$APP" "$GWHOST"
	cat >ssh_config <<-EOF
		Host *.phala
		    ProxyCommand $BIN/phala-proxy --connect-to 127.0.0.1:$gw --cafile $PKI/ca.pem --phala $FAKE %h
		    HostKeyAlias $GWHOST
	EOF
	SSH_ARGS[1]=ssh_config  # -F ssh_config
	run ssh "${SSH_ARGS[@]}" my-box.phala echo via-slug
	assert_success
	assert_output via-slug
	[ "$(calls)" -eq 0 ]
}

@test "ssh refuses the host key it does not know (the proxy adds no trust of its own)" {
	start_sshd
	gw=$(tls_gateway gw.pem "TCP:127.0.0.1:$SSHD_PORT")
	echo "$GWHOST ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl" >known_hosts
	SSH_ARGS+=(-o "ProxyCommand=$BIN/phala-proxy --connect-to 127.0.0.1:$gw --cafile $PKI/ca.pem %h")
	run ssh "${SSH_ARGS[@]}" "$GWHOST" true
	assert_failure 255
	assert_output --partial "REMOTE HOST IDENTIFICATION HAS CHANGED"
}

# ---- the stream: half-close, server close, errors ----

@test "stdin EOF is a half-close: the server sees EOF and its later answer still arrives" {
	gw=$(tls_gateway gw.pem "SYSTEM:wc -c; echo after-eof")
	run PX --connect-to "127.0.0.1:$gw" --cafile "$PKI/ca.pem" "$GWHOST" < <(printf 'twelve bytes')
	assert_success
	assert_output "$(printf '12\nafter-eof')"
}

@test "server close ends the tunnel with status 0 while stdin is still open" {
	gw=$(tls_gateway gw.pem "SYSTEM:echo bye")
	mkfifo open-stdin
	# Opened read-write, the FIFO never reports EOF: only the server can end this.
	run PX --connect-to "127.0.0.1:$gw" --cafile "$PKI/ca.pem" "$GWHOST" 0<>open-stdin
	assert_success
	assert_output bye
}

@test "full duplex under back-pressure: 20 MiB echoed back intact while still sending" {
	gw=$(tls_gateway gw.pem "SYSTEM:cat")
	head -c 20971520 /dev/urandom >in.bin
	PX --connect-to "127.0.0.1:$gw" --cafile "$PKI/ca.pem" "$GWHOST" <in.bin >out.bin
	cmp in.bin out.bin
}

@test "standard output closed by its reader: exit 4 naming standard output" {
	gw=$(tls_gateway gw.pem "SYSTEM:cat")
	run bash -c "'$BIN/phala-proxy' --connect-to 127.0.0.1:$gw --cafile '$PKI/ca.pem' $GWHOST </dev/zero 2>err |
		head -c 100000 >/dev/null; echo \"status \${PIPESTATUS[0]}\""
	assert_output "status 4"
	grep -q "^phala-proxy: writing standard output: " err
}

@test "--verbose reports the connection on stderr only; stdout carries only tunnel data" {
	gw=$(tls_gateway gw.pem "SYSTEM:cat")
	printf 'payload' | PX -v --connect-to "127.0.0.1:$gw" --cafile "$PKI/ca.pem" "$GWHOST" >out 2>err
	[ "$(cat out)" = payload ]
	grep -q "certificate verified, TLSv1" err
	grep -q "7 bytes sent, 7 received" err
	printf 'payload' | PX --connect-to "127.0.0.1:$gw" --cafile "$PKI/ca.pem" "$GWHOST" >out 2>err
	[ ! -s err ]
}

@test "a server that never answers the handshake: exit 5 after --connect-timeout" {
	silent_on() { exec socat "TCP-LISTEN:$1,bind=127.0.0.1,reuseaddr,fork" SYSTEM:"sleep 30"; }
	port=$(start_server silent silent_on)
	run PX --connect-timeout 1 --connect-to "127.0.0.1:$port" --cafile "$PKI/ca.pem" "$GWHOST" </dev/null
	assert_failure 5
	assert_output "phala-proxy: TLS to $GWHOST: handshake failure: timed out"
}

@test "nothing listening: exit 5 naming the address" {
	port=$(free_port)
	run PX --connect-to "127.0.0.1:$port" --cafile "$PKI/ca.pem" "$GWHOST" </dev/null
	assert_failure 5
	assert_output "phala-proxy: cannot connect to 127.0.0.1 port $port: Connection refused"
}

# ---- man in the middle: exit 5, and not one byte reaches the backend ----

# mitm CERT [socat options]: runs the proxy with a secret on stdin against a
# gateway presenting CERT in front of a recorder; leaves the run results.
mitm() {
	local rec_port gw
	rec_port=$(recorder "$BATS_TEST_TMPDIR/received") || return 1
	gw=$(tls_gateway "$1" "TCP:127.0.0.1:$rec_port" "${2:-}") || return 1
	run PX --connect-to "127.0.0.1:$gw" --cafile "$PKI/ca.pem" "$GWHOST" < <(printf 'SSH-2.0-secret\r\n')
}

received() { if [ -f received ]; then stat -c %s received; else echo 0; fi; }

@test "control: with the right certificate the recorder does receive the bytes" {
	mitm gw.pem
	assert_success
	for _ in $(seq 50); do [ "$(received)" -gt 0 ] && break; sleep 0.05; done
	[ "$(cat received)" = "$(printf 'SSH-2.0-secret\r\n')" ]
}

@test "MITM self-signed certificate: exit 5, untrusted issuer, zero bytes forwarded" {
	mitm self.pem
	assert_failure 5
	assert_output --partial "TLS to $GWHOST: untrusted issuer: self-signed certificate"
	sleep 0.2
	[ "$(received)" -eq 0 ]
}

@test "MITM valid chain for another name: exit 5, name mismatch, zero bytes forwarded" {
	mitm other.pem
	assert_failure 5
	assert_output --partial "TLS to $GWHOST: name mismatch"
	sleep 0.2
	[ "$(received)" -eq 0 ]
}

@test "MITM expired certificate: exit 5, expired, zero bytes forwarded" {
	mitm expired.pem
	assert_failure 5
	assert_output --partial "TLS to $GWHOST: expired"
	sleep 0.2
	[ "$(received)" -eq 0 ]
}

@test "MITM certificate from an untrusted CA: exit 5, untrusted issuer, zero bytes forwarded" {
	mitm rogue.pem
	assert_failure 5
	assert_output --partial "TLS to $GWHOST: untrusted issuer"
	sleep 0.2
	[ "$(received)" -eq 0 ]
}

@test "MITM TLS 1.0/1.1-only server: exit 5, protocol version, zero bytes forwarded" {
	mitm gw.pem ",min-version=TLS1,max-version=TLS1.1,ciphers=DEFAULT@SECLEVEL=0"
	assert_failure 5
	assert_output --partial "TLS to $GWHOST: protocol version"
	sleep 0.2
	[ "$(received)" -eq 0 ]
}

@test "the system trust store does not trust the test CA: exit 5 without --cafile" {
	gw=$(tls_gateway gw.pem "SYSTEM:cat")
	run PX --connect-to "127.0.0.1:$gw" "$GWHOST" </dev/null
	assert_failure 5
	assert_output --partial "untrusted issuer"
}

@test "a bad --cafile is reported before a name that does not resolve: exit 4, the local error first" {
	run PX --cafile "$BATS_TEST_TMPDIR/no-such-ca.pem" --connect-to nonexistent.invalid:443 "$GWHOST" </dev/null
	assert_failure 4
	assert_output --partial "reading CA file"
	run PX --cafile "$PKI/ca.pem" --connect-to nonexistent.invalid:443 "$GWHOST" </dev/null
	assert_failure 5
	assert_output --partial "cannot resolve nonexistent.invalid"
}

# ---- the system trust store (no --cafile) ----
# OpenSSL's default certificate directory and bundle, as this machine has them.
openssl_dir() { openssl version -d | sed 's/^OPENSSLDIR: "\(.*\)"$/\1/'; }

# store DIR BUNDLE_CERT [INDEXED_CERT...]: a stand-in for the system store:
# ca-certificates.crt holding BUNDLE_CERT, and INDEXED_CERTs under their
# subject-hash names (none: a directory that is not indexed).
store() {
	local d=$1 b=$2
	shift 2
	mkdir -p "$d"
	if [ $# -gt 0 ]; then
		cp "$@" "$d/"
		openssl rehash "$d"
	fi
	cp "$b" "$d/ca-certificates.crt" # after rehash, which would index a one-certificate bundle
}

# in_store DIR TRACE CMD...: CMD in a mount namespace of its own where DIR is
# the default certificate directory, its file opens traced to TRACE.
in_store() {
	local d=$1 trace=$2
	shift 2
	sh "$ROOT/t/helpers/in-mount-ns.sh" "$d" "$(readlink -f "$(openssl_dir)/certs")" \
		strace -f -e trace=open,openat -o "$trace" "$@"
}

# need_store: this machine's defaults are a bundle inside an indexed directory
# (Debian's layout), and a mount namespace and strace are available.
need_store() {
	local dir bundle
	dir=$(readlink -f "$(openssl_dir)/certs")
	bundle=$(readlink -f "$(openssl_dir)/cert.pem")
	[ "$(dirname "$bundle")" = "$dir" ] || skip "the default bundle $bundle is not in the default directory $dir"
	command -v strace >/dev/null || skip "strace not installed (sh .ci/deps)"
	sh "$ROOT/t/helpers/in-mount-ns.sh" "$dir" "$dir" true 2>/dev/null || skip "no mount namespace for a private trust store"
	# LeakSanitizer cannot run under ptrace (the sanitizer build).
	export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
	unset SSL_CERT_FILE SSL_CERT_DIR
}

# bundle_read TRACE: the default bundle was opened (by its default name or the file's).
bundle_read() { grep -qF -e "\"$(openssl_dir)/cert.pem\"" -e '/ca-certificates.crt"' "$1"; }

@test "system store: an indexed default directory alone decides trust, and the bundle is not even read" {
	need_store
	gw=$(tls_gateway gw.pem "SYSTEM:cat")
	# The bundle holds only the rogue CA; the index holds the gateway's CA.
	store indexed "$PKI/rogueca.pem" "$PKI/ca.pem"
	run in_store indexed t1 "$BIN/phala-proxy" --connect-to "127.0.0.1:$gw" "$GWHOST" < <(echo ping)
	assert_success
	assert_output ping
	run ! bundle_read t1
	grep -q "/[0-9a-f]\{8\}\.0\"" t1
	# The index decides: without the gateway's CA in it, exit 5.
	store other "$PKI/ca.pem" "$PKI/rogueca.pem"
	run in_store other t2 "$BIN/phala-proxy" --connect-to "127.0.0.1:$gw" "$GWHOST" </dev/null
	assert_failure 5
	assert_output --partial "untrusted issuer"
}

@test "system store: SSL_CERT_FILE, SSL_CERT_DIR (even empty) or a directory without an index mean OpenSSL's defaults" {
	need_store
	gw=$(tls_gateway gw.pem "SYSTEM:cat")
	store indexed "$PKI/rogueca.pem" "$PKI/ca.pem"
	# SSL_CERT_DIR empty: OpenSSL reads no directory, so only the bundle, which lacks the CA.
	run in_store indexed t1 env SSL_CERT_DIR= "$BIN/phala-proxy" --connect-to "127.0.0.1:$gw" "$GWHOST" </dev/null
	assert_failure 5
	assert_output --partial "untrusted issuer"
	bundle_read t1
	# SSL_CERT_DIR set: added to the bundle, not in its place (the bundle is read).
	run in_store indexed t2 env SSL_CERT_DIR="$PWD/indexed" "$BIN/phala-proxy" --connect-to "127.0.0.1:$gw" \
		"$GWHOST" < <(echo ping)
	assert_success
	bundle_read t2
	# SSL_CERT_FILE set: honoured.
	run in_store indexed t3 env SSL_CERT_FILE="$PKI/ca.pem" "$BIN/phala-proxy" --connect-to "127.0.0.1:$gw" \
		"$GWHOST" < <(echo ping)
	assert_success
	assert_output ping
	grep -qF "\"$PKI/ca.pem\"" t3
	# Not indexed: the bundle (here with the CA) is what trusts.
	store plain "$PKI/ca.pem"
	run in_store plain t4 "$BIN/phala-proxy" --connect-to "127.0.0.1:$gw" "$GWHOST" < <(echo ping)
	assert_success
	assert_output ping
	bundle_read t4
}

# ---- resolution: claims first, then exactly one `phala cvms get` ----

@test "a full host name is used as is; --port overrides 443" {
	run PX --print-host --phala "$FAKE" gw.example.net
	assert_success
	assert_output "gw.example.net 443"
	run PX --print-host --port 8443 gw.example.net
	assert_output "gw.example.net 8443"
	[ "$(calls)" -eq 0 ]
}

@test "cached claim: lease id, slug, app id, app_/0x prefixes and .phala names, zero phala calls" {
	claim "$LEASE" my-box "$APP" "$GWHOST" 8443
	for t in "$LEASE" my-box "$APP" "app_$APP" "0x${APP^^}" "$LEASE.phala" my-box.phala "app_$APP.phala"; do
		run PX --print-host --phala "$FAKE" "$t"
		assert_success
		assert_output "$GWHOST 8443"
	done
	[ "$(calls)" -eq 0 ]
}

@test "cached claim with --connect-to: the tunnel works with no phala call" {
	claim "$LEASE" my-box "$APP" "$GWHOST"
	gw=$(tls_gateway gw.pem "SYSTEM:cat")
	run PX --phala "$FAKE" --connect-to "127.0.0.1:$gw" --cafile "$PKI/ca.pem" my-box < <(printf ping)
	assert_success
	assert_output ping
	[ "$(calls)" -eq 0 ]
}

# ---- a connection is use of its lease (issue 13, item 4) ----

# lease_claim LEASE [KEY=VALUE...]: a ready claim of $GWHOST, as acquire
# leaves it, last touched long ago.
lease_claim() {
	local l=$1
	shift
	"$BIN/phala-claim" --dir "$PHALA_CLAIMS_DIR" create "$l" app_id="$APP" state=ready gateway_host="$GWHOST" \
		gateway_port=443 created_at=1000 ttl_secs=2000000000 idle_secs=1800 last_touched_at=1000 expires_at=2800 \
		keep=false "$@" >/dev/null
}
field() { "$BIN/phala-claim" --dir "$PHALA_CLAIMS_DIR" get "$1" "$2"; }
# px_bye ARGS...: one connection to a gateway that says bye and closes; stdin
# stays open (a FIFO opened read-write), so only the server ends it.
px_bye() {
	[ -p open-stdin ] || mkfifo open-stdin
	run PX --connect-to "127.0.0.1:$gw" --cafile "$PKI/ca.pem" "$@" 0<>open-stdin
	assert_success
	assert_output bye
}

@test "each connection records use: the claim of the gateway host gets last_touched_at and expires_at; a burst writes once" {
	lease_claim "$LEASE"
	gw=$(tls_gateway gw.pem "SYSTEM:echo bye")
	t0=$(date +%s)
	px_bye "$GWHOST"
	touched=$(field "$LEASE" last_touched_at)
	[ "$touched" -ge "$t0" ]
	[ "$(field "$LEASE" expires_at)" = $((touched + 1800)) ]
	[ "$(field "$LEASE" created_at)" = 1000 ]
	rev=$(field "$LEASE" revision)
	px_bye "$GWHOST"
	[ "$(field "$LEASE" revision)" = "$rev" ] # touched less than 30 s ago: no write
	# By lease id (the claim gives the host), the same.
	"$BIN/phala-claim" --dir "$PHALA_CLAIMS_DIR" set "$LEASE" last_touched_at=1000 >/dev/null
	px_bye "$LEASE"
	[ "$(field "$LEASE" last_touched_at)" -ge "$t0" ]
}

@test "the touch never creates or resurrects a claim and leaves unusable ones alone; the connection works regardless" {
	gw=$(tls_gateway gw.pem "SYSTEM:echo bye")
	px_bye "$GWHOST"
	run ls -A "$PHALA_CLAIMS_DIR"
	assert_output ""
	lease_claim aaaaaaaaaaaa state=releasing
	lease_claim bbbbbbbbbbbb gateway_host=b-22.test-gateway.example recovery=kept-after-failure
	rev_a=$(field aaaaaaaaaaaa revision)
	rev_b=$(field bbbbbbbbbbbb revision)
	px_bye "$GWHOST"
	px_bye --port 443 bbbbbbbbbbbb
	[ "$(field aaaaaaaaaaaa revision)" = "$rev_a" ]
	[ "$(field bbbbbbbbbbbb revision)" = "$rev_b" ]
}

@test "a held lock (a release at work) does not hold up the connection; a claim removed under it is not recreated" {
	lease_claim "$LEASE"
	gw=$(tls_gateway gw.pem "SYSTEM:echo bye")
	# shellcheck disable=SC2016 # expanded by the inner sh
	"$BIN/phala-claim" --dir "$PHALA_CLAIMS_DIR" lock "$LEASE" -- sh -c \
		'touch held; while [ ! -e go ]; do sleep 0.1; done; "$1" --dir "$2" rm "$3"' sh "$BIN/phala-claim" "$PHALA_CLAIMS_DIR" "$LEASE" &
	lockpid=$!
	while [ ! -e held ]; do sleep 0.05; done
	px_bye "$GWHOST"
	kill -0 "$lockpid" # the lock was held all along
	touch go
	wait "$lockpid"
	sleep 0.5
	run ls -A "$PHALA_CLAIMS_DIR"
	refute_output --partial "$LEASE"
}

@test "app id without a claim: exactly one cvms get, in an empty dir, stdin /dev/null, DEBUG unset" {
	export FAKE_PHALA_STDOUT=$DATA/phala/cvms-get.json DEBUG=1
	run PX --print-host --phala "$FAKE" "$APP"
	assert_success
	assert_output "$APP-22.dstack-pha-prod7.phala.network 443"
	[ "$(calls)" -eq 1 ]
	[ "$(cat phala.log)" = "cvms get app_$APP --json" ]
	[ "$(cat phala.log.env)" = "cwd-entries=0 debug=unset update-check-disabled=1 stdin=devnull" ]
}

@test "app id without a claim, end to end: one cvms get, then the verified tunnel" {
	printf '{"success":true,"app_id":"%s","status":"running","gateway":{"base_domain":"test-gateway.example","cname":null}}\n' \
		"$APP" >get.json
	export FAKE_PHALA_STDOUT=$BATS_TEST_TMPDIR/get.json
	gw=$(tls_gateway gw.pem "SYSTEM:cat")
	run PX --phala "$FAKE" --connect-to "127.0.0.1:$gw" --cafile "$PKI/ca.pem" "app_$APP.phala" < <(printf ping)
	assert_success
	assert_output ping
	[ "$(calls)" -eq 1 ]
}

@test "a claim without a gateway host falls back to one cvms get of its app id" {
	claim "$LEASE" my-box "$APP" ""
	export FAKE_PHALA_STDOUT=$DATA/phala/cvms-get.json
	run PX --print-host --phala "$FAKE" my-box
	assert_success
	assert_output "$APP-22.dstack-pha-prod7.phala.network 443"
	[ "$(calls)" -eq 1 ]
}

@test "cvms get: a progress line before and noise after the JSON are tolerated" {
	{ echo "Fetching CVM app_$APP..."; cat "$DATA/phala/cvms-get.json"; echo "trailing {noise"; } >get.txt
	export FAKE_PHALA_STDOUT=$BATS_TEST_TMPDIR/get.txt
	run PX --print-host --phala "$FAKE" "$APP"
	assert_success
	assert_output "$APP-22.dstack-pha-prod7.phala.network 443"
}

@test "cvms get: camelCase keys and the legacy flat gateway_domain with a :port" {
	printf '{"success":true,"appId":"app_%s","gateway":{"baseDomain":"gw.example"}}\n' "$APP" >camel.json
	FAKE_PHALA_STDOUT=$BATS_TEST_TMPDIR/camel.json run PX --print-host --phala "$FAKE" "$APP"
	assert_success
	assert_output "$APP-22.gw.example 443"
	printf '{"success":true,"id":7,"app_id":"%s","gateway_domain":"gw.example:8443","in_progress":false}\n' \
		"$APP" >flat.json
	FAKE_PHALA_STDOUT=$BATS_TEST_TMPDIR/flat.json run PX --print-host --phala "$FAKE" "$APP"
	assert_success
	assert_output "$APP-22.gw.example 8443"
	printf '{"success":true,"gatewayDomain":"gw.example","appId":"%s"}\n' "$APP" >camelflat.json
	FAKE_PHALA_STDOUT=$BATS_TEST_TMPDIR/camelflat.json run PX --print-host --phala "$FAKE" "$APP"
	assert_output "$APP-22.gw.example 443"
}

@test "cvms get: success:false is an error (exit 5) with the CLI's text, even with rc 0" {
	export FAKE_PHALA_STDOUT=$DATA/phala/cvms-get-not-found.json FAKE_PHALA_RC=1
	run PX --print-host --phala "$FAKE" "$APP"
	assert_failure 5
	assert_output "phala-proxy: $FAKE cvms get app_$APP: the CVM lookup failed: CVM not found"
	FAKE_PHALA_RC=0 run PX --print-host --phala "$FAKE" "$APP"
	assert_failure 5
	assert_output --partial "CVM not found"
	[ "$(calls)" -eq 2 ]
}

@test "cvms get: no gateway domain is exit 5 (not on a gateway)" {
	printf '{"success":true,"app_id":"%s","status":"running","gateway":{"base_domain":null,"cname":null}}\n' \
		"$APP" >nogw.json
	FAKE_PHALA_STDOUT=$BATS_TEST_TMPDIR/nogw.json run PX --print-host --phala "$FAKE" "$APP"
	assert_failure 5
	assert_output --partial "not registered on any gateway"
	printf '{"success":true,"app_id":"%s","gateway":{"base_domain":""}}\n' "$APP" >empty.json
	FAKE_PHALA_STDOUT=$BATS_TEST_TMPDIR/empty.json run PX --print-host --phala "$FAKE" "$APP"
	assert_failure 5
}

@test "cvms get: a CVM that is not running is exit 5, naming its status" {
	printf '{"success":true,"app_id":"%s","status":"stopped","gateway":{"base_domain":"gw.example"}}\n' "$APP" >stopped.json
	FAKE_PHALA_STDOUT=$BATS_TEST_TMPDIR/stopped.json run PX --print-host --phala "$FAKE" "$APP"
	assert_failure 5
	assert_output --partial "the CVM is not running (status: stopped)"
}

@test "cvms get: a missing phala binary is exit 5" {
	run PX --print-host --phala "$BATS_TEST_TMPDIR/no-such-phala" "$APP"
	assert_failure 5
	assert_output --partial "cannot run $BATS_TEST_TMPDIR/no-such-phala: No such file or directory"
}

@test "cvms get: unparseable output is exit 3 (rc 0) or exit 5 with stderr (rc 1)" {
	echo "Unknown API error" >garbage.txt
	export FAKE_PHALA_STDOUT=$BATS_TEST_TMPDIR/garbage.txt
	run PX --print-host --phala "$FAKE" "$APP"
	assert_failure 3
	assert_output --partial "no JSON object in the output"
	printf '{"success":true,"app_id":"%s","gateway":{"base_domain":"x.example"}' "$APP" >truncated.json
	FAKE_PHALA_STDOUT=$BATS_TEST_TMPDIR/truncated.json run PX --print-host --phala "$FAKE" "$APP"
	assert_failure 3
	printf '{"success":true,"app_id":"1234","gateway":{"base_domain":"x.example"}}' >badid.json
	FAKE_PHALA_STDOUT=$BATS_TEST_TMPDIR/badid.json run PX --print-host --phala "$FAKE" "$APP"
	assert_failure 3
	FAKE_PHALA_RC=1 FAKE_PHALA_STDERR="Unknown API error" run PX --print-host --phala "$FAKE" "$APP"
	assert_failure 5
	assert_output --partial "exit status 1: Unknown API error"
}

@test "cvms get: a CLI that does not answer is stopped after --connect-timeout, exit 5" {
	FAKE_PHALA_SLEEP=30 run PX --print-host --connect-timeout 1 --phala "$FAKE" "$APP"
	assert_failure 5
	assert_output "phala-proxy: $FAKE cvms get app_$APP: timed out after 1 s"
	[ "$(calls)" -eq 1 ]
}

@test "a lease id or slug without a claim is exit 4, with no phala call" {
	run PX --print-host --phala "$FAKE" no-such-lease
	assert_failure 4
	assert_output --partial "no-such-lease: no claim with this lease id or slug"
	[ "$(calls)" -eq 0 ]
}

@test "usage errors are exit 2" {
	run PX
	assert_failure 2
	run PX --connect-to nocolon "$GWHOST"
	assert_failure 2
	run PX --port 70000 "$GWHOST"
	assert_failure 2
	run PX --connect-timeout 0 "$GWHOST"
	assert_failure 2
	run PX 'bad/target'
	assert_failure 2
	run PX a.b.phala
	assert_failure 2
	run PX --help
	assert_success
	assert_output --partial "usage: phala-proxy"
}

#!/bin/sh
# pg-server.sh start DIR | stop DIR: a throw-away PostgreSQL server for the
# claim tests, in DIR (created), on a free loopback port, as the unprivileged
# test user (t/helpers/test-user.sh; setpriv when root), with TLS from a test
# CA (DIR/ca.crt; the server's certificate names localhost and 127.0.0.1) and
# password (SCRAM) authentication for the role "phala".
# start prints the connection URI (with its password: keep it out of argv),
# and writes DIR/url, DIR/password, DIR/port. Without Debian's server
# binaries (/usr/lib/postgresql/*/bin) it exits 77 with the reason on stderr.
# The server log is DIR/log/server.log. stop ends the server at once (the suites' data is disposable).
set -eu
cmd=${1:-} dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then echo "usage: pg-server.sh start|stop DIR" >&2; exit 2; fi
bin=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ] || [ ! -x "$bin/pg_ctl" ]; then
	echo "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin; Debian package postgresql)" >&2
	exit 77
fi
user=$(sh "$(dirname "$0")/test-user.sh")
as_user() {
	if [ "$(id -u)" -eq 0 ]; then
		setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups -- "$@"
	else
		"$@"
	fi
}
case $cmd in
stop)
	[ -f "$dir/data/postmaster.pid" ] || exit 0
	as_user "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
	exit 0 ;;
start) ;;
*) echo "pg-server.sh: unknown command $cmd" >&2; exit 2 ;;
esac
mkdir -p "$dir"
chmod 755 "$dir"
pw=$(openssl rand -hex 16)
umask 077
printf '%s\n' "$pw" > "$dir/pwfile"
# The test CA and the server's certificate.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=phala-test-ca -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > "$dir/san.ext"
openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -days 2 \
	-extfile "$dir/san.ext" -out "$dir/server.crt" 2>/dev/null
chmod 644 "$dir/ca.crt"
if [ "$(id -u)" -eq 0 ]; then chown "$user" "$dir/pwfile" "$dir/server.key" "$dir/server.crt"; fi
mkdir -p "$dir/data" "$dir/sock" "$dir/log"
if [ "$(id -u)" -eq 0 ]; then chown "$user" "$dir/data" "$dir/sock" "$dir/log"; fi
as_user "$bin/initdb" -D "$dir/data" -U phala --pwfile="$dir/pwfile" --auth-local=trust --auth-host=scram-sha-256 \
	-E UTF8 --no-locale >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 4; }
rm -f "$dir/pwfile"
cat >> "$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir/sock'
ssl = on
ssl_cert_file = '$dir/server.crt'
ssl_key_file = '$dir/server.key'
fsync = off
max_connections = 200
log_connections = on
log_statement = 'all'
CONF
i=0
while :; do
	port=$((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 30000))
	if as_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/log/server.log" -o "-p $port" -w -t 30 start >/dev/null 2>&1; then
		break
	fi
	i=$((i + 1))
	[ "$i" -lt 5 ] || { tail -n 20 "$dir/log/server.log" >&2; exit 4; }
done
umask 022
printf '%s\n' "$port" > "$dir/port"
printf '%s\n' "$pw" > "$dir/password"
printf 'postgresql://phala:%s@127.0.0.1:%s/postgres\n' "$pw" "$port" | tee "$dir/url"

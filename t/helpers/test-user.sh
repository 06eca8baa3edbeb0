#!/bin/sh
# test-user.sh: prints the unprivileged user that test sshds run as and log
# in as. Not root: the invoking user. Root: the system user `phala-test`
# (no home of its own: /tmp; shell /bin/sh), created on first use; several
# suites may ask at once, so a lost race for /etc/passwd's lock is retried.
set -eu
if [ "$(id -u)" -ne 0 ]; then
	id -un
	exit 0
fi
user=phala-test
i=0
until id "$user" >/dev/null 2>&1; do
	useradd --system --no-create-home --home-dir /tmp --shell /bin/sh "$user" 2>/dev/null && break
	i=$((i + 1))
	[ "$i" -lt 50 ] || { echo "test-user: cannot create user $user" >&2; exit 4; }
	sleep 0.1
done
echo "$user"

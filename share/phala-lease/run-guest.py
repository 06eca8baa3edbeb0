# phala-lease run: the supervisor of one command in the guest. phala-lease
# uploads it into a per-run control directory CTL and runs it with python3
# (the dstack guest ships python3, not setsid or a job-control shell):
#
#   python3 CTL/run-guest.py exec CTL WORK   runs the command of CTL/spec in
#       WORK, in a process group of its own; exits with its status (128+N
#       when killed by signal N); kills what is left of the group afterwards
#   python3 CTL/run-guest.py stop CTL        SIGTERM to that process group,
#       SIGKILL after a grace period; exit 0 once no process of it is left
#
# CTL/spec is base64 of NUL-terminated records: "a" + one argument (argv in
# order), "e" + NAME=VALUE (an environment variable). It holds the --env
# values, so it is removed before the command starts. The command inherits
# stdin, stdout and stderr untouched (bytes pass through ssh as they are).
# CTL/status gets the exit status when the ssh session ended before it (or
# the status is 255, which ssh also uses for its own failures); otherwise
# CTL is removed at the end.
import base64
import os
import signal
import sys
import threading
import time

TERM_GRACE = 2.0
KILL_WAIT = 5.0


def alive(pgid):
    """A process of the group that is not a zombie (a zombie waits only for
    its reaper, which may be slow)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return True
    for p in pids:
        try:
            with open("/proc/%s/stat" % p, "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != b"Z":
            return True
    return False


def stop_group(pgid):
    """SIGTERM, then SIGKILL after the grace; True when the group is gone."""
    for sig, wait in ((signal.SIGTERM, TERM_GRACE), (signal.SIGKILL, KILL_WAIT)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return True
        end = time.monotonic() + wait
        while time.monotonic() < end:
            if not alive(pgid):
                return True
            time.sleep(0.05)
    return not alive(pgid)


def write_file(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def read_spec(ctl):
    path = os.path.join(ctl, "spec")
    with open(path, "rb") as f:
        data = base64.b64decode(f.read())
    os.unlink(path)
    argv, env = [], {}
    for rec in data.split(b"\0")[:-1]:
        kind, body = rec[:1], rec[1:]
        if kind == b"a":
            argv.append(body)
        elif kind == b"e" and b"=" in body:
            k, v = body.split(b"=", 1)
            env[k] = v
    if not argv:
        raise ValueError("no command in the spec")
    return argv, env


def child(argv, env, work):
    try:
        os.setpgid(0, 0)
        for s in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_DFL)
        if os.isatty(0):
            # With a terminal the command is its foreground group, so that
            # ^C reaches it the way it would in a login shell.
            signal.signal(signal.SIGTTOU, signal.SIG_IGN)
            os.tcsetpgrp(0, os.getpgrp())
            signal.signal(signal.SIGTTOU, signal.SIG_DFL)
        os.chdir(work)
        os.execvpe(argv[0], argv, env)
    except FileNotFoundError:
        os.write(2, b"phala-lease run: " + argv[0] + b": command not found\n")
        os._exit(127)
    except OSError as e:
        os.write(2, b"phala-lease run: " + argv[0] + b": " + e.strerror.encode() + b"\n")
        os._exit(126)
    os._exit(127)


def run(ctl, work):
    argv, extra = read_spec(ctl)
    env = dict(os.environb)
    env.update(extra)
    parent = os.getppid()
    pid = os.fork()
    if pid == 0:
        child(argv, env, work)
    try:
        os.setpgid(pid, pid)
    except OSError:
        pass  # the child did it first, or already exec'd
    write_file(os.path.join(ctl, "pgid"), "%d\n" % pid)
    orphaned = threading.Event()

    def watch():
        # The ssh session is gone (sshd exited, this process was
        # reparented): nobody waits for the command any more.
        while os.getppid() == parent:
            time.sleep(0.5)
        orphaned.set()
        stop_group(pid)

    threading.Thread(target=watch, daemon=True).start()

    def on_signal(signum, frame):
        threading.Thread(target=stop_group, args=(pid,), daemon=True).start()

    for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(s, on_signal)
    _, st = os.waitpid(pid, 0)
    if os.WIFSIGNALED(st):
        code = 128 + os.WTERMSIG(st)
    else:
        code = os.WEXITSTATUS(st)
    # Whatever the command left running in its group would hold the
    # session's output open: end it.
    if alive(pid):
        stop_group(pid)
    if orphaned.is_set() or code == 255:
        write_file(os.path.join(ctl, "status"), "%d\n" % code)
    else:
        for f in ("pgid", "run-guest.py"):
            try:
                os.unlink(os.path.join(ctl, f))
            except OSError:
                pass
        try:
            os.rmdir(ctl)
        except OSError:
            pass
    sys.stdout.flush()
    os._exit(code)


def stop(ctl):
    try:
        with open(os.path.join(ctl, "pgid")) as f:
            pgid = int(f.read().strip())
    except (OSError, ValueError):
        return 0  # never started, or already finished and cleaned up
    if pgid <= 1:
        return 1
    return 0 if stop_group(pgid) else 1


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "exec":
        run(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "stop":
        sys.exit(stop(sys.argv[2]))
    sys.stderr.write("usage: run-guest.py exec CTL WORK | stop CTL\n")
    sys.exit(2)


main()

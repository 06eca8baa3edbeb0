#!/usr/bin/env python3
"""mirror.py DIR [WATCH_PID]: the simulator's OS image mirror (issue 11).

Serves the files of DIR/mirror (the synthetic images' mr_<os_image_hash>.tar.gz)
read-only over HTTP on 127.0.0.1, a free port written to DIR/mirror.port once
it listens. One line a request in DIR/mirror.log: "METHOD PATH STATUS".
Orphan guard, as the gateway's: it exits within a second of DIR/mirror.port
disappearing (the simulator stopped, its directory removed) or of WATCH_PID
exiting."""
import functools
import http.server
import os
import sys
import threading
import time

top = sys.argv[1]
watch = int(sys.argv[2]) if len(sys.argv) > 2 else 0
port_file = os.path.join(top, "mirror.port")
log_path = os.path.join(top, "mirror.log")
lock = threading.Lock()


class Handler(http.server.SimpleHTTPRequestHandler):
    def log_request(self, code="-", size="-"):
        with lock, open(log_path, "a") as f:
            f.write("%s %s %s\n" % (self.command, self.path, code))

    def log_message(self, *args):
        pass

    def list_directory(self, path):
        self.send_error(403)


server = http.server.ThreadingHTTPServer(
    ("127.0.0.1", 0), functools.partial(Handler, directory=os.path.join(top, "mirror")))
open(log_path, "a").close()
with open(port_file + ".tmp", "w") as f:
    f.write("%d\n" % server.server_address[1])
os.rename(port_file + ".tmp", port_file)


def guard():
    while True:
        time.sleep(1)
        gone = not os.path.exists(port_file)
        if watch and not gone:
            try:
                os.kill(watch, 0)
            except ProcessLookupError:
                gone = True
            except PermissionError:
                pass
        if gone:
            os._exit(0)


threading.Thread(target=guard, daemon=True).start()
server.serve_forever()

"""The fork server that runs *inside* one bubblewrap sandbox (trusted harness code).

Started once per run, as root inside the sandbox, it imports the modules named on its
command line (the worker and the agent library: about a second of CPU each time a fresh
interpreter does it) and then forks one child per program. The child makes itself what a
fresh sandbox would be before any untrusted code runs (see `_episode`): its own pid, mount,
network and IPC namespaces, /proc and /tmp, its own folder, the limits, and a per-program
unprivileged uid, so programs can neither see nor signal one another; and it dies with the
server. Single-threaded and without an event loop, so forking it is safe.

Protocol on the inherited SOCK_SEQPACKET socket, one JSON object per packet:
- host → server `{"op": "spawn", "id", "module", "args", "cwd", "uid", "env", "limits",
  "tmp_mb", "folder_mb", "network", "seccomp"}` with four fds attached (stdout, stderr, and
  the two channel fds, which the program finds as fds 3 and 4); `{"op": "kill", "id"}`
  kills the program and everything it started.
- server → host `{"op": "ready"}` once, `{"op": "started", "id", "pid"}`, `{"op": "exit",
  "id", "returncode"}` (as subprocess reports it: negative for a signal), and
  `{"op": "failed", "id", "error"}` for a request it could not act on.
The server exits, killing every program, when the host's end of the socket closes.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import os
import selectors
import signal
import socket
import sys
from typing import Any

from harness.sandbox._episode import CHANNEL_FDS, SETUP_FAILED, STOP, keeper

__all__ = ["CHANNEL_FDS", "Server", "main"]


class Server:
    def __init__(self, control: socket.socket) -> None:
        self.control = control
        self.selector = selectors.DefaultSelector()
        self.selector.register(control, selectors.EVENT_READ)
        self.children: dict[int, tuple[int, int]] = {}  # pidfd -> (program id, keeper pid)

    def send(self, message: dict[str, Any]) -> None:
        self.control.send(json.dumps(message).encode())

    def serve(self) -> None:
        self.send({"op": "ready"})
        while True:
            for key, _ in self.selector.select():
                if key.fileobj is self.control:
                    if not self._command():
                        return
                else:
                    self._reap(int(key.fd))

    def _command(self) -> bool:
        data, fds, _flags, _addr = socket.recv_fds(self.control, 1 << 20, 8)
        if not data:
            return False
        message = json.loads(data)
        if message["op"] == "spawn":
            self._spawn(message, fds)
        elif message["op"] == "kill":
            self._kill(message["id"])
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        return True

    def _spawn(self, spec: dict[str, Any], fds: list[int]) -> None:
        if len(fds) != 4:
            self.send({"op": "failed", "id": spec["id"], "error": f"{len(fds)} fds, not 4"})
            return
        sys.stdout.flush()
        sys.stderr.flush()
        server_pid = os.getpid()
        pid = os.fork()
        if pid == 0:
            try:
                keeper(spec, fds, server_pid)
            finally:  # whatever escapes, this copy of the server must never serve
                os._exit(SETUP_FAILED)
        pidfd = os.pidfd_open(pid)
        self.children[pidfd] = (spec["id"], pid)
        self.selector.register(pidfd, selectors.EVENT_READ)
        self.send({"op": "started", "id": spec["id"], "pid": pid})

    def _kill(self, program: int) -> None:
        """The keeper kills the program's pid namespace, so all it started, and exits (so is
        reported) once that namespace is empty."""
        for running, pid in list(self.children.values()):
            if running == program:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, STOP)

    def _reap(self, pidfd: int) -> None:
        program, pid = self.children.pop(pidfd)
        self.selector.unregister(pidfd)
        os.close(pidfd)
        _pid, status = os.waitpid(pid, 0)
        self.send({"op": "exit", "id": program, "returncode": os.waitstatus_to_exitcode(status)})

    def shutdown(self) -> None:
        for _program, pid in self.children.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def main(argv: list[str]) -> None:
    control = socket.socket(fileno=int(argv[1]))
    for module in argv[2:]:
        importlib.import_module(module)
    gc.collect()
    gc.freeze()  # keep the preloaded heap shared with the children (copy-on-write)
    server = Server(control)
    try:
        server.serve()
    finally:
        server.shutdown()


if __name__ == "__main__":
    main(sys.argv)

"""Run benchmark code that touches candidate-controlled input in a child process with limits.

Two uses: scoring (BFCL's checkers, a user's regex: third-party or trusted code, but fed the
candidate's answer) and BFCL's simulated APIs (which `eval` call text built from the agent's
calls). Either could be made to compute for minutes, eat memory or, through a bug, run code;
none of that may happen in the harness process. The child:

- starts with an empty environment (no API keys), under the sandbox's trusted launcher:
  address-space, file-size and core limits, no_new_privs, killed with the harness, and a
  per-worker unprivileged uid when the harness runs as root;
- then takes away its own right to write, rename or delete any file, open TCP connections and
  signal processes outside it (Landlock, `_landlock`), before it reads any request;
- answers in JSON only, at most `MAX_REPLY` bytes: the harness never unpickles what a child
  sends, so even a child that runs hostile code cannot reach back in;
- runs a `fresh` call (every scoring) in a forked copy of itself with a CPU limit, which exits
  afterwards: one answer cannot leave anything behind for the next. Calls that are not fresh
  share the child's state (an episode's API instances), so one worker serves one episode.

A call that overruns its time fails with `IsolatedTimeout`; any other failure (the call
raised, the child died) with `IsolatedError`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import importlib
import json
import logging
import os
import resource
import select
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, NoReturn

MEMORY_MB = 2048
MAX_REPLY = 16 * 1024 * 1024
READY_TIMEOUT_S = 60.0
WORKER_CPU_S = 7 * 24 * 3600.0  # a worker lives for a run; each fresh call has its own limit
ROOT = Path(__file__).resolve().parent.parent  # where `benchmarks` is imported from
log = logging.getLogger("benchmarks.isolated")
_gaps_reported: set[str] = set()


class IsolatedError(RuntimeError):
    """The call failed, or the child died or could not start."""


class IsolatedTimeout(IsolatedError):
    """The call ran over its time and was killed."""


# ---------------------------------------------------------------------------- in the child

def _plain(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)  # a Score crosses as its fields
    return dump() if callable(dump) else value


def _run(target: str, args: tuple[Any, ...]) -> bytes:
    module_name, _, function = target.partition(":")
    try:
        value = getattr(importlib.import_module(module_name), function)(*args)
        return json.dumps([True, _plain(value)]).encode()
    except BaseException as error:  # reported to the caller as the call's failure
        return json.dumps([False, f"{type(error).__name__}: {str(error)[:500]}", "error"]).encode()


def _fresh_child(target: str, args: tuple[Any, ...], timeout_s: float, out: int) -> None:
    ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG: dies with us
    cpu = int(timeout_s) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    data = _run(target, args)
    with contextlib.suppress(OSError):
        view = memoryview(data)
        while view:
            view = view[os.write(out, view):]
    os._exit(0)


def _read_child(pid: int, fd: int, timeout_s: float) -> bytes:
    deadline, size = time.monotonic() + timeout_s, 0
    chunks: list[bytes] = []
    while (left := deadline - time.monotonic()) > 0 and size <= MAX_REPLY:
        if not select.select([fd], [], [], left)[0]:
            continue
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            _, status = os.waitpid(pid, 0)
            if status == 0 and chunks:
                return b"".join(chunks)
            why = f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else "no reply"
            return json.dumps([False, f"the scoring process died ({why})", "error"]).encode()
        chunks.append(chunk)
        size += len(chunk)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    if size > MAX_REPLY:
        return json.dumps([False, f"reply over {MAX_REPLY} bytes", "error"]).encode()
    return json.dumps([False, f"a call ran over {timeout_s:g} s", "timeout"]).encode()


def _forked(target: str, args: tuple[Any, ...], timeout_s: float) -> bytes:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        _fresh_child(target, args, timeout_s, write_end)
    os.close(write_end)
    try:
        return _read_child(pid, read_end, timeout_s)
    finally:
        os.close(read_end)


def _serve(conn: Connection) -> None:
    from benchmarks import _landlock

    gap = _landlock.restrict()
    conn.send_bytes(json.dumps(["ready", gap]).encode())
    while True:
        try:
            target, args, fresh, timeout_s = conn.recv()
        except EOFError:
            return
        if fresh:
            # Import in the long-lived parent (trusted code, no answer seen), so each fork
            # starts with the module loaded instead of importing it again.
            with contextlib.suppress(BaseException):
                importlib.import_module(target.partition(":")[0])
            reply = _forked(target, args, timeout_s)
        else:
            reply = _run(target, args)
        conn.send_bytes(reply)


# --------------------------------------------------------------------------- in the harness

def _world_traversable(path: Path) -> bool:
    """Whether another uid could import from `path` (so the child may drop to one)."""
    for part in (path, *path.parents):
        if not os.stat(part).st_mode & stat.S_IXOTH:
            return False
    return bool(os.stat(path).st_mode & stat.S_IROTH)


def _launch(fd: int, memory_mb: int) -> tuple[list[str], int | None]:
    from harness.sandbox import SandboxPolicy
    from harness.sandbox._launch import allocate_uid, drops_privileges, launcher_argv

    uid = allocate_uid() if drops_privileges("none") and _world_traversable(ROOT) else None
    policy = SandboxPolicy(cpu_time_s=WORKER_CPU_S, memory_mb=memory_mb, max_file_size_mb=1,
                           max_processes=64 if uid is not None else 1 << 20)
    child = [sys.executable, "-s", "-P", "-m", "benchmarks._isolated", "--fd", str(fd)]
    return launcher_argv(policy, uid, os.getpid()) + child, uid


def _environment() -> dict[str, str]:
    """Nothing of the harness's own environment: no keys, no tokens."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/nonexistent",
            "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}


class IsolatedWorker:
    """A child process that runs `module:function(*args)` calls one at a time."""

    def __init__(self, memory_mb: int = MEMORY_MB) -> None:
        # A fresh interpreter (no inherited threads, locks or event loops), talking over a
        # socketpair; unlike multiprocessing's spawn it never re-imports the parent's __main__.
        ours, theirs = socket.socketpair()
        argv, self._uid = _launch(theirs.fileno(), memory_mb)
        self._process = subprocess.Popen(
            argv, pass_fds=(theirs.fileno(),), env=_environment(), cwd="/",
            stdin=subprocess.DEVNULL, start_new_session=True)
        theirs.close()
        self._conn = Connection(ours.detach())
        # A thread lock, not an asyncio one: a shared worker outlives any one event loop.
        self._lock = threading.Lock()
        self.dead: str | None = None
        self.gap: str | None = None
        self._ready = False

    async def call(self, target: str, *args: Any, timeout_s: float = 30.0,
                   fresh: bool = False) -> Any:
        """`module:function(*args)` in the child; `fresh` runs it in a throwaway fork."""
        return await asyncio.to_thread(self._call, target, args, timeout_s, fresh)

    def alive(self) -> bool:
        return not self.dead and self._process.poll() is None

    def _call(self, target: str, args: tuple[Any, ...], timeout_s: float, fresh: bool) -> Any:
        with self._lock:
            if self.dead:
                raise IsolatedError(f"not available: {self.dead}")
            if not self._ready:
                self._ready_or_die()
            return self._exchange((target, args, fresh, timeout_s), timeout_s)

    def _ready_or_die(self) -> None:
        kind, self.gap = self._receive(READY_TIMEOUT_S, "starting")
        if kind != "ready":
            self._kill("the process did not start")
        self._ready = True
        if self.gap and self.gap not in _gaps_reported:
            _gaps_reported.add(self.gap)
            log.warning("scoring child: files stay writable to it: %s", self.gap)

    def _receive(self, timeout_s: float, doing: str) -> Any:
        try:
            if not self._conn.poll(timeout_s):
                self._kill(f"{doing} ran over {timeout_s:g} s", timeout=True)
            data = self._conn.recv_bytes(MAX_REPLY)
        except (EOFError, OSError):
            self._kill(f"the process died while {doing} (out of memory?)")
        try:
            reply = json.loads(data)
        except (ValueError, RecursionError):
            self._kill(f"malformed reply while {doing}")
        if not isinstance(reply, list) or len(reply) < 2:
            self._kill(f"malformed reply while {doing}")
        return reply

    def _exchange(self, request: tuple[Any, ...], timeout_s: float) -> Any:
        try:
            self._conn.send(request)
        except OSError:
            self._kill("the process died (out of memory?)")
        # A fresh call is timed by the child itself; this margin only catches a stuck child.
        reply = self._receive(timeout_s + (5.0 if request[2] else 0.0), "calling")
        if reply[0] is True:
            return reply[1]
        message = str(reply[1])[:600]
        if len(reply) > 2 and reply[2] == "timeout":
            raise IsolatedTimeout(message)
        raise IsolatedError(message)

    def _kill(self, why: str, *, timeout: bool = False) -> NoReturn:
        self.dead = why
        self.close()
        raise (IsolatedTimeout if timeout else IsolatedError)(why)

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait(timeout=5)
        self._conn.close()
        if self._uid is not None:
            from harness.sandbox._launch import release_uid

            release_uid(self._uid)
            self._uid = None


POOL_SIZE = max(2, min(4, os.cpu_count() or 2))
_pool: list[IsolatedWorker | None] = [None] * POOL_SIZE
_pool_lock = threading.Lock()
_turn = 0


def shared_worker() -> IsolatedWorker:
    """One of a few long-lived workers for fresh (stateless) calls, in turn; a dead one is
    replaced. Call it on the event loop's thread: a child dies with the thread that made it."""
    global _turn
    with _pool_lock:
        _turn = (_turn + 1) % POOL_SIZE
        worker = _pool[_turn]
        if worker is None or not worker.alive():
            worker = _pool[_turn] = IsolatedWorker()
        return worker


async def call_isolated(target: str, *args: Any, timeout_s: float, fresh: bool = True) -> Any:
    """One stateless call in a shared worker: in a throwaway fork of it (`fresh`, ~4 ms more)
    where the code could be made to run code or keep state, else in the worker itself, which
    is killed and replaced if the call overruns."""
    return await shared_worker().call(target, *args, timeout_s=timeout_s, fresh=fresh)


def main() -> None:
    parser = argparse.ArgumentParser(prog="benchmarks._isolated")
    parser.add_argument("--fd", type=int, required=True)
    args = parser.parse_args()
    _serve(Connection(args.fd))


if __name__ == "__main__":
    main()

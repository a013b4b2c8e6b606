"""Run a benchmark's own (trusted, but unbounded) code in a child process with limits.

BFCL's simulated APIs do whatever the call asks: `power(10, 30_000_000)` computes for tens of
seconds while holding the GIL, and `square_root(precision=10**6)` changes the process's
decimal context. Called in the harness process, one such call would stall every episode and
the gate. Here each call runs in a spawned child with an address-space limit and a timeout;
a child that overruns is killed and the call fails with the reason. The child keeps state
between calls (an episode's API instances), so one `IsolatedWorker` serves one episode.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import resource
import socket
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from typing import Any

MEMORY_MB = 2048


def _serve(conn: Connection, memory_mb: int) -> None:
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    while True:
        try:
            target, args = conn.recv()
        except EOFError:
            return
        module_name, _, function = target.partition(":")
        try:
            value = getattr(importlib.import_module(module_name), function)(*args)
            conn.send((True, value))
        except BaseException as error:  # reported to the caller as the call's failure
            conn.send((False, f"{type(error).__name__}: {str(error)[:500]}"))


class IsolatedError(RuntimeError):
    """The call failed, timed out or killed its child."""


class IsolatedWorker:
    """A child process that runs `module:function(*args)` calls one at a time."""

    def __init__(self, memory_mb: int = MEMORY_MB) -> None:
        # A fresh interpreter (no inherited threads, locks or event loops), talking over a
        # socketpair; unlike multiprocessing's spawn it never re-imports the parent's __main__.
        ours, theirs = socket.socketpair()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks._isolated", "--fd", str(theirs.fileno()),
             "--memory-mb", str(memory_mb)], pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL)
        theirs.close()
        self._conn = Connection(ours.detach())
        # A thread lock, not an asyncio one: a shared worker outlives any one event loop.
        self._lock = threading.Lock()
        self.dead: str | None = None

    async def call(self, target: str, *args: Any, timeout_s: float = 30.0) -> Any:
        return await asyncio.to_thread(self._call, target, args, timeout_s)

    def _call(self, target: str, args: tuple[Any, ...], timeout_s: float) -> Any:
        with self._lock:
            if self.dead:
                raise IsolatedError(f"not available: {self.dead}")
            return self._exchange(target, args, timeout_s)

    def _exchange(self, target: str, args: tuple[Any, ...], timeout_s: float) -> Any:
        try:
            self._conn.send((target, args))
            if not self._conn.poll(timeout_s):
                self._kill(f"a call ran over {timeout_s:.0f} s")
            ok, value = self._conn.recv()
        except (EOFError, OSError, BrokenPipeError):
            self._kill("the process died (out of memory?)")
        if not ok:
            raise IsolatedError(value)
        return value

    def _kill(self, why: str) -> None:
        self.dead = why
        self.close()
        raise IsolatedError(why)

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait(timeout=5)
        self._conn.close()


_shared: IsolatedWorker | None = None
_shared_lock = threading.Lock()


def shared_worker() -> IsolatedWorker:
    """A long-lived worker for stateless calls (scoring), replaced when it dies."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared.dead:
            _shared = IsolatedWorker()
        return _shared


def main() -> None:
    parser = argparse.ArgumentParser(prog="benchmarks._isolated")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--memory-mb", type=int, default=MEMORY_MB)
    args = parser.parse_args()
    _serve(Connection(args.fd), args.memory_mb)


if __name__ == "__main__":
    main()

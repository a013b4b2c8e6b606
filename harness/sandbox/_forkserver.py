"""Start sandboxed workers by forking a preloaded server instead of a fresh interpreter.

A fresh sandboxed Python that imports LangGraph spends about a second of CPU before it does
anything; 64 episodes at once on a small machine spend most of their wall time there. The
fork server (`_zygote`, trusted code) runs in one bubblewrap sandbox with the worker policy,
imports the worker's modules once, and forks a child per episode. Each child gets its own
namespaces, folder, limits and unprivileged uid before untrusted code runs (see `_zygote`).

It needs bubblewrap and root: only a per-episode uid keeps episodes that share the server's
sandbox from signalling or reading one another. Elsewhere `fork_server_supported` is False
and callers start a fresh sandbox per program.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.sandbox._episode import CHANNEL_FDS
from harness.sandbox._launch import allocate_uid, environment, is_root, release_uid, rlimits
from harness.sandbox._models import Isolation, SandboxPolicy
from harness.sandbox._process import SandboxProcess, Supervised
from harness.sandbox._seccomp import program_hex

SERVER_LIFETIME_S = 30 * 24 * 3600.0  # the server lives as long as its run
READY_TIMEOUT_S = 120.0
LOST = "sandbox_lost"
log = logging.getLogger("harness.sandbox")


def fork_server_supported(isolation: Isolation) -> bool:
    return isolation.kind == "bwrap" and is_root()


async def _reader(fd: int) -> tuple[asyncio.StreamReader, asyncio.BaseTransport]:
    reader = asyncio.StreamReader()
    transport, _protocol = await asyncio.get_running_loop().connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", buffering=0))
    return reader, transport


class ForkedProcess(Supervised):
    """One program forked by the server; `kill` kills every process of its pid namespace;
    the totals watched are those of its uid's processes."""

    def __init__(self, server: ForkServer, episode: int, *, policy: SandboxPolicy,
                 streams: tuple[asyncio.StreamReader, asyncio.StreamReader],
                 transports: list[asyncio.BaseTransport], cleanup: Any, uid: int) -> None:
        self._server = server
        self._episode = episode
        self._transports = transports
        self._exit: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        super().__init__(policy=policy, isolation=server.isolation, streams=streams,
                         on_exit=cleanup, members=(uid, None))

    def ended(self, returncode: int, lost: bool = False) -> None:
        if lost and self._killed_reason is None:
            self._killed_reason = LOST
        if not self._exit.done():
            self._exit.set_result(returncode)

    def _has_exited(self) -> bool:
        return self._exit.done()

    async def _terminate(self) -> None:
        with contextlib.suppress(OSError):  # a server gone has taken its programs with it
            await self._server.send({"op": "kill", "id": self._episode})

    async def _await_exit(self) -> None:
        await asyncio.shield(self._exit)

    async def _returncode(self, pipes_stuck: bool) -> int:
        for transport in self._transports:
            transport.close()  # also the pipes a stray still held
        return self._exit.result()


class ForkServer:
    """A running fork server. `start` it, `spawn` programs, `aclose` it at the end."""

    CHANNEL_FDS = CHANNEL_FDS

    def __init__(self, process: SandboxProcess, control: socket.socket, root: Path) -> None:
        self.isolation = process.isolation
        self._process = process
        self._control = control
        self._root = root
        self._ids = itertools.count(1)
        self._children: dict[int, ForkedProcess] = {}
        self._ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._reading = asyncio.create_task(self._read())

    @property
    def pid(self) -> int:
        """The sandbox holding the server (killing it kills the server and every child)."""
        return self._process.pid

    @property
    def alive(self) -> bool:
        return not self._reading.done()

    @classmethod
    async def start(cls, policy: SandboxPolicy, *, preload: Sequence[str],
                    isolation: Isolation) -> ForkServer:
        """Start the server in a sandbox with `policy`'s visibility, importing `preload`."""
        from harness.sandbox import _start  # the module that owns starting programs

        if not fork_server_supported(isolation):
            raise HarnessError("the fork server needs bubblewrap and root")
        root = Path(tempfile.mkdtemp(prefix="harness-forkserver-"))
        os.chmod(root, 0o711)  # children may cross it to their own folder, not list it
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        lifetime = {"wall_time_s": SERVER_LIFETIME_S, "cpu_time_s": SERVER_LIFETIME_S}
        argv = [sys.executable, "-I", "-m", "harness.sandbox._zygote", str(theirs.fileno()),
                *preload]
        try:
            # Not watched as one: the server's tree holds every episode (each watched alone).
            process = await _start(argv, policy=policy.model_copy(update=lifetime), workdir=root,
                                   pass_fds=(theirs.fileno(),), keep_root=True, cleanup=root,
                                   watch_totals=False)
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        ours.setblocking(False)
        server = cls(process, ours, root)
        try:
            await server._until_ready()
            await server._self_test(policy)
        except BaseException:  # failed, or cancelled: leave no server behind
            await server.aclose()
            raise
        return server

    async def _self_test(self, policy: SandboxPolicy) -> None:
        """Fork one trivial program, so a kernel that refuses a child's set-up (namespaces,
        mounts, uid) fails here, once, rather than in every episode."""
        fds = [os.pipe() for _ in range(2)]
        try:
            probe = await self.spawn("platform", [], policy=policy, pass_fds=(fds[0][0], fds[1][1]))
        finally:
            for read_end, write_end in fds:
                os.close(read_end)
                os.close(write_end)
        result = await probe.wait()
        if result.returncode != 0:
            raise HarnessError("the fork server cannot set up a program: "
                               + (result.stderr[-2000:].strip() or str(result.killed_reason)))

    async def _until_ready(self) -> None:
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), READY_TIMEOUT_S)
        except (TimeoutError, HarnessError):
            await self.aclose()
            result = await self._process.wait()
            raise HarnessError("the fork server did not start: "
                               + (result.stderr[-2000:].strip() or str(result.killed_reason))
                               ) from None

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while data := await loop.sock_recv(self._control, 65536):
                self._dispatch(json.loads(data))
        except Exception as error:  # whatever it was, the server is lost to us
            log.warning("fork server connection lost: %r", error)
        finally:
            if not self._ready.done():
                self._ready.set_exception(HarnessError("the fork server exited"))
            for child in list(self._children.values()):
                child.ended(-9, lost=True)

    def _dispatch(self, message: dict[str, Any]) -> None:
        if message.get("op") == "ready" and not self._ready.done():
            self._ready.set_result(None)
        child = self._children.get(int(message.get("id", 0)))
        if child is None:
            return
        if message["op"] == "exit":
            child.ended(int(message["returncode"]))
        elif message["op"] == "failed":
            child.ended(126, lost=True)

    async def send(self, message: dict[str, Any], fds: Sequence[int] = ()) -> None:
        """One packet to the server; OSError if it cannot take it (gone, or too big)."""
        data = json.dumps(message).encode()
        while True:
            try:
                socket.send_fds(self._control, [data], list(fds))
                return
            except BlockingIOError:
                await asyncio.sleep(0.001)

    async def spawn(self, module: str, args: list[str], *, policy: SandboxPolicy,
                    pass_fds: Sequence[int]) -> ForkedProcess:
        """Run `python -m module args` as a forked child in its own folder; `pass_fds` (two
        of them) are its fds 3 and 4. HarnessError if the server cannot start it."""
        if not self.alive:
            raise HarnessError("the fork server has stopped")
        program = next(self._ids)
        uid = allocate_uid()
        try:
            workdir = Path(tempfile.mkdtemp(dir=self._root, prefix="program-"))
            os.chown(workdir, uid, uid)
        except OSError as error:
            release_uid(uid)
            raise HarnessError(f"cannot make a folder for the program: {error}") from error

        def cleanup() -> None:
            self._children.pop(program, None)
            shutil.rmtree(workdir, ignore_errors=True)
            release_uid(uid)

        spec = {"op": "spawn", "id": program, "module": module, "args": args,
                "cwd": str(workdir), "uid": uid, "env": environment(policy, "bwrap", workdir),
                "limits": rlimits(policy), "tmp_mb": max(64, 4 * policy.max_file_size_mb),
                "folder_mb": policy.folder_mb, "network": policy.network,
                "seccomp": program_hex()}
        (out_r, out_w), (err_r, err_w) = os.pipe(), os.pipe()
        handed: list[int] = []  # read ends given to a transport, which closes them
        pipes: list[tuple[asyncio.StreamReader, asyncio.BaseTransport]] = []
        try:
            for fd in (out_r, err_r):
                handed.append(fd)
                pipes.append(await _reader(fd))
        except BaseException:
            for _stream, transport in pipes:
                transport.close()
            for fd in {out_r, err_r, out_w, err_w} - set(handed):
                os.close(fd)
            cleanup()
            raise
        (out, out_t), (err, err_t) = pipes
        child = ForkedProcess(self, program, policy=policy, streams=(out, err),
                              transports=[out_t, err_t], cleanup=cleanup, uid=uid)
        self._children[program] = child  # before sending: its exit may come right after
        try:
            await self.send(spec, [out_w, err_w, *pass_fds])
        except BaseException as error:  # not sent (or cancelled): nothing runs; clean up
            child.ended(-9, lost=True)
            child.finish_in_background()
            if isinstance(error, OSError):
                raise HarnessError(f"the fork server cannot take the program: {error}"
                                   ) from error
            raise
        finally:
            os.close(out_w)
            os.close(err_w)
        return child

    async def aclose(self) -> None:
        """Stop the server; it kills every child it still has."""
        with contextlib.suppress(OSError):
            self._control.shutdown(socket.SHUT_RDWR)  # both ends read EOF: the server exits
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(self._reading), timeout=5)
        self._reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reading
        self._control.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._process.wait(), timeout=10)
        await self._process.kill("stopped")
        await self._process.wait()

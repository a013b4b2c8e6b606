"""A running sandboxed program: bounded output capture, the wall clock, killing the tree."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable

from harness.sandbox._models import Isolation, SandboxPolicy, SandboxResult
from harness.sandbox._totals import Watched, watch

MB = 1024 * 1024

CHUNK = 64 * 1024
DRAIN_AFTER_EXIT_S = 2.0
EXIT_POLL_S = 0.02
MEMORY_SIGNS = ("MemoryError", "Cannot allocate memory", "std::bad_alloc", "out of memory")


class _Capture:
    """Keeps at most `limit` bytes of a stream; remembers whether more arrived."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()
        self.truncated = False

    def add(self, chunk: bytes) -> bool:
        room = self.limit - len(self.data)
        self.data += chunk[: max(room, 0)]
        if len(chunk) > room:
            self.truncated = True
        return not self.truncated

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


def _descendants(root: int) -> list[int]:
    """Every live descendant of `root`, from /proc (for the unconfined fallback)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found: list[int] = []
    todo = [root]
    while todo:
        kids = children.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


def _run_as(uid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", encoding="ascii", errors="replace") as status:
                uids = next(line for line in status if line.startswith("Uid:"))
        except (OSError, StopIteration):
            continue
        if int(uids.split()[1]) == uid:
            found.append(int(entry))
    return found


async def _until_none_run_as(uid: int, timeout_s: float = 10.0) -> None:
    """Kill what still runs as the program's own uid, and wait until it is gone. bwrap reports
    the program's exit before its pid namespace has emptied; the uid is reused after us."""
    deadline = time.monotonic() + timeout_s
    while (left := _run_as(uid)) and time.monotonic() < deadline:
        for pid in left:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        await asyncio.sleep(EXIT_POLL_S)


def kill_tree(pid: int, *, scan: bool) -> list[int]:
    """SIGKILL the process group led by `pid` (and, with `scan`, every descendant, which it
    returns).

    Under bwrap, killing bwrap itself is enough: --die-with-parent kills the sandbox's init,
    and the kernel then kills everything in its pid namespace.
    """
    victims = _descendants(pid) if scan else []
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    for victim in victims:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(victim, signal.SIGKILL)
    return victims


def _running(pid: int) -> bool:
    """Whether `pid` still runs (a zombie holds nothing but its pid)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


async def _until_gone(pids: list[int], timeout_s: float = 5.0) -> None:
    """Wait until the processes killed have died: a SIGKILL takes effect asynchronously."""
    deadline = time.monotonic() + timeout_s
    while any(_running(pid) for pid in pids) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(EXIT_POLL_S)


def _normalise(rc: int, kind: str) -> int:
    """bwrap reports a child killed by signal N as 128+N; make it -N like subprocess does."""
    if kind == "bwrap" and 128 < rc < 128 + 65:
        return -(rc - 128)
    return rc


def _kernel_reason(rc: int, stderr: str) -> str | None:
    if rc == -signal.SIGXCPU:
        return "cpu_time"
    if rc != 0 and any(sign in stderr[-4096:] for sign in MEMORY_SIGNS):
        return "memory"
    if rc < 0:
        return f"signal:{-rc}"
    return None


class Supervised:
    """What every sandboxed program shares, however it was started: output read from the
    start (so a chatty program never blocks) and bounded, the wall clock from the start,
    `wait` for the result (once computed, the same result again), `kill` with a reason.

    Subclasses say how the program is killed (`_terminate`), how its end is awaited
    (`_await_exit`), and its exit status (`_returncode`). With `members` (its uid, else the
    pid its process tree hangs from) the totals of all its processes are watched too.
    """

    def __init__(self, *, policy: SandboxPolicy, isolation: Isolation,
                 streams: tuple[asyncio.StreamReader | None, asyncio.StreamReader | None],
                 on_exit: Callable[[], None] | None = None,
                 members: tuple[int | None, int | None] | None = None) -> None:
        self.isolation = isolation
        self._policy = policy
        self._on_exit = on_exit
        self._started = time.monotonic()
        self._killed_reason: str | None = None
        self._result: SandboxResult | None = None
        self._finisher: asyncio.Future[SandboxResult] | None = None
        self._out = _Capture(policy.max_output_bytes)
        self._err = _Capture(policy.max_output_bytes)
        self._pumps = [asyncio.create_task(self._pump(streams[0], self._out)),
                       asyncio.create_task(self._pump(streams[1], self._err))]
        self._watchdog = asyncio.create_task(self._clock())
        self._over: list[asyncio.Task[None]] = []
        self._unwatch: Callable[[], None] | None = None
        if members is not None:
            self._unwatch = watch(Watched(
                uid=members[0], root_pid=members[1],
                memory_bytes=(policy.total_memory_mb or policy.memory_mb) * MB,
                max_tasks=policy.max_processes, on_over=self._over_total))

    def _over_total(self, reason: str) -> None:
        self._over.append(asyncio.create_task(self.kill(reason)))

    async def _pump(self, stream: asyncio.StreamReader | None, capture: _Capture) -> None:
        if stream is None:
            return
        while chunk := await stream.read(CHUNK):
            if not capture.add(chunk):
                await self.kill("output_limit")
                break
        while await stream.read(CHUNK):  # drain to EOF, or asyncio never sees the pipe close
            pass

    async def _clock(self) -> None:
        await asyncio.sleep(self._policy.wall_time_s)
        await self.kill("wall_time")

    def _has_exited(self) -> bool:
        raise NotImplementedError

    async def _terminate(self) -> None:
        raise NotImplementedError

    async def _await_exit(self) -> None:
        raise NotImplementedError

    async def _returncode(self, pipes_stuck: bool) -> int:
        raise NotImplementedError

    async def kill(self, reason: str) -> None:
        """Kill the whole process tree; the first reason given is the one reported."""
        if self._has_exited():
            return
        if self._killed_reason is None:
            self._killed_reason = reason
        await self._terminate()

    async def wait(self) -> SandboxResult:
        """The result, once the program has ended (several callers may wait at once)."""
        return await asyncio.shield(self.finish_in_background())

    def finish_in_background(self) -> asyncio.Future[SandboxResult]:
        """Collect the result (and clean up) even if nobody awaits it: for a caller that is
        being cancelled."""
        if self._finisher is None:
            self._finisher = asyncio.ensure_future(self._finish())
        return self._finisher

    async def _finish(self) -> SandboxResult:
        if self._result is None:
            await self._await_exit()
            duration = time.monotonic() - self._started
            self._watchdog.cancel()
            if self._unwatch is not None:
                self._unwatch()
            _done, pending = await asyncio.wait(self._pumps, timeout=DRAIN_AFTER_EXIT_S)
            for task in pending:
                task.cancel()
            rc = await self._returncode(pipes_stuck=bool(pending))
            self._result = self._build(rc, duration)
            if self._on_exit is not None:
                self._on_exit()
        return self._result

    def _build(self, rc: int, duration: float) -> SandboxResult:
        stderr = self._err.text()
        reason = self._killed_reason or _kernel_reason(rc, stderr)
        return SandboxResult(
            returncode=None if self._killed_reason else rc,
            stdout=self._out.text(),
            stderr=stderr,
            timed_out=self._killed_reason == "wall_time",
            killed_reason=reason,
            output_truncated=self._out.truncated or self._err.truncated,
            isolated=self.isolation.isolated,
            isolation=self.isolation.kind,
            duration_s=round(duration, 3),
        )


class SandboxProcess(Supervised):
    """A sandboxed program started as its own subprocess (`spawn`, `run`); `kill` ends the
    whole process tree."""

    def __init__(self, proc: asyncio.subprocess.Process, *, policy: SandboxPolicy,
                 isolation: Isolation, stdin: bytes | None = None,
                 on_exit: Callable[[], None] | None = None, uid: int | None = None,
                 watch_totals: bool = True) -> None:
        self.pid = proc.pid
        self._proc = proc
        self._uid = uid
        self._victims: list[int] = []  # killed by scan (fallbacks), to see dead
        super().__init__(policy=policy, isolation=isolation, streams=(proc.stdout, proc.stderr),
                         on_exit=on_exit, members=(uid, proc.pid) if watch_totals else None)
        if stdin is not None:
            self._pumps.append(asyncio.create_task(self._feed(stdin)))

    async def _feed(self, data: bytes) -> None:
        pipe = self._proc.stdin
        if pipe is None:
            return
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            pipe.write(data)
            await pipe.drain()
            pipe.close()

    def _has_exited(self) -> bool:
        return self._proc.returncode is not None

    async def _terminate(self) -> None:
        self._victims += kill_tree(self.pid, scan=self.isolation.kind != "bwrap")

    async def _await_exit(self) -> None:
        """Return once the program has exited, and kill strays left in its process group.
        (`Process.wait` also waits for its pipes to close, which a stray grandchild can hold
        open for ever.)"""
        await self._exited()
        kill_tree(self.pid, scan=False)
        if self._uid is not None:
            await _until_none_run_as(self._uid)
        await _until_gone(self._victims)

    async def _returncode(self, pipes_stuck: bool) -> int:
        transport = getattr(self._proc, "_transport", None)
        if pipes_stuck and transport is not None:
            transport.close()  # the pipes a stray still holds; lets Process.wait finish
        return _normalise(await self._proc.wait(), self.isolation.kind)

    async def _exited(self) -> None:
        if self._proc.returncode is not None:
            return  # reaped already: the pid may belong to someone else now
        try:
            pidfd = os.pidfd_open(self.pid)
        except OSError:  # reaped meanwhile, or a kernel without pidfds
            while self._proc.returncode is None:  # noqa: ASYNC110
                await asyncio.sleep(EXIT_POLL_S)
            return
        if self._proc.returncode is not None:
            os.close(pidfd)
            return
        loop = asyncio.get_running_loop()
        exited: asyncio.Future[None] = loop.create_future()

        def ready() -> None:
            if not exited.done():
                exited.set_result(None)

        loop.add_reader(pidfd, ready)
        try:
            await exited
        finally:
            loop.remove_reader(pidfd)
            os.close(pidfd)

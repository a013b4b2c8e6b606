"""Totals per sandboxed program, over all the processes it started: memory and task count.

Per-process limits (RLIMIT_AS) let five processes of 4 GB each hold 20 GB together. A cgroup
per program would make the kernel enforce the total, but needs a cgroup v2 hierarchy with the
memory and pids controllers delegated to us; where that is missing (this project's machines
keep memory and pids on cgroup v1) or unused, the harness says so once and watches instead:
every `INTERVAL_S` one scan of /proc sums, per watched program, the proportional resident
memory (PSS, so pages shared with a fork server or between forks count once) and the tasks of
its processes, and kills a program over its total. A program's processes are those of its
own uid (a forked or dropped-privilege program), else the process tree under its root.

A watchdog samples: an allocation faster than the interval can overshoot for that long
(each process still stops at its own RLIMIT_AS).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

INTERVAL_S = 0.25
KB = 1024
log = logging.getLogger("harness.sandbox")
_warned = False


@dataclass(eq=False)
class Watched:
    """One program: how to find its processes, its totals, and what to do when over."""

    uid: int | None
    root_pid: int | None
    memory_bytes: int
    max_tasks: int
    on_over: Callable[[str], None]


@dataclass
class _Proc:
    pid: int
    uid: int
    ppid: int
    tasks: int
    rss_kb: int


@dataclass
class _Snapshot:
    by_uid: dict[int, list[_Proc]] = field(default_factory=dict)
    children: dict[int, list[_Proc]] = field(default_factory=dict)
    by_pid: dict[int, _Proc] = field(default_factory=dict)


def _read_status(pid: int) -> _Proc | None:
    values: dict[str, str] = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                key, _, value = line.partition(":")
                if key in ("Uid", "PPid", "Threads", "VmRSS"):
                    values[key] = value
    except OSError:
        return None
    try:
        return _Proc(pid, int(values["Uid"].split()[0]), int(values["PPid"]),
                     int(values["Threads"]), int(values.get("VmRSS", "0 kB").split()[0]))
    except (KeyError, ValueError, IndexError):
        return None


def _snapshot() -> _Snapshot:
    snap = _Snapshot()
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (proc := _read_status(int(entry))) is not None:
            snap.by_uid.setdefault(proc.uid, []).append(proc)
            snap.children.setdefault(proc.ppid, []).append(proc)
            snap.by_pid[proc.pid] = proc
    return snap


def _members(snap: _Snapshot, watched: Watched) -> list[_Proc]:
    if watched.uid is not None:
        return snap.by_uid.get(watched.uid, [])
    root = snap.by_pid.get(watched.root_pid or -1)
    found = [root] if root is not None else []
    todo = list(found)
    while todo:
        kids = snap.children.get(todo.pop().pid, [])
        found += kids
        todo += kids
    return found


def _pss_kb(proc: _Proc) -> int:
    """Its proportional set size (its resident set where the kernel will not say)."""
    try:
        with open(f"/proc/{proc.pid}/smaps_rollup", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return proc.rss_kb


def over_total(snap: _Snapshot, watched: Watched) -> str | None:
    """"memory_total" or "processes_total" when the program is over a total, else None."""
    members = _members(snap, watched)
    if sum(proc.tasks for proc in members) > watched.max_tasks:
        return "processes_total"
    if sum(proc.rss_kb for proc in members) * KB <= watched.memory_bytes:
        return None  # PSS <= RSS: the cheap sum settles most cases
    if sum(_pss_kb(proc) for proc in members) * KB > watched.memory_bytes:
        return "memory_total"
    return None


def _scan(watching: list[Watched]) -> list[tuple[Watched, str]]:
    snap = _snapshot()
    return [(w, reason) for w in watching if (reason := over_total(snap, w)) is not None]


class _Watchdog:
    """One per event loop: a task that scans while anything is watched."""

    def __init__(self) -> None:
        self.watching: set[Watched] = set()
        self.task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        while self.watching:
            try:
                over = await asyncio.to_thread(_scan, list(self.watching))
            except Exception:  # never stop watching over one bad scan
                log.exception("the watchdog on sandbox totals failed a scan")
                over = []
            for watched, reason in over:
                if watched in self.watching:
                    self.watching.discard(watched)
                    watched.on_over(reason)
            await asyncio.sleep(INTERVAL_S)


_watchdogs: dict[asyncio.AbstractEventLoop, _Watchdog] = {}


def watch(watched: Watched) -> Callable[[], None]:
    """Watch a program from now on (in the running loop); returns the call that stops it."""
    _say_how_once()
    loop = asyncio.get_running_loop()
    dog = _watchdogs.setdefault(loop, _Watchdog())
    dog.watching.add(watched)
    if dog.task is None or dog.task.done():
        dog.task = loop.create_task(dog.run())

    def unwatch() -> None:
        dog.watching.discard(watched)
        if not dog.watching and _watchdogs.get(loop) is dog:
            del _watchdogs[loop]
            if dog.task is not None:
                dog.task.cancel()

    return unwatch


def cgroup_v2_problem() -> str:
    """Why totals are not a cgroup's here (a cgroup v2 back end is not built yet)."""
    mount = None
    with contextlib.suppress(OSError), open("/proc/self/mountinfo", encoding="utf-8") as table:
        for line in table:
            fields = line.split()
            if " - cgroup2 " in line and len(fields) > 4:
                mount = fields[4]
    if mount is None:
        return "no cgroup v2 hierarchy is mounted"
    try:
        controllers = (Path(mount) / "cgroup.controllers").read_text().split()
    except OSError as error:
        return f"cgroup v2 at {mount} cannot be read: {error.strerror}"
    missing = [c for c in ("memory", "pids") if c not in controllers]
    if missing:
        return (f"the cgroup v2 hierarchy at {mount} has no {' or '.join(missing)} controller "
                "(a hybrid layout keeps them on cgroup v1)")
    return "the harness has no cgroup v2 back end yet"


def _say_how_once() -> None:
    global _warned
    if _warned:
        return
    _warned = True
    log.warning("SANDBOX DEGRADED: memory and process totals per episode are enforced by a "
                "watchdog sampling every %.2f s, not by a cgroup: %s.", INTERVAL_S,
                cgroup_v2_problem())

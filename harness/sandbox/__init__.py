"""Run untrusted code (candidates, scorer-executed tests) with limits and isolation.

`run` / `run_python` run a program to completion; `spawn` starts a long-lived worker that the
caller talks to over inherited pipe/socketpair fds (`pass_fds`). Preferred isolation is
bubblewrap (every namespace unshared, read-only system, a writable per-run folder, no
network unless `policy.network`); where it cannot run, `detect_isolation` falls back to
`unshare` (no network only) or a plain subprocess, marks results `isolated=False` and says
why once, loudly. Limits (address space, CPU, processes, file size, no core) and a seccomp
filter (`_seccomp`) are set by a small trusted launcher inside; when the harness runs as root
the program also runs as a per-run unprivileged uid, since the kernel exempts root from the
process limit. Memory and tasks of all a program's processes together are watched
(`_totals`); a throwaway folder is, under bubblewrap, a tmpfs of `policy.folder_mb`.

A misbehaving program never raises: every outcome is a `SandboxResult` with the reason.
Only systemic problems raise `HarnessError` (a required sandbox missing, no temp folder).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.sandbox._detect import detect_isolation
from harness.sandbox._forkserver import ForkedProcess, ForkServer, fork_server_supported
from harness.sandbox._launch import build
from harness.sandbox._models import Isolation, SandboxPolicy, SandboxResult
from harness.sandbox._process import SandboxProcess, Supervised

__all__ = [
    "ForkServer",
    "ForkedProcess",
    "Isolation",
    "SandboxPolicy",
    "SandboxProcess",
    "SandboxResult",
    "Supervised",
    "detect_isolation",
    "fork_server_supported",
    "run",
    "run_python",
    "spawn",
    "wait_or_kill",
]

# `python -I` leaves the script's folder off sys.path; put the run folder back so `files`
# given to run_python can import each other.
_PY_BOOT = ("import runpy, sys; sys.path.insert(0, ''); sys.argv = ['main.py']; "
            "runpy.run_path('main.py', run_name='__main__')")


def _make_tempdir() -> Path:
    try:
        return Path(tempfile.mkdtemp(prefix="harness-sandbox-"))
    except OSError as exc:
        raise HarnessError(f"cannot create a sandbox folder: {exc}") from exc


async def _start(argv: list[str], *, policy: SandboxPolicy, workdir: Path,
                 pass_fds: Sequence[int] = (), stdin: bytes | None = None,
                 cleanup: Path | None = None, keep_root: bool = False,
                 watch_totals: bool = True, scratch: bool = False) -> SandboxProcess:
    """Start `argv` sandboxed. A `scratch` workdir is thrown away after: under bubblewrap it
    is a tmpfs of `policy.folder_mb` (holding a copy of what is there now)."""
    if not argv:
        raise HarnessError("sandbox: empty command")
    isolation = await asyncio.to_thread(detect_isolation)
    launch = await asyncio.to_thread(
        functools.partial(build, keep_root=keep_root, scratch=scratch), isolation.kind, argv,
        policy, workdir)

    def on_exit() -> None:
        launch.release()
        if cleanup is not None:
            shutil.rmtree(cleanup, ignore_errors=True)

    try:
        proc = await asyncio.create_subprocess_exec(
            *launch.argv, env=launch.env, cwd=launch.cwd,
            pass_fds=(*pass_fds, *launch.fds),
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            start_new_session=True, umask=0o022)
    except BaseException as exc:
        on_exit()
        if isinstance(exc, OSError):
            raise HarnessError(f"sandbox ({isolation.kind}) failed to start: {exc}") from exc
        raise
    launch.close_fds()
    return SandboxProcess(proc, policy=policy, isolation=isolation, stdin=stdin, on_exit=on_exit,
                          uid=launch.uid, watch_totals=watch_totals)


async def spawn(argv: list[str], *, policy: SandboxPolicy, workdir: Path,
                pass_fds: Sequence[int] = (), remove_workdir: bool = False) -> SandboxProcess:
    """Start a long-lived sandboxed worker in `workdir` (writable inside; when the harness
    runs as root it is chowned to the sandbox's uid). The fds in `pass_fds` stay open, with
    the same numbers, inside. Call `wait()` to collect its result; with `remove_workdir`,
    the folder is a throwaway (under bubblewrap a bounded tmpfs, see `_start`), deleted
    then (or now, if the worker cannot start)."""
    cleanup = workdir if remove_workdir else None
    try:
        return await _start(argv, policy=policy, workdir=workdir, pass_fds=pass_fds,
                            cleanup=cleanup, scratch=remove_workdir)
    except BaseException:
        if cleanup is not None:
            shutil.rmtree(cleanup, ignore_errors=True)
        raise


async def run(argv: list[str], *, policy: SandboxPolicy, workdir: Path | None = None,
              stdin: bytes | None = None) -> SandboxResult:
    """Run `argv` to completion; without `workdir`, in a fresh folder deleted afterwards."""
    cleanup = None
    if workdir is None:
        workdir = cleanup = await asyncio.to_thread(_make_tempdir)
    try:
        proc = await _start(argv, policy=policy, workdir=workdir, stdin=stdin, cleanup=cleanup,
                            scratch=cleanup is not None)
    except BaseException:
        if cleanup is not None:
            shutil.rmtree(cleanup, ignore_errors=True)
        raise
    return await wait_or_kill(proc)


async def wait_or_kill(proc: Supervised) -> SandboxResult:
    """The program's result; if the caller is cancelled meanwhile, the program is killed and
    the cancellation goes on only once every process it started is gone (so that a caller
    counting running sandboxes, or ending an episode, counts them until then)."""
    try:
        return await proc.wait()
    except asyncio.CancelledError:
        finished = proc.finish_in_background()
        killing: asyncio.Future[None] = asyncio.ensure_future(proc.kill("cancelled"))
        pending: set[asyncio.Future[Any]] = {finished, killing}
        while pending:
            with contextlib.suppress(asyncio.CancelledError):  # cancelled again: still wait
                _done, pending = await asyncio.wait(pending)
        raise


def _write_files(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        target = (root / name).resolve()
        if not target.is_relative_to(root.resolve()) or target == root.resolve():
            raise HarnessError(f"run_python: file name {name!r} escapes the run folder")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


async def run_python(code: str, *, policy: SandboxPolicy, files: dict[str, str] | None = None,
                     stdin: bytes | None = None) -> SandboxResult:
    """Run `code` as main.py (beside `files`, importable) with this interpreter in -I mode,
    in a fresh throwaway folder, feeding it `stdin` if given."""
    root = await asyncio.to_thread(_make_tempdir)
    try:
        _write_files(root, {**(files or {}), "main.py": code})
        proc = await _start([sys.executable, "-I", "-c", _PY_BOOT], policy=policy,
                            workdir=root, cleanup=root, stdin=stdin, scratch=True)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return await wait_or_kill(proc)



"""What the fork server's child does to become an isolated program (trusted code, as root).

Three processes per program, so that one SIGKILL ends everything it ever started:
- the *keeper*, forked by the server, in the server's pid namespace: takes its own session,
  fds, and new mount, IPC, network and pid namespaces, covers /tmp with a private one and the
  program's folder with a bounded tmpfs, forks the init, waits, and exits the way the
  program did. The server kills the keeper to kill
  the program.
- the *init*, pid 1 of the program's pid namespace (dies with the keeper): mounts a /proc
  that shows only this namespace, forks the program, reaps orphans, and reports the
  program's exit status to the keeper. When it exits the kernel kills every process left in
  the namespace, however they forked.
- the *program*: its folder, a scrubbed environment, the resource limits, the per-program
  unprivileged uid, no new privileges, the seccomp filter; then the requested module runs
  as `__main__`.
The program is not the namespace's init because an init ignores signals it does not handle
(SIGXCPU from the CPU limit among them).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import runpy
import select
import signal
import sys
import threading
import traceback
from typing import Any

from harness.sandbox import _launcher
from harness.sandbox import _namespaces as namespaces

PR_SET_DUMPABLE = 4
_libc = ctypes.CDLL(None, use_errno=True)
CHANNEL_FDS = (3, 4)
SETUP_FAILED = 126
KILLED = 137
STOP = signal.SIGTERM  # what the server sends a keeper to end its program


def _place_fds(fds: list[int]) -> None:
    """stdin from /dev/null, stdout/stderr and the channel at fixed numbers, nothing else."""
    null = os.open(os.devnull, os.O_RDONLY)
    # Move everything above the fixed range first, so no dup2 lands on a fd still needed.
    high = [os.dup(fd) for fd in fds]
    for target, fd in zip((0, 1, 2, *CHANNEL_FDS), (null, *high), strict=True):
        os.dup2(fd, target)
    os.closerange(CHANNEL_FDS[-1] + 1, os.sysconf("SC_OPEN_MAX"))


def _report(what: str) -> None:
    with contextlib.suppress(Exception):
        os.write(2, f"fork server: {what}:\n{traceback.format_exc()}".encode())


class _Keeper:
    """State the keeper's stop handler needs: the init to kill, once there is one."""

    init: int | None = None
    stopped = False

    @classmethod
    def stop(cls, _signum: int, _frame: object) -> None:
        # Kill the init, not the keeper: the keeper reports the end only once the init has
        # exited, and an init exits only when its namespace is empty.
        cls.stopped = True
        if cls.init is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(cls.init, signal.SIGKILL)


def keeper(spec: dict[str, Any], fds: list[int], server_pid: int) -> None:
    """The forked child of the server; never returns, whatever happens."""
    try:
        signal.signal(STOP, _Keeper.stop)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()
        _place_fds(fds)  # first, so a failure below is reported on the program's own stderr
        _launcher._die_with_parent()
        if os.getppid() != server_pid:  # the server died before the death signal was set
            os._exit(KILLED)
        init, status_r = _start_init(spec)
        _exit_like_the_program(init, status_r)
    except BaseException:
        _report("cannot set up the program")
    finally:
        os._exit(SETUP_FAILED)


def _start_init(spec: dict[str, Any]) -> tuple[int, int]:
    namespaces.unshare(network=bool(spec.get("network")))
    namespaces.private_tmp(int(spec["tmp_mb"]))
    namespaces.private_folder(spec["cwd"], int(spec["folder_mb"]), int(spec["uid"]))
    namespaces.private_pts()
    alive_r, alive_w = os.pipe()  # the init sees EOF here once the keeper is gone
    status_r, status_w = os.pipe()
    init = os.fork()
    if init == 0:
        try:
            os.close(alive_w)
            os.close(status_r)
            _init(spec, alive_r, status_w)
        finally:
            os._exit(SETUP_FAILED)
    _Keeper.init = init
    if _Keeper.stopped:
        os.kill(init, signal.SIGKILL)
    os.close(alive_r)
    os.close(status_w)
    os.closerange(0, CHANNEL_FDS[-1] + 1)  # the program's ends are the program's alone
    return init, status_r


def _exit_like_the_program(init: int, status_r: int) -> None:
    _pid, status = os.waitpid(init, 0)  # returns once the namespace is empty
    _Keeper.init = None  # reaped: its pid may be someone else's from now on
    reported = os.read(status_r, 64)
    if _Keeper.stopped or not reported:  # stopped, or the init failed before the program ran
        code = os.waitstatus_to_exitcode(status)
        os._exit(KILLED if _Keeper.stopped or code < 0 else code)
    code = int(reported)
    if code < 0:  # died by a signal: die by the same one, so the host sees it
        _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # and never dump this root process's core
        if -code not in (signal.SIGKILL, signal.SIGSTOP):
            with contextlib.suppress(OSError, ValueError):  # glibc keeps 32 and 33 for itself
                signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
        os.kill(os.getpid(), signal.SIGKILL)  # a signal whose default is not to end
    os._exit(code)


def _init(spec: dict[str, Any], alive_r: int, status_w: int) -> None:
    """Pid 1 of the program's namespace; never returns."""
    try:
        signal.signal(STOP, signal.SIG_DFL)
        _launcher._die_with_parent()
        if select.select([alive_r], [], [], 0)[0]:  # the keeper was killed meanwhile
            os._exit(KILLED)
        namespaces.mount_proc()
        program = os.fork()
        if program == 0:
            try:
                os.close(alive_r)
                os.close(status_w)
                _program(spec)
            finally:
                os._exit(SETUP_FAILED)
        for fd in (0, 1, 3, 4):  # the program's; stderr stays for reports
            os.close(fd)
    except BaseException:
        _report("cannot start the program")
        os._exit(SETUP_FAILED)
    while True:  # reap orphans until the program itself ends
        pid, status = os.wait()
        if pid == program:
            os.write(status_w, str(os.waitstatus_to_exitcode(status)).encode())
            os._exit(0)


def _become_program(spec: dict[str, Any]) -> None:
    os.chdir(spec["cwd"])
    os.environ.clear()
    os.environ.update(spec["env"])
    _launcher._set_limits(spec["limits"])
    _launcher._drop_privileges(spec["uid"], spec["uid"])
    # A uid change makes the process non-dumpable, and only an exec would undo it: its /proc
    # entries would stay root's (no /proc/self/fd, as subprocess expects). Undo it here.
    namespaces.check(_libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), "prctl(PR_SET_DUMPABLE)")
    _launcher._no_new_privs()
    _launcher._die_with_parent()
    os.umask(0o022)
    _launcher.install_seccomp(spec.get("seccomp"))  # last: it denies what set-up needs


def _program(spec: dict[str, Any]) -> None:
    try:
        _become_program(spec)
    except BaseException:
        _report("cannot set up the program")
        os._exit(SETUP_FAILED)
    os._exit(_run_module(spec["module"], spec["args"]))


def _run_module(module: str, args: list[str]) -> int:
    """`python -m module args`, as far as a forked interpreter can: the exit code, a
    SystemExit message, a traceback, and flushed output."""
    code = 0
    try:
        sys.argv = [module, *args]
        sys.modules.pop(module, None)  # run as __main__; its imports stay loaded
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as done:
        if isinstance(done.code, int) or done.code is None:
            code = done.code or 0
        else:
            print(done.code, file=sys.stderr)
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        _interpreter_exit()
    return code


def _interpreter_exit() -> None:
    """What a fresh interpreter does on its way out and `os._exit` skips: join non-daemon
    threads, run atexit handlers, flush output."""
    for step in (getattr(threading, "_shutdown", None), getattr(atexit, "_run_exitfuncs", None),
                 sys.stdout.flush, sys.stderr.flush):
        if step is not None:
            with contextlib.suppress(BaseException):
                step()

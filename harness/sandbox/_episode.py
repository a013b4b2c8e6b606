"""What the fork server's child does to become an isolated program (trusted code, as root).

Three processes per program, so that one SIGKILL ends everything it ever started:
- the *keeper*, forked by the server, in the server's pid namespace: takes its own session,
  fds, and new mount, IPC, network and pid namespaces, covers /tmp with a private one, forks
  the init, waits, and exits the way the program did. The server kills the keeper to kill
  the program.
- the *init*, pid 1 of the program's pid namespace (dies with the keeper): mounts a /proc
  that shows only this namespace, forks the program, reaps orphans, and reports the
  program's exit status to the keeper. When it exits the kernel kills every process left in
  the namespace, however they forked.
- the *program*: its folder, a scrubbed environment, the resource limits, the per-program
  unprivileged uid, no new privileges; then the requested module runs as `__main__`.
The program is not the namespace's init because an init ignores signals it does not handle
(SIGXCPU from the CPU limit among them).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import runpy
import select
import signal
import sys
import traceback
from typing import Any

from harness.sandbox import _launcher

CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWPID = (
    0x00020000, 0x08000000, 0x40000000, 0x20000000)
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 0x20, 0x1000, 0x4000, 1 << 18
MOUNT_FLAGS = {"ro": MS_RDONLY, "nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC}
PR_SET_DUMPABLE = 4
CHANNEL_FDS = (3, 4)
SETUP_FAILED = 126
KILLED = 137
_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _unescape(field: str) -> str:
    """A mountinfo path: space, tab, newline and backslash come as octal escapes."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def _mounts_under(root: str) -> list[tuple[str, int]]:
    """(mount point, per-mount flags) for every mount below `root`, parents first."""
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as table:
        for line in table:
            fields = line.split()
            point = _unescape(fields[4])
            if point.startswith(root + "/"):
                options = fields[5].split(",")
                flags = sum(bit for name, bit in MOUNT_FLAGS.items() if name in options)
                found.append((point, flags))
    return sorted(found, key=lambda mount: mount[0].count("/"))


def _bind(fd: int, point: str, flags: int) -> None:
    """Bind the mount open as `fd` at `point` with its flags: a bind drops them, and nodev is
    what makes a /dev/null cover unopenable."""
    if os.path.isdir(f"/proc/self/fd/{fd}"):
        os.makedirs(point, mode=0o755, exist_ok=True)
    elif not os.path.exists(point):
        os.makedirs(os.path.dirname(point), mode=0o755, exist_ok=True)
        os.close(os.open(point, os.O_CREAT | os.O_WRONLY, 0o600))
    target = point.encode()
    _check(_libc.mount(f"/proc/self/fd/{fd}".encode(), target, None, MS_BIND, None), point)
    _check(_libc.mount(None, target, None, MS_REMOUNT | MS_BIND | flags, None), point)


def _private_tmp(tmp_mb: int) -> None:
    """A fresh tmpfs on /tmp, with the sandbox's mounts below /tmp (the program's folder, the
    candidate, hidden covers) bound back at their paths on top of it."""
    _check(_libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate")
    # Opened in the new mount namespace, before /tmp is covered, so they can be bound back.
    keep = [(os.open(point, os.O_PATH), point, flags) for point, flags in _mounts_under("/tmp")]
    options = f"size={tmp_mb}m,mode=1777".encode()
    _check(_libc.mount(b"tmpfs", b"/tmp", b"tmpfs", MS_NOSUID | MS_NODEV, options), "mount /tmp")
    for fd, point, flags in keep:
        _bind(fd, point, flags)
        os.close(fd)


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


def keeper(spec: dict[str, Any], fds: list[int], server_pid: int) -> None:
    """The forked child of the server; never returns."""
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()
        _place_fds(fds)  # first, so a failure below is reported on the program's own stderr
        _launcher._die_with_parent()
        if os.getppid() != server_pid:  # the server died before the death signal was set
            os._exit(KILLED)
        _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWPID),
               "unshare")
        _private_tmp(int(spec["tmp_mb"]))
        alive_r, alive_w = os.pipe()  # the init sees EOF here once the keeper is gone
        status_r, status_w = os.pipe()
        init = os.fork()
        if init == 0:
            os.close(alive_w)
            os.close(status_r)
            _init(spec, alive_r, status_w)
        os.close(alive_r)
        os.close(status_w)
        os.closerange(0, CHANNEL_FDS[-1] + 1)  # the program's ends are the program's alone
    except BaseException:
        _report("cannot set up the program")
        os._exit(SETUP_FAILED)
    _exit_like_the_program(init, status_r)


def _exit_like_the_program(init: int, status_r: int) -> None:
    _pid, status = os.waitpid(init, 0)
    reported = os.read(status_r, 64)
    if not reported:  # the init failed before the program ran, or was killed
        code = os.waitstatus_to_exitcode(status)
        os._exit(code if code >= 0 else KILLED)
    code = int(reported)
    if code < 0:  # died by a signal: die by the same one, so the host sees it
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
        os._exit(KILLED)
    os._exit(code)


def _init(spec: dict[str, Any], alive_r: int, status_w: int) -> None:
    """Pid 1 of the program's namespace; never returns."""
    try:
        _launcher._die_with_parent()
        if select.select([alive_r], [], [], 0)[0]:  # the keeper was killed meanwhile
            os._exit(KILLED)
        _check(_libc.mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None),
               "mount /proc")
        program = os.fork()
        if program == 0:
            os.close(alive_r)
            os.close(status_w)
            _program(spec)
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
    _check(_libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), "prctl(PR_SET_DUMPABLE)")
    _launcher._no_new_privs()
    _launcher._die_with_parent()
    os.umask(0o022)


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
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
    return code

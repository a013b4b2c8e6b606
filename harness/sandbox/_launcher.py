"""The trusted launcher: sets limits, drops privileges, then execs the sandboxed program.

It runs *inside* the sandbox as `python -I -S -c <this source> <config-json> <argv...>`, so
it imports nothing but the standard library and must stay self-contained. Config keys:
`limits` (resource name without "RLIMIT_" -> [soft, hard]), `uid`/`gid` (drop to them when
set; needs root), `umask`, `parent_pid` (the harness's pid where no pid namespace hides it).
Exit status 127 means the program could not be started; 137, that the harness was gone.
"""

import contextlib
import ctypes
import json
import os
import resource
import sys

PR_SET_NO_NEW_PRIVS = 38
PR_SET_PDEATHSIG = 1
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
SIGKILL = 9


class _FilterProgram(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _set_limits(limits: dict[str, list[int]]) -> None:
    for name, (soft, hard) in limits.items():
        which = getattr(resource, "RLIMIT_" + name)
        _cur_soft, cur_hard = resource.getrlimit(which)
        if cur_hard != resource.RLIM_INFINITY:
            hard = min(hard, cur_hard)
            soft = min(soft, hard)
        resource.setrlimit(which, (soft, hard))


def _drop_privileges(uid: int | None, gid: int | None) -> None:
    if uid is None or gid is None:
        return
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)  # from root to non-root: clears every capability set
    if os.getuid() != uid or os.geteuid() != uid:
        raise OSError("privilege drop did not stick")


def _no_new_privs() -> None:
    with contextlib.suppress(OSError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)


def install_seccomp(program_hex: str | None) -> None:
    """Install the seccomp filter (after no_new_privs, which an unprivileged caller needs);
    OSError if the kernel refuses it, so that nothing runs unfiltered by accident."""
    if not program_hex:
        return
    program = bytes.fromhex(program_hex)
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _FilterProgram(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"seccomp: {os.strerror(code)}")


def _own(folder: str | None, uid: int | None) -> None:
    if folder is None or uid is None:
        return
    for dirpath, _dirnames, filenames in os.walk(folder):
        os.chown(dirpath, uid, uid)
        for name in filenames:
            os.chown(os.path.join(dirpath, name), uid, uid, follow_symlinks=False)


def _die_with_parent() -> None:
    # If the harness is killed outright, nobody enforces the wall clock any more: the program
    # goes with it (bwrap's --die-with-parent does this too; the fallbacks have only this).
    # Set after the privilege drop, which clears it; it survives the exec.
    with contextlib.suppress(OSError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0)


def _parent_still_there(parent_pid: int | None) -> bool:
    # The death signal only covers a parent that dies after it was set: a harness killed while
    # this launcher was starting has already handed us to a reaper, so go now.
    return parent_pid is None or os.getppid() == parent_pid


def main(argv: list[str]) -> None:
    config = json.loads(argv[1])
    program = argv[2:]
    try:
        _set_limits(config["limits"])
        _own(config.get("own"), config.get("uid"))
        _drop_privileges(config.get("uid"), config.get("gid"))
        _no_new_privs()
        _die_with_parent()
        if not _parent_still_there(config.get("parent_pid")):
            os._exit(137)
        os.umask(config.get("umask", 0o022))
        install_seccomp(config.get("seccomp"))
    except OSError as exc:
        sys.stderr.write(f"sandbox launcher: cannot apply limits: {exc}\n")
        os._exit(126)
    try:
        os.execvp(program[0], program)
    except OSError as exc:
        sys.stderr.write(f"sandbox launcher: cannot execute {program[0]!r}: {exc}\n")
        os._exit(127)


if __name__ == "__main__":
    main(sys.argv)

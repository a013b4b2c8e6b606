"""Turn (kind, policy, argv, workdir) into the command line, environment and uid to run."""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import stat
import sys
import threading
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from harness.sandbox._bwrap import bwrap_options
from harness.sandbox._models import IsolationKind, SandboxPolicy
from harness.sandbox._seccomp import program_hex

MB = 1024 * 1024
UID_RANGE = (200_000, 265_000)  # per-run uids: RLIMIT_NPROC counts per uid, so never share one
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
MAX_OPEN_FILES = 4096
_LAUNCHER_SOURCE = (Path(__file__).parent / "_launcher.py").read_text(encoding="utf-8")

_uids_in_use: set[int] = set()
_uid_lock = threading.Lock()


@dataclass
class Launch:
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    uid: int | None
    fds: list[int] = field(default_factory=list)  # to pass to the command (bwrap reads them)

    def close_fds(self) -> None:
        """Once the command has started (it has its own copies)."""
        for fd in self.fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.fds = []

    def release(self) -> None:
        self.close_fds()
        if self.uid is not None:
            release_uid(self.uid)


def is_root() -> bool:
    return os.geteuid() == 0


@cache
def python_world_executable() -> bool:
    """Whether an unprivileged uid can run this interpreter on the host's own filesystem."""
    path = os.path.realpath(sys.executable)
    if os.stat(path).st_mode & stat.S_IXOTH == 0:
        return False
    parent = os.path.dirname(path)
    while parent != "/":
        if os.stat(parent).st_mode & stat.S_IXOTH == 0:
            return False
        parent = os.path.dirname(parent)
    return True


def drops_privileges(kind: IsolationKind) -> bool:
    """Whether programs run under a per-run unprivileged uid (needs root to set it up)."""
    if not is_root():
        return False
    return kind == "bwrap" or python_world_executable()


def allocate_uid() -> int:
    with _uid_lock:
        while True:
            uid = random.randrange(*UID_RANGE)
            if uid not in _uids_in_use:
                _uids_in_use.add(uid)
                return uid


def release_uid(uid: int) -> None:
    with _uid_lock:
        _uids_in_use.discard(uid)


def _chown_tree(root: Path, uid: int) -> None:
    os.chown(root, uid, uid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), uid, uid, follow_symlinks=False)


def _add_read(path: str) -> None:
    try:
        mode = os.lstat(path).st_mode
        if stat.S_ISLNK(mode):
            return
        want = mode | stat.S_IROTH | (stat.S_IXOTH if mode & stat.S_IXUSR else 0)
        if want != mode:
            os.chmod(path, stat.S_IMODE(want))
    except OSError:
        pass


def _open_up(root: str, hidden: list[str]) -> None:
    """Add world read (and traverse/exec where the owner has it) to a read-only tree."""

    def shown(path: str) -> bool:
        return not any(path == h or path.startswith(h + "/") for h in hidden)

    if not shown(root):
        return
    _add_read(root)
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if shown(os.path.join(dirpath, d))]
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            if shown(path):
                _add_read(path)


def open_readonly(policy: SandboxPolicy) -> None:
    """Let unprivileged uids read the policy's read-only paths (hidden ones excepted)."""
    hidden = [os.path.realpath(h) for h in policy.hidden_paths]
    for ro in policy.readonly_paths:
        _open_up(os.path.realpath(ro), hidden)


def prepare_access(policy: SandboxPolicy, workdir: Path, uid: int) -> None:
    """Let the unprivileged uid write the workdir and read the read-only paths."""
    _chown_tree(workdir, uid)
    open_readonly(policy)


def rlimits(policy: SandboxPolicy) -> dict[str, list[int]]:
    cpu = max(1, math.ceil(policy.cpu_time_s))
    memory = policy.memory_mb * MB
    fsize = policy.max_file_size_mb * MB
    return {
        "CPU": [cpu, cpu + 1],
        "AS": [memory, memory],
        "NPROC": [policy.max_processes, policy.max_processes],
        "FSIZE": [fsize, fsize],
        "CORE": [0, 0],
        # Open files hold kernel memory no resident set shows (socket buffers, pipes).
        "NOFILE": [MAX_OPEN_FILES, MAX_OPEN_FILES],
    }


def launcher_argv(policy: SandboxPolicy, uid: int | None, parent_pid: int | None,
                  own: Path | None = None, *, seccomp: bool = True) -> list[str]:
    config = {"limits": rlimits(policy), "uid": uid, "gid": uid, "umask": 0o022,
              "parent_pid": parent_pid, "seccomp": program_hex() if seccomp else None,
              "own": str(own) if own is not None and uid is not None else None}
    return [sys.executable, "-I", "-S", "-c", _LAUNCHER_SOURCE, json.dumps(config)]


def unshare_argv(policy: SandboxPolicy) -> list[str]:
    """No pid namespace: the program would be its init, which ignores default-action signals
    (SIGXCPU from RLIMIT_CPU included). The process group is killed instead."""
    args = ["unshare"]
    if not is_root():
        args += ["--user", "--map-root-user"]
    if not policy.network:
        args.append("--net")
    return [*args, "--ipc", "--uts", "--"]


def environment(policy: SandboxPolicy, kind: IsolationKind, workdir: Path) -> dict[str, str]:
    tmp = "/tmp" if kind == "bwrap" else str(workdir)
    base = {"PATH": DEFAULT_PATH, "LANG": "C.UTF-8", "HOME": str(workdir), "TMPDIR": tmp}
    return base | policy.env


def _memfd(data: bytes) -> int:
    fd = os.memfd_create("harness-sandbox")
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _scratch_files(workdir: Path) -> list[tuple[str, int]]:
    """The files already in `workdir`, opened, to be copied into its tmpfs."""
    found: list[tuple[str, int]] = []
    for dirpath, _dirnames, filenames in os.walk(workdir):
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            found.append((os.path.relpath(path, workdir), os.open(path, os.O_RDONLY)))
    return found


def _bwrap_prefix(launch: Launch, policy: SandboxPolicy, scratch: bool) -> list[str]:
    files = _scratch_files(launch.cwd) if scratch else None
    launch.fds += [fd for _path, fd in files or []]
    options = bwrap_options(policy, launch.cwd, as_root=is_root(), scratch=files)
    options_fd = _memfd(b"".join(arg.encode() + b"\0" for arg in options))
    launch.fds.append(options_fd)
    return ["bwrap", "--args", str(options_fd), "--"]


def build(kind: IsolationKind, argv: list[str], policy: SandboxPolicy, workdir: Path, *,
          keep_root: bool = False, scratch: bool = False) -> Launch:
    """The full command for `argv`; sets up the workdir's ownership when dropping privileges.

    `keep_root` is for the trusted fork server, which drops privileges per child itself: it
    stays root, and only the read-only paths are opened up for the children's uids. With
    `scratch` (a throwaway folder) bubblewrap makes the folder a bounded tmpfs, holding a
    copy of what is in it now; the caller sees nothing written there. `Launch.fds` must be
    passed to the command, and closed once it has started."""
    workdir = Path(os.path.realpath(workdir))
    uid = allocate_uid() if drops_privileges(kind) and not keep_root else None
    launch = Launch([], environment(policy, kind, workdir), workdir, uid)
    try:
        if uid is not None:
            prepare_access(policy, workdir, uid)
        elif keep_root and drops_privileges(kind):
            open_readonly(policy)
        prefix: list[str] = []
        if kind == "bwrap":
            prefix = _bwrap_prefix(launch, policy, scratch)
        elif kind == "unshare":
            prefix = unshare_argv(policy)
        # bwrap puts the launcher in a pid namespace under its own init (and has
        # --die-with-parent); elsewhere the launcher's parent is this process.
        parent_pid = None if kind == "bwrap" else os.getpid()
        own = workdir if kind == "bwrap" and scratch else None
        # The fork server needs namespaces and mounts for its children, which install the
        # filter themselves.
        launch.argv = (prefix + launcher_argv(policy, uid, parent_pid, own, seccomp=not keep_root)
                       + list(argv))
        return launch
    except BaseException:
        launch.release()
        raise

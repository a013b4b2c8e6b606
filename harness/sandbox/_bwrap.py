"""The bubblewrap command line: namespaces, a minimal read-only root, the binds in safe order."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from harness.sandbox._models import SandboxPolicy

SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_FILES = (
    "passwd", "group", "hosts", "nsswitch.conf", "host.conf", "resolv.conf", "localtime",
    "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "ssl", "ca-certificates", "alternatives",
    "mime.types", "os-release",
)

Mount = tuple[str, list[str]]  # (destination, bwrap arguments that create it)


def python_paths() -> list[str]:
    """The interpreter's installation: the venv, its base, and where the binary really lives."""
    real_exe = os.path.realpath(sys.executable)
    candidates = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
                  os.path.dirname(os.path.dirname(real_exe))}
    return sorted(os.path.realpath(p) for p in candidates if p and os.path.isdir(p))


def _depth(path: str) -> int:
    return len(Path(path).parts)


def _under(path: str, roots: list[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def _system_mounts() -> list[Mount]:
    mounts: list[Mount] = []
    for d in SYSTEM_DIRS:
        if os.path.islink(d):
            mounts.append((d, ["--symlink", os.readlink(d), d]))
        elif os.path.isdir(d):
            mounts.append((d, ["--ro-bind", d, d]))
    for name in ETC_FILES:
        p = f"/etc/{name}"
        if os.path.exists(p):
            mounts.append((p, ["--ro-bind", p, p]))
    return mounts


def _tree_mounts(policy: SandboxPolicy, workdir: str, *, bind_workdir: bool) -> list[Mount]:
    tmp_size = max(64, 4 * policy.max_file_size_mb) * 1024 * 1024
    mounts: list[Mount] = [
        ("/proc", ["--proc", "/proc"]),
        ("/dev", ["--dev", "/dev"]),
        ("/tmp", ["--perms", "1777", "--size", str(tmp_size), "--tmpfs", "/tmp"]),
    ]
    system = [m[0] for m in _system_mounts()]
    for p in python_paths():
        if not _under(p, system):
            mounts.append((p, ["--ro-bind", p, p]))
    for ro in policy.readonly_paths:
        p = os.path.realpath(ro)
        mounts.append((p, ["--ro-bind", p, p]))
    if bind_workdir:
        mounts.append((workdir, ["--bind", workdir, workdir]))
    else:
        size = str(policy.folder_mb * 1024 * 1024)
        mounts.append((workdir, ["--perms", "0700", "--size", size, "--tmpfs", workdir]))
    return mounts


def _hidden_mounts(policy: SandboxPolicy, visible: list[str]) -> list[Mount]:
    """Covers for the hidden paths that a bind would show (inside a bound tree, or above
    one). The others are not in the sandbox at all, and covering them would only create
    them, and name them in /proc/self/mountinfo."""
    mounts: list[Mount] = []
    for hidden in policy.hidden_paths:
        p = os.path.realpath(hidden)
        if not (_under(p, visible) or any(_under(v, [p]) for v in visible)):
            continue
        if os.path.isdir(p):
            mounts.append((p, ["--perms", "0700", "--size", "4096", "--tmpfs", p]))
        elif os.path.exists(p):
            mounts.append((p, ["--ro-bind", "/dev/null", p]))
    return mounts


def _scratch_files(workdir: str, files: list[tuple[str, int]]) -> list[str]:
    """Copy `files` (relative path, open fd) into the program's scratch folder (a tmpfs of
    `policy.folder_mb`, so writing past it fails with ENOSPC inside and the host disk is
    untouched). Root owns what bubblewrap makes there; the launcher hands it to the uid."""
    args: list[str] = []
    made = {workdir}
    for relative, fd in files:
        dest = os.path.join(workdir, relative)
        parents = []
        parent = os.path.dirname(dest)
        while parent not in made:
            parents.append(parent)
            parent = os.path.dirname(parent)
        for d in reversed(parents):
            args += ["--perms", "0755", "--dir", d]
            made.add(d)
        args += ["--perms", "0644", "--file", str(fd), dest]
    return args


def _with_parents(mounts: list[Mount]) -> list[str]:
    """Emit mounts in order, first creating each missing parent world-traversable.

    (bwrap would create them mode 0700, which the unprivileged uid cannot cross.) Parents
    inside an earlier bind exist already; parents inside a tmpfs (/tmp) do not.
    """
    args: list[str] = []
    binds: list[str] = []
    created: set[str] = set()
    for dest, margs in mounts:
        parent = os.path.dirname(dest)
        missing: list[str] = []
        while parent not in ("/", "") and parent not in created and not _under(parent, binds):
            missing.append(parent)
            parent = os.path.dirname(parent)
        for d in reversed(missing):
            args += ["--perms", "0755", "--dir", d]
            created.add(d)
        args += margs
        if margs[0] in ("--bind", "--ro-bind"):
            binds.append(dest)
        created.add(dest)
    return args


def bwrap_options(policy: SandboxPolicy, workdir: Path, *, as_root: bool,
                  scratch: list[tuple[str, int]] | None = None) -> list[str]:
    """bubblewrap's options for a program that runs in `workdir` (bound from the host, or,
    with `scratch`, a bounded tmpfs holding those files).

    As root, no user namespace is made (its only uid would map to real root, which the kernel
    exempts from RLIMIT_NPROC); the launcher drops to an unprivileged uid instead. Otherwise
    bwrap makes a user namespace and drops every capability itself. The options go to bwrap
    through `--args FD`, not its command line: its pid 1 inside is a copy of bwrap, and its
    command line (/proc/1/cmdline) would name every hidden path.
    """
    wd = os.path.realpath(workdir)
    args = ["--die-with-parent", "--new-session"]
    if as_root:
        args += ["--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try"]
        if not policy.network:
            args.append("--unshare-net")
    else:
        args += ["--unshare-all", "--cap-drop", "ALL"]
        if policy.network:
            args.append("--share-net")
    args += ["--hostname", "sandbox"]
    tree = _system_mounts() + _tree_mounts(policy, wd, bind_workdir=scratch is None)
    tree.sort(key=lambda m: _depth(m[0]))
    visible = [dest for dest, margs in tree if margs[0] in ("--bind", "--ro-bind")]
    args += _with_parents(tree + _hidden_mounts(policy, visible))
    if scratch is not None:
        args += _scratch_files(wd, scratch)
    return [*args, "--chdir", wd]

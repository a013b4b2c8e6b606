"""Namespace plumbing for a forked program (trusted code, as root): mounts and loopback."""

from __future__ import annotations

import ctypes
import fcntl
import os
import re
import socket
import struct

CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWPID = (
    0x00020000, 0x08000000, 0x40000000, 0x20000000)
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 0x20, 0x1000, 0x4000, 1 << 18
MOUNT_FLAGS = {"ro": MS_RDONLY, "nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC}
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
_libc = ctypes.CDLL(None, use_errno=True)


def check(result: int, what: str) -> None:
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
    check(_libc.mount(f"/proc/self/fd/{fd}".encode(), target, None, MS_BIND, None), point)
    check(_libc.mount(None, target, None, MS_REMOUNT | MS_BIND | flags, None), point)


def private_tmp(tmp_mb: int) -> None:
    """A fresh tmpfs on /tmp, with the sandbox's mounts below /tmp (the program's folder, the
    candidate, hidden covers) bound back at their paths on top of it."""
    check(_libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate")
    # Opened in the new mount namespace, before /tmp is covered, so they can be bound back.
    keep = [(os.open(point, os.O_PATH), point, flags) for point, flags in _mounts_under("/tmp")]
    options = f"size={tmp_mb}m,mode=1777".encode()
    check(_libc.mount(b"tmpfs", b"/tmp", b"tmpfs", MS_NOSUID | MS_NODEV, options), "mount /tmp")
    for fd, point, flags in keep:
        _bind(fd, point, flags)
        os.close(fd)


def private_folder(path: str, size_mb: int, uid: int) -> None:
    """The program's folder as a tmpfs of `size_mb`, its uid's: writing past it fails with
    ENOSPC inside, and nothing lands on the host's disk."""
    options = f"size={size_mb}m,mode=0700,uid={uid},gid={uid}".encode()
    check(_libc.mount(b"tmpfs", path.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, options),
          f"mount {path}")


def unshare(network: bool) -> None:
    """New mount, IPC and pid namespaces, and a new network one unless `network`."""
    flags = CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWPID | (0 if network else CLONE_NEWNET)
    check(_libc.unshare(flags), "unshare")
    if not network:
        loopback_up()


def loopback_up() -> None:
    """A new network namespace has `lo` down; bubblewrap brings it up, so do we."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


def private_pts() -> None:
    """A devpts instance of our own: the sandbox's is shared by every program of the server."""
    if not os.path.isdir("/dev/pts"):
        return
    check(_libc.mount(b"devpts", b"/dev/pts", b"devpts", MS_NOSUID | MS_NOEXEC,
                       b"newinstance,ptmxmode=0666,mode=620"), "mount /dev/pts")
    if os.path.exists("/dev/ptmx") and not os.path.islink("/dev/ptmx"):  # bwrap's is a link
        check(_libc.mount(b"/dev/pts/ptmx", b"/dev/ptmx", None, MS_BIND, None), "bind ptmx")


def mount_proc() -> None:
    """A /proc showing only the calling process's pid namespace."""
    check(_libc.mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None),
           "mount /proc")

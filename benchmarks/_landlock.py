"""Take away a process's right to write files, open TCP connections or signal outsiders.

Used by the isolated scoring child (`_isolated`) right after it starts: from then on nothing
that runs in it (and nothing it forks) can create, change, truncate, rename or delete any file,
connect or bind a TCP port (ABI >= 4), or signal or reach an abstract socket of a process
outside (ABI >= 6). Reading stays allowed (it imports modules lazily). Landlock needs no
privileges; on a kernel without it `restrict()` says why and the caller reports the gap.
Standard library only: the child imports it before anything else.
"""

from __future__ import annotations

import ctypes
import os
import struct

SYS_CREATE_RULESET, SYS_RESTRICT_SELF = 444, 446  # the same on every architecture
PR_SET_NO_NEW_PRIVS = 38
CREATE_RULESET_VERSION = 1
_WRITE_FILE, _REMOVE_DIR, _REMOVE_FILE = 1 << 1, 1 << 4, 1 << 5
_MAKE_ANY = sum(1 << bit for bit in range(6, 13))  # char, dir, reg, sock, fifo, block, sym
_REFER, _TRUNCATE = 1 << 13, 1 << 14  # ABI 2, ABI 3
_NET_BIND_TCP, _NET_CONNECT_TCP = 1 << 0, 1 << 1  # ABI 4
_SCOPE_ABSTRACT_UNIX, _SCOPE_SIGNAL = 1 << 0, 1 << 1  # ABI 6


def _ruleset(abi: int) -> bytes:
    """`struct landlock_ruleset_attr` for this ABI, handling every write right it knows."""
    fs = _WRITE_FILE | _REMOVE_DIR | _REMOVE_FILE | _MAKE_ANY
    fs |= _REFER if abi >= 2 else 0
    fs |= _TRUNCATE if abi >= 3 else 0
    if abi < 4:
        return struct.pack("=Q", fs)
    net = _NET_BIND_TCP | _NET_CONNECT_TCP
    if abi < 6:
        return struct.pack("=QQ", fs, net)
    return struct.pack("=QQQ", fs, net, _SCOPE_ABSTRACT_UNIX | _SCOPE_SIGNAL)


def restrict() -> str | None:
    """Restrict this process for good; None when done, else why it could not be."""
    libc = ctypes.CDLL(None, use_errno=True)
    abi = libc.syscall(SYS_CREATE_RULESET, None, ctypes.c_size_t(0),
                       ctypes.c_uint32(CREATE_RULESET_VERSION))
    if abi < 1:
        return f"Landlock is not available ({os.strerror(ctypes.get_errno())})"
    attr = _ruleset(abi)
    fd = libc.syscall(SYS_CREATE_RULESET, ctypes.c_char_p(attr), ctypes.c_size_t(len(attr)),
                      ctypes.c_uint32(0))
    if fd < 0:
        return f"Landlock ruleset refused ({os.strerror(ctypes.get_errno())})"
    try:
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return f"no_new_privs refused ({os.strerror(ctypes.get_errno())})"
        if libc.syscall(SYS_RESTRICT_SELF, ctypes.c_int(fd), ctypes.c_uint32(0)) != 0:
            return f"Landlock restriction refused ({os.strerror(ctypes.get_errno())})"
    finally:
        os.close(fd)
    return None

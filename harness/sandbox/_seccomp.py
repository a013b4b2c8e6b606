"""A seccomp filter for sandboxed programs: kernel interfaces no candidate needs return EPERM.

Hand-assembled classic BPF (no library needed; libseccomp's Python bindings are not on PyPI
in a maintained form). The program checks the architecture first: a foreign one (the i386
`int 0x80` entry on x86_64) and x86_64's x32 numbering are denied outright, since the table
below would not match their numbers. Then:
- the calls in `SYSCALLS` (debugging other processes, kernel keyrings, eBPF, perf,
  userfaultfd, io_uring, namespaces and mounts, modules, kexec, ...) fail with EPERM; so does
  `memfd_create`, whose memory no folder size bounds and no process's resident set shows
  (what the memory watchdog sums);
- `clone` with any namespace flag fails with EPERM, and `clone3` (whose flags sit behind a
  pointer the filter cannot read) with ENOSYS, so that libc falls back to `clone`;
- everything else is allowed.

The launcher (fresh sandboxes, every kind) and the fork server's children install it with
`prctl(PR_SET_SECCOMP)` after their set-up and before any untrusted code runs; it is
inherited by every child and across exec, and cannot be removed.
"""

from __future__ import annotations

import errno
import logging
import platform
import struct
from functools import cache

log = logging.getLogger("harness.sandbox")

AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
X32_SYSCALL_BIT = 0x40000000
CLONE_NAMESPACE_FLAGS = 0x7E020000  # NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET

# Syscall numbers per architecture (checked against libseccomp in the tests where it exists).
SYSCALLS: dict[str, dict[str, int]] = {
    "x86_64": {
        "ptrace": 101, "keyctl": 250, "add_key": 248, "request_key": 249, "userfaultfd": 323,
        "perf_event_open": 298, "bpf": 321, "io_uring_setup": 425, "io_uring_enter": 426,
        "io_uring_register": 427, "kexec_load": 246, "kexec_file_load": 320,
        "init_module": 175, "finit_module": 313, "delete_module": 176, "unshare": 272,
        "setns": 308, "mount": 165, "umount2": 166, "pivot_root": 155, "open_tree": 428,
        "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
        "process_vm_readv": 310, "process_vm_writev": 311, "kcmp": 312,
        "open_by_handle_at": 304, "swapon": 167, "swapoff": 168, "reboot": 169, "acct": 163,
        "lookup_dcookie": 212, "iopl": 172, "ioperm": 173, "memfd_create": 319,
        "clone": 56, "clone3": 435,
    },
    "aarch64": {
        "ptrace": 117, "keyctl": 219, "add_key": 217, "request_key": 218, "userfaultfd": 282,
        "perf_event_open": 241, "bpf": 280, "io_uring_setup": 425, "io_uring_enter": 426,
        "io_uring_register": 427, "kexec_load": 104, "kexec_file_load": 294,
        "init_module": 105, "finit_module": 273, "delete_module": 106, "unshare": 97,
        "setns": 268, "mount": 40, "umount2": 39, "pivot_root": 41, "open_tree": 428,
        "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
        "process_vm_readv": 270, "process_vm_writev": 271, "kcmp": 272,
        "open_by_handle_at": 265, "swapon": 224, "swapoff": 225, "reboot": 142, "acct": 89,
        "lookup_dcookie": 18, "memfd_create": 279, "clone": 220, "clone3": 435,
    },
}
CHECKED_APART = ("clone", "clone3")

# Classic BPF opcodes and seccomp return values (linux/filter.h, linux/seccomp.h).
LD_W_ABS, JEQ_K, JGE_K, JSET_K, RET_K = 0x20, 0x15, 0x35, 0x45, 0x06
RET_ALLOW = 0x7FFF0000
RET_ERRNO = 0x00050000
OFFSET_NR, OFFSET_ARCH, OFFSET_ARG0_LOW = 0, 4, 16  # struct seccomp_data, little-endian

Instruction = tuple[int, int, int, int]  # (code, jump if true, jump if false, k)


def _ret(value: int) -> Instruction:
    return (RET_K, 0, 0, value)


def _program(arch: str) -> list[Instruction]:
    """The filter, as instructions. Jumps are relative: 0 is the next instruction."""
    numbers = SYSCALLS[arch]
    denied = [number for name, number in numbers.items() if name not in CHECKED_APART]
    body: list[Instruction] = [(LD_W_ABS, 0, 0, OFFSET_ARCH),
                               (JEQ_K, 1, 0, AUDIT_ARCH[arch]),
                               _ret(RET_ERRNO | errno.EPERM),
                               (LD_W_ABS, 0, 0, OFFSET_NR)]
    if arch == "x86_64":
        body += [(JGE_K, 0, 1, X32_SYSCALL_BIT), _ret(RET_ERRNO | errno.EPERM)]
    # Each denied number jumps to the shared EPERM return at the end.
    tail = 6  # the clone3 and clone checks and the allow, between the list and the deny
    for index, number in enumerate(denied):
        to_deny = (len(denied) - index - 1) + tail
        body.append((JEQ_K, to_deny, 0, number))
    body += [
        (JEQ_K, 0, 1, numbers["clone3"]), _ret(RET_ERRNO | errno.ENOSYS),
        (JEQ_K, 0, 2, numbers["clone"]), (LD_W_ABS, 0, 0, OFFSET_ARG0_LOW),
        (JSET_K, 1, 0, CLONE_NAMESPACE_FLAGS),
        _ret(RET_ALLOW),
        _ret(RET_ERRNO | errno.EPERM),
    ]
    return body


def _check_jumps(program: list[Instruction]) -> None:
    for index, (code, jt, jf, _k) in enumerate(program):
        if code in (JEQ_K, JGE_K, JSET_K):
            for jump in (jt, jf):
                if not 0 <= index + 1 + jump < len(program) or jump > 255:
                    raise ValueError(f"seccomp program: jump out of range at {index}")
    if program[-1][0] != RET_K:
        raise ValueError("seccomp program: does not end in a return")


def assemble(arch: str) -> bytes:
    """The filter as `struct sock_filter[]` bytes for `arch`."""
    program = _program(arch)
    _check_jumps(program)
    return b"".join(struct.pack("=HBBI", *instruction) for instruction in program)


def _kernel_has_seccomp() -> bool:
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            return any(line.startswith("Seccomp:") for line in status)
    except OSError:
        return False


@cache
def program_hex() -> str | None:
    """The filter for this machine, hex-encoded for the launcher's config; None (after one
    loud warning) where it cannot be applied."""
    arch = platform.machine()
    if arch not in AUDIT_ARCH:
        why = f"no seccomp filter for architecture {arch!r}"
    elif not _kernel_has_seccomp():
        why = "this kernel has no seccomp"
    else:
        return assemble(arch).hex()
    log.warning("SANDBOX DEGRADED: %s; sandboxed programs may call ptrace, keyctl, bpf, "
                "perf_event_open, userfaultfd and io_uring (each still limited by the "
                "kernel's own permission checks).", why)
    return None

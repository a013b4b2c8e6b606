"""Totals over all of a sandboxed program's processes, its bounded folder, the seccomp filter,
nothing inside naming hidden paths, and a cancelled caller leaving no process behind."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import platform
import uuid
from pathlib import Path

import pytest

from harness.sandbox import SandboxPolicy, run_python
from tests.conftest import live_processes_named

X86_64 = pytest.mark.skipif(platform.machine() != "x86_64", reason="x86_64 syscall numbers")

SYSCALL_PROBE = """
import ctypes, errno, os, subprocess, sys, threading
libc = ctypes.CDLL(None, use_errno=True)

def call(number, *args):
    ctypes.set_errno(0)
    got = libc.syscall(number, *args, 0, 0, 0, 0)
    return errno.errorcode.get(ctypes.get_errno(), got)

# ptrace(PTRACE_ATTACH) on a pid that cannot exist: ESRCH without the filter, no side effect.
denied = {"ptrace": call(101, 16, (1 << 22) + 1)}
denied |= {name: call(number, 0) for name, number in (
    ("keyctl", 250), ("add_key", 248), ("request_key", 249),
    ("userfaultfd", 323), ("perf_event_open", 298), ("bpf", 321), ("unshare", 272),
    ("memfd_create", 319),
    ("x32 getpid", 0x40000000 | 39))}
pid = os.getpid()
newuser = call(56, 0x10000000 | 17)  # clone(CLONE_NEWUSER | SIGCHLD)
if os.getpid() != pid:
    os._exit(0)
denied["clone newuser"] = newuser
thread = threading.Thread(target=lambda: None)
thread.start()
thread.join()
child = subprocess.run([sys.executable, "-c", "print('child')"], capture_output=True, text=True)
print(sorted({str(value) for value in denied.values()}), child.stdout.strip(),
      os.getpid() == call(39))
"""


def test_the_syscall_table_matches_libseccomp() -> None:
    from harness.sandbox._seccomp import AUDIT_ARCH, SYSCALLS, assemble

    name = ctypes.util.find_library("seccomp")
    if name is None:
        pytest.skip("libseccomp is not installed")
    lib = ctypes.CDLL(name)
    resolve = lib.seccomp_syscall_resolve_name_arch
    resolve.argtypes = [ctypes.c_uint32, ctypes.c_char_p]
    for arch, numbers in SYSCALLS.items():
        for syscall, number in numbers.items():
            assert resolve(AUDIT_ARCH[arch], syscall.encode()) == number, (arch, syscall)
        assert len(assemble(arch)) % 8 == 0


@X86_64
async def test_denied_syscalls_fail_with_eperm_and_the_rest_works(kind: str) -> None:
    result = await run_python(SYSCALL_PROBE, policy=SandboxPolicy(wall_time_s=20))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[0] == "['EPERM'] child True", result.stdout


async def test_writing_past_the_folder_limit_fails_inside(bwrap: str) -> None:
    code = ("import errno\ntry:\n    open('big', 'wb').write(b'x' * (48 << 20))\n"
            "    print('wrote')\nexcept OSError as e:\n    print(errno.errorcode[e.errno])\n"
            "open('small', 'w').write('still fine')\nprint(open('data/in.txt').read())")
    policy = SandboxPolicy(folder_mb=16, max_file_size_mb=64)
    result = await run_python(code, policy=policy, files={"data/in.txt": "given"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ENOSPC", "given"]


async def test_nothing_inside_names_a_hidden_path(bwrap: str, tmp_path: Path) -> None:
    hidden = tmp_path / "held-out-answers"
    hidden.mkdir()
    code = ("print(open('/proc/1/cmdline', 'rb').read().decode(errors='replace') + "
            "open('/proc/self/mountinfo').read())")
    result = await run_python(code, policy=SandboxPolicy(hidden_paths=[hidden]))
    assert result.returncode == 0, result.stderr
    assert "held-out-answers" not in result.stdout
    assert str(tmp_path) not in result.stdout


MEMORY_HOG = """
import os, time
for _ in range(5):
    if os.fork() == 0:
        data = b"\\1" * (60 << 20)
        time.sleep(15)
        os._exit(len(data) & 0)
time.sleep(15)
"""


async def test_processes_together_over_the_total_are_killed(kind: str) -> None:
    policy = SandboxPolicy(wall_time_s=20, memory_mb=2048, total_memory_mb=200)
    result = await run_python(MEMORY_HOG, policy=policy)
    assert result.killed_reason == "memory_total", (result.killed_reason, result.stderr)
    assert result.duration_s < 10


FORKER = """
import os, time
started = 0
for _ in range(80):
    try:
        if os.fork() == 0:
            time.sleep(15)
            os._exit(0)
        started += 1
    except OSError:
        break
print("limited" if started < 80 else "all started", flush=True)
time.sleep(15 if started == 80 else 0)
"""


async def test_processes_together_over_the_limit_are_stopped(kind: str) -> None:
    """By the kernel where the program has a uid of its own, else by the watchdog (root is
    exempt from RLIMIT_NPROC, and a shared uid's count is not the program's)."""
    result = await run_python(FORKER, policy=SandboxPolicy(wall_time_s=20, max_processes=32))
    stopped = result.killed_reason == "processes_total" or result.stdout.strip() == "limited"
    assert stopped, (result.killed_reason, result.stdout, result.stderr[-500:])
    assert result.duration_s < 10


async def test_a_cancelled_call_returns_only_once_its_processes_are_gone(kind: str) -> None:
    marker = "cx" + uuid.uuid4().hex[:12]
    code = (f"import os, time\nopen('/proc/self/comm', 'w').write({marker!r})\n"
            "for _ in range(3):\n    if os.fork() == 0:\n        break\ntime.sleep(60)\n")
    call = asyncio.create_task(run_python(code, policy=SandboxPolicy(wall_time_s=60)))
    for _ in range(200):
        if live_processes_named(marker) == 4:
            break
        await asyncio.sleep(0.05)
    assert live_processes_named(marker) == 4
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert live_processes_named(marker) == 0

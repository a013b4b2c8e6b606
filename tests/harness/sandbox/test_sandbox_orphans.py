"""A sandboxed program never outlives a harness that was killed outright (SIGKILL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid

import pytest

from harness.sandbox import _detect, detect_isolation

PARENT = textwrap.dedent("""
    import asyncio, sys
    from harness.sandbox import SandboxPolicy, run
    child = f"import time; marker = {sys.argv[1]!r}; time.sleep(120)"
    asyncio.run(run([sys.executable, "-c", child], policy=SandboxPolicy(wall_time_s=120)))
""")


def _processes(marker: str) -> list[str]:
    found = subprocess.run(["pgrep", "-f", f"marker = '{marker}'"], capture_output=True,
                           text=True)
    return found.stdout.split()


def _usable(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_SANDBOX", kind)
    _detect.reset_cache()
    try:
        detect_isolation()
    except Exception as error:
        pytest.skip(f"{kind} cannot run here: {error}")
    finally:
        _detect.reset_cache()


@pytest.mark.parametrize("kind", ["none", "unshare", "bwrap"])
def test_program_dies_with_a_killed_harness(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _usable(kind, monkeypatch)
    marker = uuid.uuid4().hex
    harness = subprocess.Popen([sys.executable, "-c", PARENT, marker],
                               env={**os.environ, "HARNESS_SANDBOX": kind})
    deadline = time.monotonic() + 30
    while not _processes(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _processes(marker), "the sandboxed program never started"
    harness.send_signal(signal.SIGKILL)
    harness.wait(timeout=10)
    deadline = time.monotonic() + 10
    while _processes(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _processes(marker)


def test_launcher_refuses_to_start_once_its_parent_is_gone(tmp_path) -> None:
    # A harness killed while the launcher was still starting: the launcher's parent is no
    # longer the harness, and the death signal it sets would never fire, so it must not run.
    from harness.sandbox._launch import launcher_argv
    from harness.sandbox._models import SandboxPolicy

    flag = tmp_path / "ran"
    program = [sys.executable, "-c", f"open({str(flag)!r}, 'w').close()"]
    gone = launcher_argv(SandboxPolicy(), uid=None, parent_pid=os.getpid() + 1_000_000)
    assert subprocess.run(gone + program).returncode == 137
    assert not flag.exists()
    here = launcher_argv(SandboxPolicy(), uid=None, parent_pid=os.getpid())
    assert subprocess.run(here + program).returncode == 0
    assert flag.exists()

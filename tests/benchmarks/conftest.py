"""Shared fixtures for the benchmarks tests."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run_python(code: str, env_extra: dict[str, str] | None = None) -> str:
    import os

    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env_extra or {})}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120, check=True,
    )
    return out.stdout


@pytest.fixture
def run_python_subprocess() -> Callable[..., str]:
    """Run code in a fresh interpreter rooted at the repository; return its stdout."""
    return _run_python


@pytest.fixture
def can_unshare_net() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-rn", "true"], capture_output=True)
    return probe.returncode == 0

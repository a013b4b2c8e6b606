"""Run a program that ends in unit tests inside the harness sandbox and turn it into a `Score`.

Used by HumanEval and by `jsonl:` tasks that carry `tests`. The candidate code is untrusted:
it runs through `harness.sandbox.run_python` with time, CPU, memory, process and file limits,
no network, and every path that holds benchmark data hidden (`protected_paths()`).

A pass needs all of: exit status 0, not killed, and the last line of stdout equal to a random
marker printed after the tests. A candidate that calls `sys.exit(0)` / `os._exit(0)` before the
tests run therefore fails. (The marker is inside the program, so a candidate written to read
its own source could still forge it; that is anti-gaming's job, not the sandbox's.)
"""

from __future__ import annotations

import asyncio
import os
import secrets
from typing import Any

from benchmarks.base import Score

DEFAULT_LIMITS: dict[str, Any] = {
    "wall_time_s": 20.0,
    "cpu_time_s": 15.0,
    "memory_mb": 1024,
    "max_processes": 32,
    "max_file_size_mb": 16,
    "max_output_bytes": 64_000,
}
_MAX_CONCURRENT = max(2, (os.cpu_count() or 2))
_semaphore: asyncio.Semaphore | None = None
_semaphore_loop: asyncio.AbstractEventLoop | None = None


def _limiter() -> asyncio.Semaphore:
    """One semaphore per event loop: at most ~cores sandboxes at once."""
    global _semaphore, _semaphore_loop
    loop = asyncio.get_running_loop()
    if _semaphore is None or _semaphore_loop is not loop:
        _semaphore, _semaphore_loop = asyncio.Semaphore(_MAX_CONCURRENT), loop
    return _semaphore


def _tail(text: str, lines: int = 6, chars: int = 800) -> str:
    tail = "\n".join(text.strip().splitlines()[-lines:])
    return tail[-chars:]


def _policy(**overrides: Any) -> Any:
    from benchmarks.registry import protected_paths
    from harness.sandbox import SandboxPolicy

    limits = {**DEFAULT_LIMITS, **overrides}
    return SandboxPolicy(
        **limits,
        network=False,
        hidden_paths=protected_paths(),
    )


async def run_tests(program: str, **limits: Any) -> Score:
    """Run `program` (candidate code followed by its tests) sandboxed; pass iff tests pass."""
    from harness.sandbox import run_python

    marker = f"__harness_tests_passed_{secrets.token_hex(16)}__"
    code = f"{program}\n\nprint({marker!r}, flush=True)\n"
    async with _limiter():
        result = await run_python(code, policy=_policy(**limits))
    isolation = "" if result.isolated else " [not isolated: sandbox fell back to plain process]"
    out_lines = result.stdout.strip().splitlines()
    if result.timed_out:
        return Score.fail(f"timed out after {result.duration_s:.1f}s{isolation}")
    if result.killed_reason:
        return Score.fail(f"killed: {result.killed_reason}{isolation}")
    if result.returncode == 0 and out_lines and out_lines[-1].strip() == marker:
        return Score.ok(f"all tests passed{isolation}")
    if result.returncode == 0:
        return Score.fail(
            f"exited before the tests finished (exit 0, no completion marker){isolation}"
        )
    reason = _tail(result.stderr) or _tail(result.stdout) or "no output"
    return Score.fail(f"tests failed (exit {result.returncode}): {reason}{isolation}")

"""Score candidate code by unit tests, sandboxed, so that the candidate cannot game the result.

Used by HumanEval and by `jsonl:` tasks that carry `tests`. Everything runs in ONE
`harness.sandbox.run_python` call (time, CPU, memory, process and file limits, no network,
every path holding benchmark data hidden by `protected_paths()`), split in two processes:

* the trusted checker (`_checker_program`, the sandbox's main.py) gets the tests, the setup
  code (HumanEval: the task's prompt, for helpers such as `encode_cyclic`) and a random pass
  marker on stdin, never in a file; it makes itself non-dumpable, starts the child and runs the
  tests with each tested function replaced by a proxy;
* the child (`_child_program`, child.py) loads the candidate's code (candidate.py) and answers
  each proxy call: arguments and results cross as plain data only (`_plain_codec`: None, bool,
  int, float, str, bytes, list, tuple, dict, set, frozenset, nested). An object with its own
  `__eq__`, a generator or a function cannot cross: the call fails. An exception raised by the
  candidate is raised in the tests as its nearest builtin exception type (RuntimeError for
  SystemExit and the like). Each call has a timeout (`call_timeout_s`).

The candidate's process never holds the tests or the marker and cannot write to the
checker's stdout; exiting, killing the checker or printing anything makes no pass. A pass
needs exit status 0 and the marker as the last line of the checker's stdout. The child's
stdout/stderr (the candidate's prints) are discarded. A failed call (timeout, value that is not
plain data, crash) fails the run even if the tests catch the exception. Limits: tests can only
call the candidate's top-level *functions* (HumanEval: the entry point; jsonl: all of them but
those named like a builtin, which stay the real builtin), with plain data; classes, instances and
constants do not cross, and the tests do not see a function mutate its arguments.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import secrets
from collections.abc import Sequence
from pathlib import Path
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


@functools.cache
def _program(name: str) -> str:
    return (Path(__file__).resolve().parent / name).read_text(encoding="utf-8")


def _verdict(result: Any, marker: str) -> Score:
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
    reason = _tail(result.stderr, lines=12, chars=1500) or "no output"
    return Score.fail(f"tests failed (exit {result.returncode}): {reason}{isolation}")


async def run_tests(candidate: str, tests: str = "", *, setup: str = "",
                    functions: Sequence[str] | None = None, call_timeout_s: float = 6.0,
                    **limits: Any) -> Score:
    """Load `candidate` (Python source) in a child process and run `tests` (trusted Python)
    against it, sandboxed; pass iff the candidate loads and the tests raise nothing.

    `setup` runs first in the tests' namespace (trusted code, e.g. the task's prompt); then
    each name in `functions` (default: every top-level function the candidate defines) is
    bound there to a proxy that calls the candidate's function with plain data. `limits`
    override `DEFAULT_LIMITS` (and may set `readonly_paths`)."""
    from harness.sandbox import run_python

    try:
        candidate.encode("utf-8")
    except UnicodeEncodeError:
        return Score.fail("the code is not valid UTF-8 text (lone surrogates)")
    marker = f"__harness_tests_passed_{secrets.token_hex(16)}__"
    policy = _policy(**limits)
    job = {"marker": marker, "setup": setup, "tests": tests,
           "functions": None if functions is None else list(functions),
           "call_timeout_s": call_timeout_s, "load_timeout_s": policy.wall_time_s}
    files = {"candidate.py": candidate, "child.py": _program("_child_program.py"),
             "plain_codec.py": _program("_plain_codec.py")}
    stdin = json.dumps(job, ensure_ascii=True).encode("ascii")
    async with _limiter():
        result = await run_python(_program("_checker_program.py"), policy=policy,
                                  files=files, stdin=stdin)
    return _verdict(result, marker)

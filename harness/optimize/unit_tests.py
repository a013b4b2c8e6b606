"""A candidate's own unit tests (`tests/test_*.py` in its folder), run in the sandbox.

The runner inside is deliberately small (no pytest needed where the tool is installed without
dev extras): it imports each test file with the candidate folder on `sys.path` and calls every
top-level `test_*` function (coroutines are run with asyncio). The candidate is read-only
inside, benchmark data and the workspace are hidden, there is no network, and the whole run has
a wall-clock limit. The result says which tests failed, with the first lines of the error.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from pathlib import Path

from pydantic import BaseModel

from harness.runner.policy import code_roots
from harness.runner.staging import stage_candidate
from harness.sandbox import SandboxPolicy, run

_RUNNER = r"""
import asyncio, importlib.util, inspect, json, sys, traceback
from pathlib import Path
root = Path(sys.argv[1]); sys.path.insert(0, str(root))
results = []
for path in sorted((root / "tests").glob("test_*.py")):
    try:
        spec = importlib.util.spec_from_file_location("candidate_tests_" + path.stem, path)
        module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
    except BaseException:
        results.append([path.name, False, traceback.format_exc(limit=3)[-1500:]]); continue
    for name, fn in sorted(vars(module).items()):
        if not (name.startswith("test_") and callable(fn)):
            continue
        try:
            out = fn()
            if inspect.isawaitable(out):
                asyncio.run(out)
            results.append([f"{path.name}::{name}", True, ""])
        except BaseException:
            results.append([f"{path.name}::{name}", False, traceback.format_exc(limit=3)[-1500:]])
print("\n@@RESULTS@@" + json.dumps(results))
"""
_MARK = "@@RESULTS@@"


class UnitTestReport(BaseModel):
    ran: int = 0
    failed: list[str] = []
    errors: list[str] = []  # first lines of each failure, same order as `failed`
    problem: str | None = None  # the runner itself did not finish (time, memory, crash)

    @property
    def ok(self) -> bool:
        return self.problem is None and not self.failed


def has_tests(folder: Path) -> bool:
    return any((folder / "tests").glob("test_*.py"))


async def run_unit_tests(folder: Path, *, hidden: list[Path],
                         wall_time_s: float = 60.0) -> UnitTestReport:
    """Run `folder/tests/test_*.py` in the sandbox; never raises for a failing candidate.
    A folder that breaks the staging rules (links, special files, size) is a `ConfigError`."""
    # A private, readable copy (as for evaluations): the sandbox's uid cannot enter the
    # user's folders, and the copy is what the checks saw.
    root = await asyncio.to_thread(stage_candidate, folder)
    try:
        policy = SandboxPolicy(wall_time_s=wall_time_s, cpu_time_s=wall_time_s,
                               memory_mb=2048, readonly_paths=[*code_roots(), root],
                               hidden_paths=hidden, env={"PYTHONDONTWRITEBYTECODE": "1"})
        result = await run([sys.executable, "-I", "-c", _RUNNER, str(root)], policy=policy)
    finally:
        await asyncio.to_thread(shutil.rmtree, root.parent, True)
    _, mark, payload = result.stdout.rpartition(_MARK)
    if not mark:
        why = result.killed_reason or f"exit code {result.returncode}"
        return UnitTestReport(problem=f"the tests did not finish ({why}): "
                              f"{result.stderr.strip()[-500:]}")
    try:
        rows = json.loads(payload.strip().splitlines()[0])
    except (ValueError, IndexError):
        return UnitTestReport(problem="the tests' output could not be read")
    failed = [(str(name), str(err)) for name, ok, err in rows if not ok]
    return UnitTestReport(ran=len(rows), failed=[n for n, _ in failed],
                          errors=[e.strip().splitlines()[-1][:300] if e.strip() else ""
                                  for _, e in failed])

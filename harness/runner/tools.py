"""Harness-owned tools an agent may call through `ctx.tool(...)`.

They run on the harness side, each call an `execute_tool` span, and execute code only in the
sandbox, with benchmark data hidden. A tool returns a `ToolResult`; misbehaving code is a
result with ok=False and the reason, never an exception.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from harness.sandbox import SandboxPolicy, SandboxResult, run_python
from task_agents.lib.context import ToolResult

OUTPUT_LIMIT = 8_000  # characters of program output handed back to the model
ToolFn = Callable[..., Awaitable[ToolResult]]


def _report(result: SandboxResult) -> ToolResult:
    output = (result.stdout + ("\n" if result.stdout and result.stderr else "") + result.stderr)
    if len(output) > OUTPUT_LIMIT:
        omitted = len(output) - OUTPUT_LIMIT
        output = output[:OUTPUT_LIMIT] + f"\n[{omitted} more characters not shown]"
    if result.killed_reason:
        output += f"\n[stopped: {result.killed_reason}]"
    ok = result.returncode == 0 and not result.timed_out and result.killed_reason is None
    return ToolResult(ok=ok, output=output.strip(), data={
        "returncode": result.returncode, "timed_out": result.timed_out,
        "killed_reason": result.killed_reason, "isolated": result.isolated,
        "duration_s": round(result.duration_s, 3)})


class HarnessTools:
    """The tool set for one run: `run_python` and `run_tests`, sandboxed."""

    def __init__(self, hidden_paths: list[Path] | None = None, *, wall_time_s: float = 10.0,
                 memory_mb: int = 1024) -> None:
        self.policy = SandboxPolicy(wall_time_s=wall_time_s, cpu_time_s=wall_time_s,
                                    memory_mb=memory_mb, hidden_paths=hidden_paths or [])
        self.tools: dict[str, ToolFn] = {"run_python": self.run_python,
                                         "run_tests": self.run_tests}
        # Sandboxes at once, over all episodes: each is a process tree with its own limits,
        # so without this an agent fanning out tool calls could start hundreds. A slot is
        # held until the sandbox is gone: a cancelled call (its episode ended) returns only
        # once `run_python` has killed and reaped the whole tree.
        self._slots = asyncio.Semaphore(max(2, 2 * (os.cpu_count() or 1)))

    async def run_python(self, code: str, stdin: str = "") -> ToolResult:
        data = stdin.encode() if stdin else None
        async with self._slots:
            return _report(await run_python(code, policy=self.policy, stdin=data))

    async def run_tests(self, code: str, tests: str) -> ToolResult:
        async with self._slots:
            return _report(await run_python(f"{code}\n\n{tests}\n", policy=self.policy))

    def get(self, name: str) -> ToolFn | None:
        return self.tools.get(name)

    def describe(self) -> dict[str, Any]:
        return {"run_python": "run Python code, return its output",
                "run_tests": "run code followed by test code (asserts); ok when they pass"}

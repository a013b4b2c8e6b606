"""Thin helpers over the harness tools, so agents call them by name and signature.

Both run through `ctx.tool`, so each call is an `execute_tool` span in the episode's trace,
run sandboxed by the harness. They never raise for failing code: `ToolResult.ok` is False and
`output` says what happened (stdout/stderr, the failing test, a timeout).
"""

from __future__ import annotations

from task_agents.lib.context import AgentContext, ToolResult


async def run_python(ctx: AgentContext, code: str, stdin: str = "") -> ToolResult:
    """Run a Python program (with `stdin`, when given); `output` holds what it printed."""
    if stdin:
        return await ctx.tool("run_python", code=code, stdin=stdin)
    return await ctx.tool("run_python", code=code)


async def run_tests(ctx: AgentContext, code: str, tests: str) -> ToolResult:
    """Run `tests` (assert statements or a test function and its call) against `code`."""
    return await ctx.tool("run_tests", code=code, tests=tests)

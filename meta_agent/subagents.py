"""`spawn_subagents`: parallel read-only investigations on the meta-agent's own model.

Each investigator is the same tool loop (`graph.py`) with only the read tools, inside its own
`invoke_agent investigator-N` span (a child of the session), and reports by replying without
a tool call. A write attempted by an investigator is refused by its context, not merely left
out of its tool list.
"""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

from harness.models.types import Message, ModelClient
from meta_agent.graph import build_loop
from meta_agent.toolbox import READ_SPECS
from meta_agent.tools import ToolError
from task_agents.lib.context import AgentContext, TaskView, ToolResult

MAX_INVESTIGATORS = 4
INVESTIGATOR_STEPS = 6
READ_NAMES = frozenset(spec["name"] for spec in READ_SPECS)
PROMPT = (Path(__file__).parent / "prompts" / "investigator.md").read_text()


class ReadOnlyContext:
    """An AgentContext that refuses every tool but the read tools."""

    def __init__(self, inner: AgentContext) -> None:
        self.inner = inner

    @property
    def model(self) -> ModelClient:
        return self.inner.model

    @property
    def task(self) -> TaskView:
        return self.inner.task

    async def tool(self, name: str, /, **arguments: Any) -> ToolResult:
        if name not in READ_NAMES:
            return ToolResult(ok=False, output=f"error: investigators may only read ({name} "
                              "is refused)")
        return await self.inner.tool(name, **arguments)

    def subagent(self, name: str) -> AbstractAsyncContextManager[None]:
        return self.inner.subagent(name)

    def log(self, message: str) -> None:
        self.inner.log(message)


class Investigators:
    """Holds the session's context once it exists; `spawn` is the tool."""

    def __init__(self) -> None:
        self.ctx: AgentContext | None = None
        self.spawned = 0

    async def spawn(self, tasks: list[dict[str, Any]]) -> str:
        if self.ctx is None:
            raise ToolError("investigators are not available yet")
        if not isinstance(tasks, list) or not tasks:
            raise ToolError("give a list of {instruction, files} objects")
        if len(tasks) > MAX_INVESTIGATORS:
            raise ToolError(f"at most {MAX_INVESTIGATORS} investigators at once")
        jobs = [self._one(i, task) for i, task in enumerate(tasks, start=self.spawned + 1)]
        self.spawned += len(tasks)
        reports = await asyncio.gather(*jobs)
        return "\n\n".join(reports)

    async def _one(self, number: int, task: Any) -> str:
        if not isinstance(task, dict) or not str(task.get("instruction", "")).strip():
            return f"investigator-{number}: skipped (no instruction)"
        files = [str(f) for f in task.get("files") or []][:10]
        text = str(task["instruction"])[:2000] + (
            "\nStart with these files: " + ", ".join(files) if files else "")
        assert self.ctx is not None
        reader = ReadOnlyContext(self.ctx)
        async with self.ctx.subagent(f"investigator-{number}"):
            graph = build_loop(reader, READ_SPECS, max_steps=INVESTIGATOR_STEPS,
                               params={"max_tokens": 512})
            state = await graph.ainvoke(
                {"messages": [Message(role="system", content=PROMPT),
                              Message(role="user", content=text)]},
                {"recursion_limit": 4 * INVESTIGATOR_STEPS + 10})
        summary = (state.get("last_text") or "").strip() or f"(no summary: {state.get('end')})"
        return f"investigator-{number}: {summary[:3000]}"

"""The fixed boundary between a task agent and the harness.

A candidate is a folder `task_agents/<name>/` whose `agent.py` defines

    async def run(task: TaskView, ctx: AgentContext) -> Any

called once per episode; the return value is the answer (in the form `task.answer_format`
asks for). Rules:
- Every model call goes through `ctx.model` and every harness tool through `ctx.tool(...)`.
  Both are carried out and traced by the harness in another process, so candidate code can
  neither skip a trace nor write one: it has no access to the trace store or the network.
- `async with ctx.subagent("name"):` marks the calls made inside as one subagent's work (an
  `invoke_agent name` span, child of the episode). Subagents nest and may run concurrently
  (LangGraph `Send` fan-out); each asyncio task keeps its own current subagent.
- Raising ends the episode as a failure (score 0, traceback in the trace). Budget overruns
  raise `BudgetExceeded` from `ctx.model.chat`; the wall-clock limit kills the process.
- Candidate code runs sandboxed: benchmark data, answers and held-out material are not
  readable, and nothing but this library, the harness client types and installed
  third-party packages can be imported usefully.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from harness.models.types import ModelClient


class TaskView(BaseModel):
    """A task as the agent sees it: what `benchmarks.Task` holds, minus nothing secret."""

    model_config = ConfigDict(extra="ignore")

    benchmark: str = ""
    task_id: str
    category: str = ""
    prompt: str
    turns: list[list[dict[str, str]]] = Field(default_factory=list)
    tools: list[dict[str, Any]] = Field(default_factory=list)
    answer_format: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)


class ToolResult(BaseModel):
    """What a harness tool returned: `output` for the model, `ok` and structured `data`."""

    ok: bool
    output: str
    data: dict[str, Any] = Field(default_factory=dict)


class BudgetExceeded(RuntimeError):
    """The episode's token budget is spent; no further model calls are allowed."""


@runtime_checkable
class AgentContext(Protocol):
    """What the harness hands an agent for one episode."""

    @property
    def model(self) -> ModelClient: ...

    @property
    def task(self) -> TaskView: ...

    async def tool(self, name: str, /, **arguments: Any) -> ToolResult:
        """Run a harness tool: "run_python" (code, stdin=""), "run_tests" (code, tests), or
        "env" (function, arguments): a function of the task's own environment, where the task
        has one (BFCL multi-turn's simulated APIs); ok=False with the reason otherwise."""
        ...

    def subagent(self, name: str) -> AbstractAsyncContextManager[None]:
        """Mark the calls made inside as the work of subagent `name`."""
        ...

    def log(self, message: str) -> None:
        """Record a note in the episode's trace (an event on the current agent span)."""
        ...

"""`AgentContext` implementation shared by the in-process and the sandboxed paths.

`BoundContext` turns the agent-facing API (`ctx.model.chat`, `ctx.tool`, `ctx.subagent`,
`ctx.log`) into calls on an `Endpoint` that names the current agent reference. The endpoint
is an `EpisodeHost` in-process, or the worker's RPC channel inside the sandbox. The current
reference lives in a context variable, so concurrent subagents (asyncio tasks, LangGraph
`Send` branches) each keep their own.
"""

from __future__ import annotations

import contextvars
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol

from harness.models.types import ChatResult, MessageLike, ToolLike
from task_agents.lib.context import TaskView, ToolResult

ROOT = "root"


class Endpoint(Protocol):
    """Where an agent's requests go; every method names the calling agent's reference."""

    async def chat(self, ref: str, messages: Sequence[MessageLike],
                   tools: Sequence[ToolLike] | None = None, **params: Any) -> ChatResult: ...

    async def tool(self, ref: str, name: str, arguments: dict[str, Any]) -> ToolResult: ...

    async def start_agent(self, ref: str, name: str) -> str: ...

    async def end_agent(self, ref: str, error: str | None = None) -> None: ...

    def log(self, ref: str, message: str) -> None: ...


class AgentModel:
    """The `ModelClient` an agent sees: calls go to the endpoint under the current agent."""

    def __init__(self, endpoint: Endpoint, current: contextvars.ContextVar[str], *,
                 model: str, provider: str) -> None:
        self._endpoint = endpoint
        self._current = current
        self.model = model
        self.provider = provider

    async def chat(self, messages: Sequence[MessageLike], tools: Sequence[ToolLike] | None = None,
                   **params: Any) -> ChatResult:
        return await self._endpoint.chat(self._current.get(), messages, tools, **params)

    async def aclose(self) -> None:
        """The harness owns the connection; an agent closing it is a no-op."""


class BoundContext:
    """An `AgentContext` for one episode."""

    def __init__(self, endpoint: Endpoint, task: TaskView, *, model: str, provider: str) -> None:
        self._endpoint = endpoint
        self._current: contextvars.ContextVar[str] = contextvars.ContextVar(
            f"agent_ref_{id(self)}", default=ROOT)
        self.task = task
        self.model = AgentModel(endpoint, self._current, model=model, provider=provider)

    async def tool(self, name: str, /, **arguments: Any) -> ToolResult:
        return await self._endpoint.tool(self._current.get(), name, arguments)

    @asynccontextmanager
    async def subagent(self, name: str) -> AsyncIterator[None]:
        ref = await self._endpoint.start_agent(self._current.get(), name)
        token = self._current.set(ref)
        try:
            yield
        except BaseException as error:
            await self._endpoint.end_agent(ref, f"{type(error).__name__}: {error}")
            raise
        else:
            await self._endpoint.end_agent(ref)
        finally:
            self._current.reset(token)

    def log(self, message: str) -> None:
        self._endpoint.log(self._current.get(), message)

"""Fixtures for the task-agent tests: a tracing handle on a temp store and an episode runner
that runs an agent (or any coroutine on a context) in-process against the scripted server."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from harness.models import OpenAIClient
from harness.runner.local import local_context
from harness.testing import ScriptedServer
from task_agents.lib.context import AgentContext, TaskView
from traces.setup import TracingHandle, setup_tracing

Body = Callable[[AgentContext], Awaitable[Any]]
Episode = Callable[..., Awaitable[Any]]


@pytest.fixture
def tracing(tmp_path: Path) -> Iterator[TracingHandle]:
    handle = setup_tracing(tmp_path / "traces.sqlite", synchronous=True)
    yield handle
    handle.shutdown()


@pytest.fixture
def episode(scripted: ScriptedServer, tracing: TracingHandle) -> Episode:
    """`await episode(body, task=..., episode_id=...)`: run `body(ctx)` as one traced episode."""

    async def run(body: Body, *, task: TaskView | None = None, episode_id: str = "ep") -> Any:
        client = OpenAIClient(scripted.base_url, "scripted", timeout_s=10, max_retries=0)
        view = task or TaskView(task_id="t-1", prompt="")
        try:
            async with local_context(view, client, tracing=tracing, episode_id=episode_id) as ctx:
                # cast: BoundContext.model is an AgentModel, and AgentContext.model is a
                # settable protocol attribute, so mypy wants exactly ModelClient (invariance).
                return await body(cast(AgentContext, ctx))
        finally:
            await client.aclose()

    return run

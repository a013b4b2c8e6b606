"""Run an agent in this process, fully traced: for tests and for trusted quick checks.

The sandboxed runner uses the same `EpisodeHost` and `BoundContext`; only the channel
between them differs (a pipe instead of a direct call).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from opentelemetry import trace

from harness.models.types import ModelClient
from harness.runner.context import BoundContext
from harness.runner.host import EpisodeHost
from harness.runner.tools import HarnessTools
from task_agents.lib.context import TaskView
from traces.instrument import agent_span
from traces.setup import TracingHandle


@asynccontextmanager
async def local_context(
    task: TaskView,
    model: ModelClient,
    *,
    tracing: TracingHandle | None = None,
    token_budget: int | None = None,
    tools: HarnessTools | None = None,
    agent_name: str = "agent",
    episode_id: str | None = None,
) -> AsyncIterator[BoundContext]:
    """An `AgentContext` whose calls run here; the episode is one `invoke_agent` root span."""
    tracer = tracing.tracer if tracing else trace.get_tracer("harness.runner")
    episode = episode_id or uuid.uuid4().hex
    with agent_span(agent_name, task_id=task.task_id, episode_id=episode, tracer=tracer) as root:
        host = EpisodeHost(model=model, tracer=tracer, root=root, tools=tools or HarnessTools(),
                           token_budget=token_budget)
        try:
            yield BoundContext(host, task, model=model.model, provider=model.provider)
        finally:
            host.close_open_agents()

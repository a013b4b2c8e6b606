"""local_context: the in-process episode, traced: root span, chats, tools, subagents, budget."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from harness.models import OpenAIClient
from harness.runner.local import local_context
from harness.testing import Reply, ScriptedServer
from task_agents.lib.context import BudgetExceeded, TaskView
from traces.setup import TracingHandle, setup_tracing

TASK = TaskView(task_id="t-1", prompt="say hi")


@pytest.fixture
def tracing(tmp_path: Path) -> TracingHandle:
    handle = setup_tracing(tmp_path / "traces.sqlite", synchronous=True)
    yield handle
    handle.shutdown()


def model(server: ScriptedServer) -> OpenAIClient:
    return OpenAIClient(server.base_url, "scripted", timeout_s=5, max_retries=0)


async def test_subagents_nest_and_run_concurrently(scripted: ScriptedServer,
                                                   tracing: TracingHandle) -> None:
    scripted.responder = lambda body: Reply.text("ok", delay_s=0.05)

    async with local_context(TASK, model(scripted), tracing=tracing, episode_id="ep1") as ctx:
        async def branch(name: str) -> str:
            async with ctx.subagent(name):
                return (await ctx.model.chat([{"role": "user", "content": name}])).text

        await ctx.model.chat([{"role": "user", "content": "root"}])
        assert await asyncio.gather(branch("a"), branch("b")) == ["ok", "ok"]
        ctx.log("done")

    spans = tracing.store().spans("ep1")
    by_id = {s.span_id: s for s in spans}
    names = sorted(s.name for s in spans)
    assert names == ["chat scripted"] * 3 + ["invoke_agent a", "invoke_agent agent",
                                             "invoke_agent b"]
    root = next(s for s in spans if s.name == "invoke_agent agent")
    for sub in ("a", "b"):
        agent = next(s for s in spans if s.name == f"invoke_agent {sub}")
        assert agent.parent_id == root.span_id
        [chat] = [s for s in spans if s.parent_id == agent.span_id]
        assert chat.name == "chat scripted"
        assert sub in chat.attributes["gen_ai.input.messages"]
    root_children = [s for s in spans if s.parent_id == root.span_id]
    assert len(root_children) == 3
    assert all(by_id[s.parent_id] for s in spans if s.parent_id)


async def test_tool_calls_are_traced_and_sandboxed(scripted: ScriptedServer,
                                                   tracing: TracingHandle) -> None:
    async with local_context(TASK, model(scripted), tracing=tracing, episode_id="ep2") as ctx:
        good = await ctx.tool("run_tests", code="def f(x):\n    return x + 1",
                              tests="assert f(1) == 2")
        bad = await ctx.tool("run_tests", code="def f(x):\n    return x", tests="assert f(1) == 2")
        unknown = await ctx.tool("rm_rf")
        echo = await ctx.tool("run_python", code="print(input()[::-1])", stdin="abc")
    assert good.ok and not bad.ok and "AssertionError" in bad.output
    assert echo.ok and echo.output == "cba" and echo.data["isolated"] is not None
    assert not unknown.ok and "unknown tool" in unknown.output
    tools = [s for s in tracing.store().spans("ep2") if s.name.startswith("execute_tool")]
    assert [s.name for s in tools] == ["execute_tool run_tests"] * 2 + ["execute_tool run_python"]
    assert '"ok": true' in tools[0].attributes["gen_ai.tool.call.result"]


async def test_token_budget_stops_further_calls(scripted: ScriptedServer,
                                                tracing: TracingHandle) -> None:
    scripted.responder = lambda body: Reply.text("many words in this reply here")
    async with local_context(TASK, model(scripted), tracing=tracing, token_budget=5) as ctx:
        await ctx.model.chat([{"role": "user", "content": "one two three"}])
        with pytest.raises(BudgetExceeded, match="token budget of 5"):
            await ctx.model.chat([{"role": "user", "content": "again"}])
    assert len(scripted.requests) == 1

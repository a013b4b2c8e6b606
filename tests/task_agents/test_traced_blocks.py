"""The building blocks in a traced episode: span names, nesting and GenAI attributes.

Every episode runs through `local_context` with tracing to a temp SQLite store; spans are read
back from the store, so these tests see exactly what the meta-agent will see.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from harness.models.types import Message
from harness.testing import Reply, ScriptedServer
from task_agents.lib.answers import extract_code
from task_agents.lib.consistency import self_consistency
from task_agents.lib.context import AgentContext, TaskView
from task_agents.lib.fanout import fan_out
from task_agents.lib.text_tools import call_with_tools, followup_messages
from task_agents.lib.tools import run_python, run_tests
from task_agents.lib.verify import Attempt, verify_and_retry
from task_agents.solver import agent as solver
from traces import SpanRecord
from traces.setup import TracingHandle

Episode = Callable[..., Awaitable[Any]]  # the `episode` fixture (tests/task_agents/conftest.py)
ROOT = "invoke_agent agent"
CHAT = "chat scripted"
RUN_PYTHON = {"name": "run_python", "description": "Run Python code and return its output",
              "parameters": {"type": "object", "properties": {"code": {"type": "string"}},
                             "required": ["code"]}}


def spans_of(tracing: TracingHandle, episode_id: str = "ep") -> list[SpanRecord]:
    return tracing.store().spans(episode_id)


def children(spans: list[SpanRecord], parent: SpanRecord) -> list[SpanRecord]:
    return [s for s in spans if s.parent_id == parent.span_id]


def root_of(spans: list[SpanRecord]) -> SpanRecord:
    [root] = [s for s in spans if s.name == ROOT]
    assert root.parent_id is None and root.attributes["gen_ai.operation.name"] == "invoke_agent"
    return root


def last_user(body: dict[str, Any]) -> str:
    return str([m for m in body["messages"] if m["role"] == "user"][-1]["content"])


async def test_tool_call_episode_is_traced(scripted: ScriptedServer, tracing: TracingHandle,
                                           episode: Episode) -> None:
    scripted.push(Reply.tool_call("run_python", {"code": "print(6 * 7)"}, call_id="call-1"),
                  Reply.text("The answer is 42."))

    async def body(ctx: AgentContext) -> str:
        messages: list[Message] = [Message(role="user", content="What is 6 * 7? Use Python.")]
        first = await call_with_tools(ctx, messages, [RUN_PYTHON])
        outputs = [(await run_python(ctx, **call.arguments)).output for call in first.tool_calls]
        messages += followup_messages(first, outputs)
        return (await ctx.model.chat(messages)).text

    assert await episode(body, task=TaskView(task_id="t-7", prompt="6*7")) == "The answer is 42."
    spans = spans_of(tracing)
    root = root_of(spans)
    first_chat, tool, second_chat = children(spans, root)
    assert [first_chat.name, tool.name, second_chat.name] == [CHAT, "execute_tool run_python",
                                                              CHAT]
    assert all(s.attributes["harness.task_id"] == "t-7" for s in spans)
    chat = first_chat.attributes
    assert (chat["gen_ai.operation.name"], chat["gen_ai.request.model"]) == ("chat", "scripted")
    assert json.loads(chat["gen_ai.tool.definitions"])[0]["name"] == "run_python"
    [output] = json.loads(chat["gen_ai.output.messages"])
    assert output["parts"][0] == {"type": "tool_call", "id": "call-1", "name": "run_python",
                                  "arguments": {"code": "print(6 * 7)"}}
    assert tool.attributes["gen_ai.operation.name"] == "execute_tool"
    assert tool.attributes["gen_ai.tool.name"] == "run_python"
    assert json.loads(tool.attributes["gen_ai.tool.call.arguments"]) == {"code": "print(6 * 7)"}
    assert json.loads(tool.attributes["gen_ai.tool.call.result"])["output"] == "42"
    sent = json.loads(second_chat.attributes["gen_ai.input.messages"])
    assert sent[-1] == {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call-1",
                                                   "result": "42"}], "name": "run_python"}


async def test_reasoning_appears_in_the_chat_span(scripted: ScriptedServer,
                                                  tracing: TracingHandle,
                                                  episode: Episode) -> None:
    scripted.push(Reply.text("Answer: 4", reasoning="Two plus two is four."))
    task = TaskView(task_id="r", prompt="2+2?", metadata={"numeric_answer": True})

    async def body(ctx: AgentContext) -> Any:
        return await solver.run(task, ctx)

    assert await episode(body, task=task) == "4"
    [chat] = children(spans_of(tracing), root_of(spans_of(tracing)))
    [output] = json.loads(chat.attributes["gen_ai.output.messages"])
    assert output["parts"] == [{"type": "reasoning", "content": "Two plus two is four."},
                               {"type": "text", "content": "Answer: 4"}]
    assert output["finish_reason"] == "stop"


async def test_fan_out_runs_each_item_as_a_subagent(scripted: ScriptedServer,
                                                    tracing: TracingHandle,
                                                    episode: Episode) -> None:
    delays = {"a": 0.3, "b": 0.2, "c": 0.1}  # finish in reverse order
    scripted.responder = lambda req: Reply.text(last_user(req).upper(),
                                                delay_s=delays[last_user(req)])

    async def shout(ctx: AgentContext, item: str) -> str:
        return (await ctx.model.chat([{"role": "user", "content": item}])).text

    async def body(ctx: AgentContext) -> list[str]:
        return await fan_out(ctx, ["a", "b", "c"], shout, name="shout")

    assert await episode(body) == ["A", "B", "C"]
    spans = spans_of(tracing)
    agents = children(spans, root_of(spans))
    assert sorted(s.name for s in agents) == [f"invoke_agent shout[{i}]" for i in range(3)]
    for agent in agents:
        assert agent.attributes["gen_ai.agent.name"] == agent.name.removeprefix("invoke_agent ")
        [chat] = children(spans, agent)
        item = "abc"[int(agent.name[-2])]
        assert chat.name == CHAT and item in chat.attributes["gen_ai.input.messages"]
    assert max(s.start_ns for s in agents) < min(s.end_ns for s in agents)  # concurrent


async def test_fan_out_edge_cases(tracing: TracingHandle, episode: Episode) -> None:
    async def boom(ctx: AgentContext, item: int) -> int:
        if item == 1:
            raise ValueError("bad item")
        return item

    async def empty(ctx: AgentContext) -> list[int]:
        return await fan_out(ctx, [], boom, name="none")

    async def failing(ctx: AgentContext) -> list[int]:
        return await fan_out(ctx, [0, 1], boom, name="boom")

    assert await episode(empty, episode_id="e1") == []
    assert [s.name for s in spans_of(tracing, "e1")] == [ROOT]
    with pytest.raises(ValueError, match="bad item"):
        await episode(failing, episode_id="e2")
    [failed] = [s for s in spans_of(tracing, "e2") if s.name == "invoke_agent boom[1]"]
    assert failed.status_code == "ERROR"


async def test_verify_and_retry_feeds_the_failure_back(scripted: ScriptedServer,
                                                       tracing: TracingHandle,
                                                       episode: Episode) -> None:
    scripted.push(Reply.text("```python\ndef inc(x):\n    return x\n```"),
                  Reply.text("```python\ndef inc(x):\n    return x + 1\n```"))
    tests = "assert inc(1) == 2"

    async def generate(ctx: AgentContext, last: Attempt[str] | None) -> str:
        prompt = "Write inc(x) returning x + 1."
        if last is not None:
            prompt += f"\nYour code:\n{last.value}\nfailed:\n{last.feedback}"
        return extract_code((await ctx.model.chat([{"role": "user", "content": prompt}])).text)

    async def verify(ctx: AgentContext, code: str) -> Any:
        return await run_tests(ctx, code, tests)

    async def body(ctx: AgentContext) -> str:
        return await verify_and_retry(ctx, generate, verify, attempts=3)

    assert await episode(body) == "def inc(x):\n    return x + 1\n"
    spans = spans_of(tracing)
    steps = children(spans, root_of(spans))
    assert [s.name for s in steps] == [CHAT, "execute_tool run_tests"] * 2
    results = [json.loads(s.attributes["gen_ai.tool.call.result"]) for s in steps[1::2]]
    assert [r["ok"] for r in results] == [False, True]
    assert "AssertionError" in steps[2].attributes["gen_ai.input.messages"]
    assert len(scripted.requests) == 2
    events = [e["attributes"]["message"] for e in root_of(spans).events]
    assert events == ["attempt 1: failed verification", "mechanism:verify attempt 1 failed",
                      "attempt 2: verified", "mechanism:verify attempt 2 ok"]


async def test_verify_and_retry_returns_the_last_when_nothing_verifies(
        scripted: ScriptedServer, tracing: TracingHandle, episode: Episode) -> None:
    scripted.responder = lambda req: Reply.text(f"try {len(scripted.requests)}")

    async def generate(ctx: AgentContext, last: Attempt[str] | None) -> str:
        return (await ctx.model.chat([{"role": "user", "content": "go"}])).text

    async def never(ctx: AgentContext, value: str) -> bool:
        return False

    async def body(ctx: AgentContext) -> str:
        return await verify_and_retry(ctx, generate, never, attempts=2, name="attempt")

    assert await episode(body) == "try 2"
    spans = spans_of(tracing)
    agents = children(spans, root_of(spans))
    assert [s.name for s in agents] == ["invoke_agent attempt[1]", "invoke_agent attempt[2]"]
    assert all([c.name for c in children(spans, a)] == [CHAT] for a in agents)


async def test_self_consistency_takes_the_majority(scripted: ScriptedServer,
                                                   tracing: TracingHandle,
                                                   episode: Episode) -> None:
    votes = {"0": "Answer: 7", "1": "Answer: 8", "2": "answer: 7 ", "3": "", "4": "Answer: 8"}
    scripted.responder = lambda req: Reply.text(votes[last_user(req)])

    async def sample(ctx: AgentContext, index: int) -> str:
        return (await ctx.model.chat([{"role": "user", "content": str(index)}])).text

    async def body(ctx: AgentContext) -> str:
        return await self_consistency(ctx, sample, n=5, normalize=lambda t: t.lower().strip())

    assert await episode(body) == "answer: 7"  # 2 votes each; "7" was seen first
    spans = spans_of(tracing)
    agents = children(spans, root_of(spans))
    assert sorted(s.name for s in agents) == [f"invoke_agent sample[{i}]" for i in range(5)]

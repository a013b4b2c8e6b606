"""Spans from the harness-owned wrappers, read back from the SQLite store."""

from __future__ import annotations

import asyncio
import json
import operator
from typing import Annotated, Any, TypedDict

import pytest
from langgraph.graph import END, START, StateGraph
from langgraph.types import Send

from harness.errors import ModelRequestError
from harness.models.openai_client import OpenAIClient
from harness.models.types import MessageLike, ToolCall
from harness.testing import Reply, ScriptedServer
from traces import SpanRecord, TracedModelClient, TracingHandle
from traces import conventions as c

ADD = {
    "name": "add",
    "description": "Add two numbers",
    "parameters": {"type": "object", "properties": {"a": {"type": "number"}}},
}


def by_name(spans: list[SpanRecord]) -> dict[str, list[SpanRecord]]:
    out: dict[str, list[SpanRecord]] = {}
    for span in spans:
        out.setdefault(span.name, []).append(span)
    return out


async def test_chat_span_has_genai_attributes(
    scripted: ScriptedServer, client: TracedModelClient, tracing: TracingHandle
) -> None:
    scripted.push(Reply.tool_call("add", {"a": 2, "b": 3}, call_id="c1", reasoning="use add"))
    messages: list[MessageLike] = [
        {"role": "system", "content": "Be exact."},
        {"role": "user", "content": "2+3?"},
    ]
    with tracing.agent_span("solver", task_id="t1", episode_id="e1"):
        result = await client.chat(
            messages,
            tools=[ADD],
            temperature=0.3,
            max_tokens=64,
            top_p=0.9,
            seed=7,
            top_k=20,
            stop="END",
            repetition_penalty=1.1,
        )
    assert result.tool_calls[0].name == "add"
    spans = by_name(tracing.store().spans("e1"))
    root, chat = spans["invoke_agent solver"][0], spans["chat scripted"][0]
    assert (root.kind, chat.kind, chat.parent_id) == ("INTERNAL", "CLIENT", root.span_id)
    a = chat.attributes
    assert a[c.GEN_AI_OPERATION_NAME] == "chat"
    assert a[c.GEN_AI_PROVIDER_NAME] == "vllm"
    assert a[c.GEN_AI_REQUEST_MODEL] == a[c.GEN_AI_RESPONSE_MODEL] == "scripted"
    assert (a[c.GEN_AI_REQUEST_TEMPERATURE], a[c.GEN_AI_REQUEST_MAX_TOKENS]) == (0.3, 64)
    assert (a[c.GEN_AI_REQUEST_TOP_P], a[c.GEN_AI_REQUEST_SEED]) == (0.9, 7)
    assert (a[c.GEN_AI_REQUEST_TOP_K], a[c.GEN_AI_REQUEST_STOP_SEQUENCES]) == (20, ["END"])
    assert json.loads(a[c.HARNESS_EXTRA_PARAMS]) == {"repetition_penalty": 1.1}
    assert a[c.GEN_AI_RESPONSE_FINISH_REASONS] == ["tool_call"]
    assert a[c.GEN_AI_USAGE_INPUT_TOKENS] > 0 and a[c.GEN_AI_USAGE_OUTPUT_TOKENS] == 1
    assert a[c.GEN_AI_RESPONSE_ID].startswith("chatcmpl-")
    assert a[c.HARNESS_LATENCY_S] > 0
    assert json.loads(a[c.GEN_AI_SYSTEM_INSTRUCTIONS]) == [{"type": "text", "content": "Be exact."}]
    assert json.loads(a[c.GEN_AI_INPUT_MESSAGES]) == [
        {"role": "user", "parts": [{"type": "text", "content": "2+3?"}]}
    ]
    assert json.loads(a[c.GEN_AI_TOOL_DEFINITIONS])[0]["name"] == "add"
    output = json.loads(a[c.GEN_AI_OUTPUT_MESSAGES])[0]
    assert output["finish_reason"] == "tool_call"
    assert output["parts"] == [
        {"type": "reasoning", "content": "use add"},
        {"type": "tool_call", "id": "c1", "name": "add", "arguments": {"a": 2, "b": 3}},
    ]
    assert chat.episode_id == "e1" and chat.task_id == "t1"


async def test_content_capture_switch(
    scripted: ScriptedServer, tracing: TracingHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    scripted.push(Reply.text("secret answer"), Reply.text("again"))
    inner = OpenAIClient(scripted.base_url, "scripted", max_retries=0)
    quiet = tracing.wrap_client(inner, capture_message_content=False)
    monkeypatch.setenv(c.CAPTURE_CONTENT_ENV, "NO_CONTENT")
    from_env = TracedModelClient(inner, tracer=tracing.tracer)
    with tracing.agent_span("solver", episode_id="e2"):
        await quiet.chat([{"role": "user", "content": "hi"}])
        await from_env.chat([{"role": "user", "content": "hi"}])
    await inner.aclose()
    chats = by_name(tracing.store().spans("e2"))["chat scripted"]
    assert len(chats) == 2
    for chat in chats:
        assert c.GEN_AI_INPUT_MESSAGES not in chat.attributes
        assert c.GEN_AI_OUTPUT_MESSAGES not in chat.attributes
        assert chat.attributes[c.GEN_AI_USAGE_OUTPUT_TOKENS] >= 1


async def test_chat_error_sets_status_and_error_type(
    scripted: ScriptedServer, client: TracedModelClient, tracing: TracingHandle
) -> None:
    scripted.push(Reply.error(400, "unknown model"))
    with tracing.agent_span("solver", episode_id="e3"), pytest.raises(ModelRequestError):
        await client.chat([{"role": "user", "content": "hi"}])
    spans = by_name(tracing.store().spans("e3"))
    chat = spans["chat scripted"][0]
    assert chat.status_code == "ERROR"
    assert chat.attributes[c.ERROR_TYPE] == "ModelRequestError"
    assert "unknown model" in (chat.status_description or "")
    assert chat.events[0]["name"] == "exception"
    assert spans["invoke_agent solver"][0].status_code == "UNSET"


async def test_tool_spans_sync_async_and_errors(tracing: TracingHandle) -> None:
    def add(a: int, b: int) -> int:
        return a + b

    async def fetch(url: str) -> dict[str, Any]:
        await asyncio.sleep(0)
        return {"url": url, "status": 200}

    def broken(x: int) -> int:
        raise ValueError(f"bad x {x}")

    class Search:
        async def __call__(self, query: str) -> list[str]:
            return [query.upper()]

    add_tool = tracing.tool("add", add, "Add two numbers")
    search_tool = tracing.tool("search", Search())
    fetch_tool = tracing.tool("fetch", fetch)
    broken_tool = tracing.tool("broken", broken)
    with tracing.agent_span("solver", episode_id="e4") as root:
        assert add_tool(2, b=3) == 5
        assert await fetch_tool(url="http://x") == {"url": "http://x", "status": 200}
        assert await search_tool("q") == ["Q"]
        assert await add_tool.invoke(ToolCall(id="c9", name="add", arguments={"a": 1, "b": 1})) == 2
        with pytest.raises(ValueError, match="bad x 4"):
            broken_tool(4)
    spans = by_name(tracing.store().spans("e4"))
    root_id = format(root.get_span_context().span_id, "016x")
    first, second = spans["execute_tool add"]
    assert first.kind == "INTERNAL" and first.parent_id == root_id
    assert first.attributes[c.GEN_AI_TOOL_NAME] == "add"
    assert first.attributes[c.GEN_AI_TOOL_DESCRIPTION] == "Add two numbers"
    assert json.loads(first.attributes[c.GEN_AI_TOOL_CALL_ARGUMENTS]) == {"args": [2], "b": 3}
    assert first.attributes[c.GEN_AI_TOOL_CALL_RESULT] == "5"
    assert second.attributes[c.GEN_AI_TOOL_CALL_ID] == "c9"
    fetched = spans["execute_tool fetch"][0]
    assert json.loads(fetched.attributes[c.GEN_AI_TOOL_CALL_RESULT])["status"] == 200
    assert spans["execute_tool search"][0].attributes[c.GEN_AI_TOOL_CALL_RESULT] == '["Q"]'
    failed = spans["execute_tool broken"][0]
    assert failed.status_code == "ERROR" and failed.attributes[c.ERROR_TYPE] == "ValueError"
    assert c.GEN_AI_TOOL_CALL_RESULT not in failed.attributes


async def test_subagents_nest_across_gather(
    scripted: ScriptedServer, client: TracedModelClient, tracing: TracingHandle
) -> None:
    scripted.responder = lambda body: Reply.text("part done")

    async def subagent(i: int) -> str:
        with tracing.agent_span(f"worker-{i}"):
            await asyncio.sleep(0.01 * (3 - i))  # finish out of order
            result = await client.chat([{"role": "user", "content": f"part {i}"}])
            return result.text

    with tracing.agent_span("planner", task_id="t5", episode_id="e5") as root:
        await client.chat([{"role": "user", "content": "plan"}])
        texts = await asyncio.gather(*(subagent(i) for i in range(3)))
    assert texts == ["part done"] * 3
    spans = by_name(tracing.store().spans("e5"))
    root_id = format(root.get_span_context().span_id, "016x")
    chats = spans["chat scripted"]
    assert len(chats) == 4
    assert sum(chat.parent_id == root_id for chat in chats) == 1
    for i in range(3):
        worker = spans[f"invoke_agent worker-{i}"][0]
        assert worker.parent_id == root_id
        assert worker.attributes[c.GEN_AI_AGENT_NAME] == f"worker-{i}"
        mine = [ch for ch in chats if ch.parent_id == worker.span_id]
        assert len(mine) == 1
        assert f"part {i}" in mine[0].attributes[c.GEN_AI_INPUT_MESSAGES]
    assert {s.trace_id for s in tracing.store().spans("e5")} == {chats[0].trace_id}
    assert all(s.task_id == "t5" for s in tracing.store().spans("e5"))


async def test_agent_error_is_recorded(tracing: TracingHandle) -> None:
    with pytest.raises(RuntimeError), tracing.agent_span("solver", episode_id="e6"):
        raise RuntimeError("agent crashed")
    root = tracing.store().spans("e6")[0]
    assert root.status_code == "ERROR" and root.attributes[c.ERROR_TYPE] == "RuntimeError"


class FanState(TypedDict):
    items: list[int]
    results: Annotated[list[str], operator.add]


class ItemState(TypedDict):
    item: int


async def test_langgraph_send_fanout_nests(
    scripted: ScriptedServer, client: TracedModelClient, tracing: TracingHandle
) -> None:
    scripted.responder = lambda body: Reply.text("ok")
    square = tracing.tool("square", lambda x: x * x)

    async def worker(state: ItemState) -> dict[str, Any]:
        with tracing.agent_span("worker", attributes={"item": state["item"]}):
            reply = await client.chat([{"role": "user", "content": str(state["item"])}])
            return {"results": [f"{reply.text}:{state['item']}"]}

    def sync_worker(state: ItemState) -> dict[str, Any]:
        with tracing.agent_span("sync-worker"):
            return {"results": [str(square(state["item"]))]}

    def fan_out(state: FanState) -> list[Send]:
        sends = [Send("worker", {"item": i}) for i in state["items"]]
        return sends + [Send("sync_worker", {"item": i}) for i in state["items"]]

    graph = StateGraph(FanState)
    graph.add_node("worker", worker)
    graph.add_node("sync_worker", sync_worker)
    graph.add_conditional_edges(START, fan_out, ["worker", "sync_worker"])
    graph.add_edge("worker", END)
    graph.add_edge("sync_worker", END)
    app = graph.compile()
    with tracing.agent_span("orchestrator", episode_id="e7") as root:
        out = await app.ainvoke({"items": [1, 2, 3], "results": []})
    assert sorted(out["results"]) == ["1", "4", "9", "ok:1", "ok:2", "ok:3"]
    spans = by_name(tracing.store().spans("e7"))
    root_id = format(root.get_span_context().span_id, "016x")
    workers = spans["invoke_agent worker"] + spans["invoke_agent sync-worker"]
    assert len(workers) == 6 and all(w.parent_id == root_id for w in workers)
    worker_ids = {w.span_id for w in workers}
    nested = spans["chat scripted"] + spans["execute_tool square"]
    assert len(nested) == 6 and all(s.parent_id in worker_ids for s in nested)
    assert sorted(w.attributes.get("item", 0) for w in workers) == [0, 0, 0, 1, 2, 3]

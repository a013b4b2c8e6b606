"""The transcript renderer and the pager."""

from __future__ import annotations

import re
from typing import Any

import pytest

from harness.models.types import ChatResult, Message, MessageLike, ReasoningPart, ToolCall, Usage
from harness.testing import Reply, ScriptedServer
from traces import TracedModelClient, TracingHandle, render_episode, render_page, render_spans

NEXT = re.compile(r"^… (\d+) more lines? — use --offset (\d+)$")


class SignedClient:
    """Test data: a ModelClient answering like Anthropic, with signed and redacted thinking."""

    model = "claude-test"
    provider = "anthropic"

    async def chat(self, messages: Any, tools: Any = None, **params: Any) -> ChatResult:
        return ChatResult(
            text="Done.",
            reasoning=[
                ReasoningPart(text="think step\nsecond step", signature="sig"),
                ReasoningPart(redacted_data="x" * 40),
            ],
            usage=Usage(input_tokens=11, output_tokens=22, reasoning_tokens=5),
            model=self.model,
            provider=self.provider,
        )

    async def aclose(self) -> None:
        return None


async def run_tool_loop(client: TracedModelClient, tracing: TracingHandle, result: str) -> None:
    tool = tracing.tool("lookup", lambda key: result)
    messages: list[MessageLike] = [
        Message(role="system", content="You answer with facts."),
        Message(role="user", content="What is the capital of France?"),
    ]
    with tracing.agent_span("solver", task_id="t1", episode_id="e1"):
        while True:
            reply = await client.chat(messages, tools=[{"name": "lookup"}])
            messages.append(reply.as_message())
            if not reply.tool_calls:
                return
            for call in reply.tool_calls:
                output = await tool.invoke(call)
                messages.append(Message(role="tool", content=output, tool_call_id=call.id))


async def test_transcript_shows_the_whole_episode(
    scripted: ScriptedServer, client: TracedModelClient, tracing: TracingHandle
) -> None:
    scripted.push(
        Reply.tool_call("lookup", {"key": "France"}, call_id="c1", reasoning="I should look it up"),
        Reply.text("Paris.", reasoning="The tool said Paris"),
    )
    await run_tool_loop(client, tracing, "capital=Paris")
    text = "\n".join(render_episode(tracing.store(), "e1"))
    order = [
        "== agent solver  episode=e1 task=t1",
        "-- chat scripted [vllm]  tokens in=",
        "system: You answer with facts.",
        "user: What is the capital of France?",
        "assistant reasoning: I should look it up",
        'assistant tool call lookup [c1]: {"key": "France"}',
        "-> tool lookup [c1]",
        'arguments: {"key": "France"}',
        "result: capital=Paris",
        "-- chat scripted [vllm]",
        "tool result [c1]: capital=Paris",
        "assistant reasoning: The tool said Paris",
        "assistant: Paris.",
    ]
    at = 0
    for item in order:  # each appears after the one before
        at = text.index(item, at) + len(item)
    assert text.count("What is the capital of France?") == 1  # history is not repeated
    assert text.count("system: ") == 1
    assert "finish=tool_call" in text and "finish=stop" in text


async def test_signed_and_redacted_reasoning_and_errors(tracing: TracingHandle) -> None:
    client = tracing.wrap_client(SignedClient())
    broken = tracing.tool("divide", lambda a, b: a / b)
    with tracing.agent_span("solver", episode_id="e2"):
        await client.chat([{"role": "user", "content": "go"}])
        with pytest.raises(ZeroDivisionError):
            await broken.invoke(ToolCall(id="c7", name="divide", arguments={"a": 1, "b": 0}))
    lines = render_spans(tracing.store().spans("e2"))
    text = "\n".join(lines)
    assert "assistant reasoning (signed): think step" in text
    assert any(line.strip() == "│ second step" for line in lines)
    assert "assistant redacted thinking: <40 chars>" in text
    assert "tokens in=11 out=22 reasoning=5" in text
    assert "!! ERROR ZeroDivisionError: ZeroDivisionError: division by zero" in text
    assert "!! traceback: Traceback (most recent call last):" in text


def test_render_page_markers() -> None:
    lines = [f"line {i}" for i in range(450)]
    first = render_page(lines, 0, 200).split("\n")
    assert first[-1] == "… 250 more lines — use --offset 200" and first[0] == "line 0"
    middle = render_page(lines, 200, 200).split("\n")
    assert middle[0] == "… 200 earlier lines — use --offset 0"
    assert middle[-1] == "… 50 more lines — use --offset 400"
    last = render_page(lines, 400, 200).split("\n")
    assert last[-1] == "line 449" and len(last) == 51
    assert "past the end" in render_page(lines, 999, 200)
    assert render_page([], 0, 10) == ""
    assert render_page(lines[:3], 0, 2).endswith("… 1 more line — use --offset 2")


def all_pages(lines: list[str], limit: int) -> list[str]:
    """Follow the pager's own markers to the end and return the content lines."""
    content: list[str] = []
    offset: int | None = 0
    while offset is not None:
        page = render_page(lines, offset, limit).split("\n")
        offset = None
        for line in page:
            match = NEXT.match(line)
            if match:
                offset = int(match.group(2))
            elif not line.startswith("… ") or "earlier lines" not in line:
                content.append(line)
    return content


async def test_huge_values_are_paged_not_lost(tracing: TracingHandle) -> None:
    big = "\n".join(f"row {i:05d}" for i in range(10_000))
    wide = "".join(str(i % 10) for i in range(50_000))
    dump = tracing.tool("dump", lambda: big)
    blob = tracing.tool("blob", lambda: wide)
    with tracing.agent_span("solver", episode_id="e3"):
        dump()
        blob()
    lines = render_spans(tracing.store().spans("e3"), width=120)
    assert all(len(line) <= 120 for line in lines)
    content = all_pages(lines, limit=500)
    assert content == lines
    rows = [line.strip().removeprefix("result: ").removeprefix("│ ")
            for line in content if "row " in line]
    assert rows == [f"row {i:05d}" for i in range(10_000)]
    start = next(i for i, line in enumerate(content) if "result: 0123" in line)
    pieces = [content[start].split("result: ", 1)[1]]
    pieces += [line.split("↳ ", 1)[1] for line in content[start + 1 :] if "↳ " in line]
    assert "".join(pieces) == wide

"""The `<tool_call>` text protocol and `call_with_tools` in its three modes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from harness.models.types import ChatResult, ToolCall
from harness.testing import Reply, ScriptedServer
from task_agents.lib.context import AgentContext
from task_agents.lib.text_tools import (
    TEXT_CALL_PREFIX,
    call_with_tools,
    followup_messages,
    parse_tool_calls,
    render_tools_prompt,
)

Episode = Callable[..., Awaitable[Any]]  # the `episode` fixture (tests/task_agents/conftest.py)
WEATHER = {"name": "get_weather", "description": "Weather for a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                          "required": ["city"]}}
USER = [{"role": "user", "content": "Weather in Paris?"}]


def named(calls: list[ToolCall]) -> list[tuple[str, dict[str, Any]]]:
    return [(call.name, call.arguments) for call in calls]


def test_parses_one_and_several_blocks() -> None:
    text = ('I will check.\n<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}'
            '</tool_call>\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Rome"}}\n'
            "</tool_call>")
    calls = parse_tool_calls(text)
    assert named(calls) == [("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Rome"})]
    assert [c.id for c in calls] == [f"{TEXT_CALL_PREFIX}0", f"{TEXT_CALL_PREFIX}1"]
    assert all(c.arguments_error is None for c in calls)


def test_parses_lists_string_arguments_python_literals_and_unclosed_blocks() -> None:
    listed = '<tool_call>[{"name": "a", "arguments": {}}, {"name": "b", "parameters": {"x": 1}}]'
    assert named(parse_tool_calls(listed)) == [("a", {}), ("b", {"x": 1})]
    as_string = '<tool_call>{"name": "a", "arguments": "{\\"x\\": 2}"}</tool_call>'
    assert named(parse_tool_calls(as_string)) == [("a", {"x": 2})]
    python = "<tool_call>{'name': 'a', 'arguments': {'flag': True, 'v': None}}</tool_call>"
    assert named(parse_tool_calls(python)) == [("a", {"flag": True, "v": None})]
    fenced = '<tool_call>\n```json\n{"name": "a", "arguments": {"x": 3}}\n```\n</tool_call>'
    assert named(parse_tool_calls(fenced)) == [("a", {"x": 3})]


def test_malformed_blocks_keep_the_name_and_report_the_error() -> None:
    calls = parse_tool_calls('<tool_call>{"name": "get_weather", "arguments": {"city": Par'
                             "</tool_call>")
    assert named(calls) == [("get_weather", {})]
    assert calls[0].arguments_error == "tool call is not valid JSON"
    wrong_args = parse_tool_calls('<tool_call>{"name": "f", "arguments": [1, 2]}</tool_call>')
    assert wrong_args[0].arguments_error == "arguments are list, not an object"
    assert parse_tool_calls("<tool_call>total garbage</tool_call>") == []
    assert parse_tool_calls('<tool_call>{"arguments": {}}</tool_call>') == []
    assert parse_tool_calls("") == []


def test_bare_json_fallback_and_the_names_filter() -> None:
    text = 'Call: {"name": "get_weather", "arguments": {"city": "Oslo"}} and {"answer": 3}'
    assert named(parse_tool_calls(text)) == [("get_weather", {"city": "Oslo"})]
    assert parse_tool_calls(text, names=["other"]) == []
    dotted = '{"name": "math.pow", "arguments": {"x": 2}}'
    assert named(parse_tool_calls(dotted, names=["math_pow"])) == [("math.pow", {"x": 2})]
    wire = '{"function": {"name": "get_weather", "arguments": "{\\"city\\": \\"Bern\\"}"}}'
    assert named(parse_tool_calls(wire)) == [("get_weather", {"city": "Bern"})]
    assert parse_tool_calls("The answer is {not json}.") == []


def test_render_tools_prompt_lists_every_tool_and_the_format() -> None:
    prompt = render_tools_prompt([WEATHER, {"type": "function", "function": {"name": "noop"}}])
    assert '"name": "get_weather"' in prompt and '"name": "noop"' in prompt
    assert '<tool_call>{"name": "<tool name>", "arguments":' in prompt


async def test_native_calls_are_used_as_is(scripted: ScriptedServer, episode: Episode) -> None:
    scripted.push(Reply.tool_call("get_weather", {"city": "Paris"}, call_id="c9"))

    async def body(ctx: AgentContext) -> ChatResult:
        return await call_with_tools(ctx, USER, [WEATHER], native=True)

    result = await episode(body)
    assert named(result.tool_calls) == [("get_weather", {"city": "Paris"})]
    assert result.tool_calls[0].id == "c9"
    assert scripted.requests[0]["tools"][0]["function"]["name"] == "get_weather"


async def test_auto_falls_back_to_calls_written_as_text(scripted: ScriptedServer,
                                                        episode: Episode) -> None:
    scripted.push(Reply.text('<tool_call>{"name": "get_weather", "arguments": {"city": "Rome"}}'
                             "</tool_call>"))

    async def body(ctx: AgentContext) -> list[Any]:
        result = await call_with_tools(ctx, USER, [WEATHER])
        return [m.model_dump() for m in followup_messages(result, ["sunny"])]

    assistant, reply = await episode(body)
    assert "tools" in scripted.requests[0]  # native first
    assert assistant["role"] == "assistant" and assistant["tool_calls"] == []
    assert reply["role"] == "user" and "sunny" in reply["content"]
    assert '<tool_response name="get_weather">' in reply["content"]


async def test_text_mode_puts_tools_in_the_system_prompt(scripted: ScriptedServer,
                                                         episode: Episode) -> None:
    scripted.push(Reply.text('{"name": "get_weather", "arguments": {"city": "Lima"}}'))
    messages = [{"role": "system", "content": "Be brief."}, *USER]

    async def body(ctx: AgentContext) -> ChatResult:
        return await call_with_tools(ctx, messages, [WEATHER], native=False)

    result = await episode(body)
    request = scripted.requests[0]
    assert "tools" not in request
    system = request["messages"][0]["content"]
    assert system.startswith("Be brief.") and "get_weather" in system
    assert named(result.tool_calls) == [("get_weather", {"city": "Lima"})]


async def test_auto_retries_with_text_when_tools_are_rejected(scripted: ScriptedServer,
                                                              episode: Episode) -> None:
    scripted.push(Reply.error(400, "tools not supported"),
                  Reply.text('<tool_call>{"name": "get_weather", "arguments": {}}</tool_call>'))

    async def body(ctx: AgentContext) -> ChatResult:
        return await call_with_tools(ctx, USER, [WEATHER])

    result = await episode(body)
    assert [("tools" in r) for r in scripted.requests] == [True, False]
    assert named(result.tool_calls) == [("get_weather", {})]


async def test_native_followup_uses_tool_messages(scripted: ScriptedServer,
                                                  episode: Episode) -> None:
    scripted.push(Reply.tool_call("get_weather", {"city": "Paris"}, call_id="c1"),
                  Reply.text("plain text, no call"))

    async def body(ctx: AgentContext) -> list[Any]:
        first = await call_with_tools(ctx, USER, [WEATHER])
        follow = followup_messages(first, ["rain"])
        second = await call_with_tools(ctx, [*USER, *follow], [WEATHER])
        return [follow, second]

    follow, second = await episode(body)
    assert [m.role for m in follow] == ["assistant", "tool"]
    assert follow[1].tool_call_id == "c1" and follow[1].content == "rain"
    assert second.tool_calls == [] and second.text == "plain text, no call"
    assert scripted.requests[1]["messages"][-1] == {"role": "tool", "tool_call_id": "c1",
                                                    "content": "rain"}


@pytest.mark.parametrize("reply", ["<tool_call>" + "[" * 5000, "[" * 5000, "{" * 100_000])
def test_absurd_nesting_is_not_a_call_and_not_a_crash(reply: str) -> None:
    import time

    started = time.monotonic()
    assert parse_tool_calls(reply) == []
    assert time.monotonic() - started < 2

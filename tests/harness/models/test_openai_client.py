"""OpenAIClient against the scripted server: parsing, request shape, retries, timeouts."""

from __future__ import annotations

import time

import pytest

from harness.errors import ModelRequestError, ModelUnavailableError
from harness.models import Message, OpenAIClient, ToolSpec
from harness.testing import Reply, ScriptedServer

WEATHER = ToolSpec(name="get_weather", description="Weather for a city",
                   parameters={"type": "object", "properties": {"city": {"type": "string"}}})


def client_for(server: ScriptedServer, **kwargs: object) -> OpenAIClient:
    options: dict = {"timeout_s": 5.0, "max_retries": 2} | kwargs
    return OpenAIClient(server.base_url, "scripted", **options)


async def test_plain_text_reply_and_usage(scripted: ScriptedServer) -> None:
    scripted.push(Reply.text("four"))
    result = await client_for(scripted).chat([{"role": "user", "content": "two plus two"}])
    assert result.text == "four"
    assert result.finish_reason == "stop"
    assert result.usage.input_tokens == 3 and result.usage.output_tokens == 1
    assert result.provider == "openai" and result.raw["object"] == "chat.completion"
    assert result.latency_s > 0


async def test_vllm_reasoning_field_is_read(scripted: ScriptedServer) -> None:
    scripted.push(Reply.text("42", reasoning="6 times 7 is 42"))
    result = await client_for(scripted).chat([{"role": "user", "content": "6*7?"}])
    assert result.text == "42"
    assert result.reasoning_text == "6 times 7 is 42"


async def test_inline_think_tags_become_reasoning(scripted: ScriptedServer) -> None:
    scripted.push(Reply.text("<think>add the units</think>\nThe answer is 5"))
    result = await client_for(scripted).chat([{"role": "user", "content": "2+3"}])
    assert result.text == "The answer is 5"
    assert result.reasoning_text == "add the units"


async def test_reply_indentation_is_kept(scripted: ScriptedServer) -> None:
    scripted.push(Reply.text("    return x + 1\n"), Reply.text("<think>hm</think>\n    return 2"))
    client = client_for(scripted)
    first = await client.chat([{"role": "user", "content": "body?"}])
    second = await client.chat([{"role": "user", "content": "body?"}])
    assert first.text == "    return x + 1\n"  # exactly as sent
    assert (second.text, second.reasoning_text) == ("    return 2", "hm")


async def test_tool_call_is_parsed_and_round_trips(scripted: ScriptedServer) -> None:
    scripted.push(Reply.tool_call("get_weather", {"city": "Paris"}, call_id="call_1"),
                  Reply.text("It is sunny in Paris."))
    client = client_for(scripted)
    messages: list[Message] = [Message(role="user", content="Weather in Paris?")]
    first = await client.chat(messages, tools=[WEATHER])
    assert first.finish_reason == "tool_call"
    [call] = first.tool_calls
    assert (call.id, call.name, call.arguments) == ("call_1", "get_weather", {"city": "Paris"})
    messages += [first.as_message(),
                 Message(role="tool", tool_call_id="call_1", name="get_weather", content="sunny")]
    second = await client.chat(messages, tools=[WEATHER])
    assert second.text == "It is sunny in Paris."
    sent = scripted.requests[1]
    assert sent["tools"][0]["function"]["name"] == "get_weather"
    assert sent["messages"][1]["tool_calls"][0]["function"]["arguments"] == '{"city": "Paris"}'
    assert sent["messages"][2] == {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}


async def test_malformed_tool_arguments_are_reported_not_raised(scripted: ScriptedServer) -> None:
    scripted.push(Reply.tool_call("get_weather", '{"city": Paris'))
    result = await client_for(scripted).chat([{"role": "user", "content": "x"}], tools=[WEATHER])
    [call] = result.tool_calls
    assert call.arguments == {}
    assert call.raw_arguments == '{"city": Paris'
    assert call.arguments_error and "not valid JSON" in call.arguments_error


async def test_sampling_params_and_extras_reach_the_server(scripted: ScriptedServer) -> None:
    scripted.push(Reply.text("ok"))
    await client_for(scripted).chat([{"role": "user", "content": "x"}], temperature=0.2,
                                    max_tokens=7, top_k=5)
    body = scripted.requests[0]
    assert (body["temperature"], body["max_tokens"], body["top_k"]) == (0.2, 7, 5)


async def test_429_is_retried_honouring_retry_after(scripted: ScriptedServer) -> None:
    scripted.push(Reply.error(429, "slow down", **{"retry-after-ms": "20"}), Reply.text("done"))
    result = await client_for(scripted).chat([{"role": "user", "content": "x"}])
    assert result.text == "done"
    assert len(scripted.requests) == 2


async def test_500_then_success_is_retried(scripted: ScriptedServer) -> None:
    scripted.push(Reply.error(500, **{"retry-after-ms": "10"}),
                  Reply.error(503, **{"retry-after-ms": "10"}), Reply.text("finally"))
    result = await client_for(scripted).chat([{"role": "user", "content": "x"}])
    assert result.text == "finally"
    assert len(scripted.requests) == 3


async def test_persistent_500_raises_unavailable_after_retries(scripted: ScriptedServer) -> None:
    scripted.push(*[Reply.error(500, "boom", **{"retry-after-ms": "10"})] * 3)
    with pytest.raises(ModelUnavailableError, match="HTTP 500"):
        await client_for(scripted).chat([{"role": "user", "content": "x"}])
    assert len(scripted.requests) == 3  # first try + 2 retries


@pytest.mark.parametrize("status", [400, 401, 404])
async def test_permanent_errors_are_not_retried(scripted: ScriptedServer, status: int) -> None:
    scripted.push(Reply.error(status, "no such model"), Reply.text("never sent"))
    with pytest.raises(ModelRequestError, match="no such model") as caught:
        await client_for(scripted).chat([{"role": "user", "content": "x"}])
    assert caught.value.status_code == status
    assert len(scripted.requests) == 1


async def test_hanging_server_times_out(scripted: ScriptedServer) -> None:
    scripted.push(Reply.hang(), Reply.hang())
    started = time.monotonic()
    with pytest.raises(ModelUnavailableError, match="timed out"):
        await client_for(scripted, timeout_s=0.3, max_retries=1).chat(
            [{"role": "user", "content": "x"}])
    assert time.monotonic() - started < 5
    assert len(scripted.requests) == 2


async def test_unreachable_server_is_unavailable(port: int) -> None:
    client = OpenAIClient(f"http://127.0.0.1:{port}/v1", "m", timeout_s=1, max_retries=0)
    with pytest.raises(ModelUnavailableError, match="unreachable"):
        await client.chat([{"role": "user", "content": "x"}])


async def test_list_models(scripted: ScriptedServer) -> None:
    assert await client_for(scripted).list_models() == ["scripted"]

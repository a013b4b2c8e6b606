"""AnthropicClient against a mocked Messages API: the SDK's HTTP stack runs for real, only the
transport is replaced (`httpx2.MockTransport`). Payloads follow the shape the API returns."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import anthropic
import httpx2
import pytest

from harness.errors import ConfigError, ModelRequestError, ModelUnavailableError
from harness.models.anthropic_client import AnthropicClient, thinking_config, thinking_mode
from harness.models.types import Message, MessageLike, ModelClient, ToolLike, ToolSpec

SIGNATURE = "ErUBCkYIBRgCIkB+9q/Zp1mYtq3mGQ3T6yQ==\u00e9/+=" * 3
REDACTED = "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP=="
TOOL_ID = "toolu_01A09q90qw90lq917835lq9"

THINKING_RESPONSE: dict[str, Any] = {
    "id": "msg_01Aq9w938a90dw8q",
    "type": "message",
    "role": "assistant",
    "model": "claude-opus-4-7",
    "content": [
        {
            "type": "thinking",
            "thinking": "The user wants Paris weather — call get_weather.\n  Keep units metric.",
            "signature": SIGNATURE,
        },
        {"type": "redacted_thinking", "data": REDACTED},
        {"type": "text", "text": "Let me check.", "citations": None},
        {
            "type": "tool_use",
            "id": TOOL_ID,
            "name": "get_weather",
            "input": {"location": "Paris, France", "units": ["c", 1, None]},
            "caller": {"type": "direct"},
        },
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 412,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": 180,
        "output_tokens_details": {"thinking_tokens": 120},
        "service_tier": "standard",
    },
}


def text_response(text: str = "Hello!", stop_reason: str = "end_turn", **usage: int) -> dict:
    return {
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-6",
        "content": [{"type": "text", "text": text}],
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 6, **usage},
    }


def api_error(status: int, kind: str, message: str) -> tuple[int, dict, dict[str, str]]:
    body = {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_1"}
    return status, body, {"retry-after-ms": "1"}


OVERLOADED = api_error(529, "overloaded_error", "Overloaded")


class FakeAPI:
    """Answers each request with the next scripted reply (the last one repeats)."""

    def __init__(self, *replies: Any) -> None:
        self.replies = list(replies)
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[httpx2.Headers] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.bodies.append(json.loads(request.content))
        self.headers.append(request.headers)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if isinstance(reply, Exception):
            raise reply
        if isinstance(reply, tuple):
            status, body, headers = reply
            return httpx2.Response(status, json=body, headers=headers)
        return httpx2.Response(200, json=reply)

    @property
    def calls(self) -> int:
        return len(self.bodies)


MakeClient = Callable[..., AnthropicClient]


@pytest.fixture
async def make_client() -> AsyncIterator[MakeClient]:
    clients: list[AnthropicClient] = []

    def make(api: FakeAPI, model: str = "claude-sonnet-4-6", **kwargs: Any) -> AnthropicClient:
        kwargs.setdefault("api_key", "sk-ant-test")
        transport = httpx2.MockTransport(api)
        client = AnthropicClient(
            model,
            base_url="https://api.anthropic.test",
            http_client=httpx2.AsyncClient(transport=transport),
            **kwargs,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


# 1. Tool loop with thinking: the assistant turn goes back exactly as it came.


async def test_tool_loop_replays_thinking_blocks_verbatim(make_client: MakeClient) -> None:
    api = FakeAPI(copy.deepcopy(THINKING_RESPONSE), text_response("It is 18 °C in Paris."))
    client = make_client(api, model="claude-opus-4-7")
    tools: list[ToolLike] = [ToolSpec(name="get_weather", parameters={"type": "object"})]
    messages: list[MessageLike] = [Message(role="user", content="Weather in Paris?")]

    first = await client.chat(messages, tools=tools)
    assert first.finish_reason == "tool_call"
    assert [(c.id, c.name) for c in first.tool_calls] == [(TOOL_ID, "get_weather")]
    assert first.tool_calls[0].arguments == {"location": "Paris, France", "units": ["c", 1, None]}
    assert json.loads(first.tool_calls[0].raw_arguments) == first.tool_calls[0].arguments
    assert first.reasoning[0].signature == SIGNATURE
    assert first.reasoning[1].redacted_data == REDACTED
    assert first.text == "Let me check."

    messages += [
        first.as_message(),
        Message(role="tool", tool_call_id=TOOL_ID, name="get_weather", content="18 C, sunny"),
    ]
    second = await client.chat(messages, tools=tools)
    assert second.text == "It is 18 °C in Paris."

    sent = api.bodies[1]["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    received = THINKING_RESPONSE["content"]
    assert sent[1]["content"] == received
    assert json.dumps(sent[1]["content"]) == json.dumps(received)  # same keys, order, nulls
    assert sent[1]["content"][0]["signature"] == SIGNATURE
    assert sent[1]["content"][1]["data"] == REDACTED
    assert sent[2]["content"] == [
        {"type": "tool_result", "tool_use_id": TOOL_ID, "content": "18 C, sunny"}
    ]
    assert (
        isinstance(messages[1], Message) and messages[1].provider_content == received
    )  # the caller's history is untouched


async def test_assistant_turn_without_provider_content_is_rebuilt(make_client: MakeClient) -> None:
    api = FakeAPI(copy.deepcopy(THINKING_RESPONSE), text_response())
    client = make_client(api)
    first = await client.chat([Message(role="user", content="hi")])
    foreign = first.as_message().model_copy(update={"provider_content": None})
    results = [
        Message(role="tool", tool_call_id=TOOL_ID, content="a"),
        Message(role="user", content="and then?"),
    ]
    await client.chat([Message(role="user", content="hi"), foreign, *results])

    assistant = api.bodies[1]["messages"][1]["content"]
    assert [b["type"] for b in assistant] == ["thinking", "redacted_thinking", "text", "tool_use"]
    assert assistant[0]["signature"] == SIGNATURE
    assert assistant[3] == {
        "type": "tool_use",
        "id": TOOL_ID,
        "name": "get_weather",
        "input": {"location": "Paris, France", "units": ["c", 1, None]},
    }
    user = api.bodies[1]["messages"][2]
    assert [b["type"] for b in user["content"]] == ["tool_result", "text"]


async def test_other_providers_content_is_not_replayed(make_client: MakeClient) -> None:
    api = FakeAPI(text_response())
    client = make_client(api)
    other = Message(
        role="assistant",
        content="done",
        provider="openai",
        provider_content=[{"role": "assistant", "content": "done"}],
    )
    await client.chat(
        [Message(role="user", content="hi"), other, {"role": "user", "content": "ok"}]
    )
    assert api.bodies[0]["messages"][1]["content"] == [{"type": "text", "text": "done"}]


# 2. Parsing, system prompt, tools and parameters.


async def test_parses_text_usage_and_places_system(make_client: MakeClient) -> None:
    response = text_response(cache_read_input_tokens=100, cache_creation_input_tokens=20)
    response["content"].append({"type": "text", "text": " World"})
    api = FakeAPI(response)
    client = make_client(api)
    assert isinstance(client, ModelClient)
    result = await client.chat(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "system", "content": "Answer in English."},
        ]
    )
    assert result.text == "Hello! World"
    assert result.finish_reason == "stop"
    assert (result.model, result.provider) == ("claude-sonnet-4-6", "anthropic")
    assert result.usage.input_tokens == 132  # uncached + cache read + cache write
    assert (result.usage.cache_read_tokens, result.usage.cache_creation_tokens) == (100, 20)
    assert (result.usage.output_tokens, result.usage.reasoning_tokens) == (6, 0)
    assert result.raw == response
    assert result.latency_s > 0
    body = api.bodies[0]
    assert body["system"] == "Be brief.\n\nAnswer in English."
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]
    assert "thinking" in body and body["max_tokens"] == 4096


async def test_thinking_tokens_are_reported(make_client: MakeClient) -> None:
    client = make_client(FakeAPI(copy.deepcopy(THINKING_RESPONSE)))
    result = await client.chat([Message(role="user", content="hi")])
    assert (result.usage.output_tokens, result.usage.reasoning_tokens) == (180, 120)
    assert result.reasoning_text.startswith("The user wants Paris weather")


@pytest.mark.parametrize(
    ("stop_reason", "expected"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_call"),
        ("refusal", "content_filter"),
        ("pause_turn", "other"),
    ],
)
async def test_finish_reasons(make_client: MakeClient, stop_reason: str, expected: str) -> None:
    client = make_client(FakeAPI(text_response(stop_reason=stop_reason)))
    result = await client.chat([Message(role="user", content="hi")])
    assert result.finish_reason == expected


async def test_tools_and_params_translation(make_client: MakeClient) -> None:
    api = FakeAPI(text_response())
    client = make_client(api, thinking="off")
    schema = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}
    tools: list[Any] = [
        ToolSpec(name="search", description="Search the web", parameters=schema),
        {"type": "function", "function": {"name": "noop", "parameters": {"type": "object"}}},
    ]
    await client.chat(
        [Message(role="user", content="hi")],
        tools=tools,
        temperature=0.2,
        max_tokens=100,
        top_k=5,
        stop="END",
        seed=7,
        top_p=None,
        service_tier="standard_only",
        context_management={"edits": []},
    )
    body = api.bodies[0]
    assert body["tools"] == [
        {"name": "search", "input_schema": schema, "description": "Search the web"},
        {"name": "noop", "input_schema": {"type": "object"}},
    ]
    assert (body["temperature"], body["max_tokens"], body["top_k"]) == (0.2, 100, 5)
    assert body["stop_sequences"] == ["END"]
    assert body["service_tier"] == "standard_only"
    assert body["context_management"] == {"edits": []}  # unknown: passed through as extra body
    for absent in ("seed", "top_p", "stop", "thinking", "system"):
        assert absent not in body


# 3. Thinking configuration per model.


@pytest.mark.parametrize(
    ("model", "mode"),
    [
        ("claude-opus-4-7", "adaptive"),
        ("claude-sonnet-4-6", "adaptive"),
        ("claude-opus-4-6", "adaptive"),
        ("claude-opus-5", "adaptive"),
        ("claude-haiku-5-5", "adaptive"),
        ("claude-mythos-preview", "adaptive"),
        ("us.anthropic.claude-opus-4-7-v1:0", "adaptive"),
        ("claude-sonnet-4-5-20250929", "budget"),
        ("claude-opus-4-1@20250805", "budget"),
        ("claude-sonnet-4-20250514", "budget"),
        ("claude-3-7-sonnet-20250219", "budget"),
        ("claude-3-5-haiku-latest", "none"),
        ("claude-3-haiku-20240307", "none"),
        ("gpt-4o", "none"),
    ],
)
def test_thinking_mode_table(model: str, mode: str) -> None:
    assert thinking_mode(model) == mode


@pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning")
@pytest.mark.parametrize(
    ("model", "setting", "expected"),
    [
        ("claude-opus-4-7", "auto", {"type": "adaptive", "display": "summarized"}),
        ("claude-3-5-haiku-latest", "auto", None),
        ("claude-sonnet-4-5", "auto", None),
        ("claude-sonnet-4-5", 2048, {"type": "enabled", "budget_tokens": 2048}),
        ("claude-opus-4-7", "off", None),
        ("claude-3-5-haiku-latest", "adaptive", {"type": "adaptive", "display": "summarized"}),
    ],
)
async def test_thinking_sent_per_model(
    make_client: MakeClient, model: str, setting: Any, expected: Any
) -> None:
    api = FakeAPI(text_response())
    await make_client(api, model=model, thinking=setting).chat([Message(role="user", content="x")])
    assert api.bodies[0].get("thinking") == expected


async def test_thinking_can_be_overridden_per_call(make_client: MakeClient) -> None:
    api = FakeAPI(text_response())
    client = make_client(api, model="claude-opus-4-7")
    await client.chat([Message(role="user", content="x")], thinking={"type": "disabled"})
    assert api.bodies[0]["thinking"] == {"type": "disabled"}


@pytest.mark.parametrize("bad", [100, True, "on"])
def test_bad_thinking_setting_is_a_config_error(bad: Any) -> None:
    with pytest.raises(ConfigError):
        thinking_config("claude-opus-4-7", bad)


# 4. Retries and errors.


@pytest.mark.parametrize(
    "failures",
    [
        [OVERLOADED, api_error(500, "api_error", "Internal server error")],
        [api_error(429, "rate_limit_error", "Number of request tokens has exceeded your limit")],
    ],
)
async def test_transient_errors_are_retried(make_client: MakeClient, failures: list) -> None:
    api = FakeAPI(*failures, text_response("finally"))
    result = await make_client(api, max_retries=3).chat([Message(role="user", content="hi")])
    assert result.text == "finally"
    assert api.calls == len(failures) + 1
    assert [h["x-stainless-retry-count"] for h in api.headers] == [str(n) for n in range(api.calls)]


async def test_exhausted_retries_raise_unavailable(make_client: MakeClient) -> None:
    api = FakeAPI(OVERLOADED)
    with pytest.raises(ModelUnavailableError, match=r"claude-sonnet-4-6.*529") as caught:
        await make_client(api, max_retries=2).chat([Message(role="user", content="hi")])
    assert api.calls == 3
    assert isinstance(caught.value.__cause__, anthropic.APIStatusError)


@pytest.mark.parametrize(
    "failure",
    [httpx2.ConnectError("connection refused"), httpx2.ReadTimeout("timed out")],
)
async def test_connection_failures_raise_unavailable(
    make_client: MakeClient, failure: Exception
) -> None:
    api = FakeAPI(failure)
    with pytest.raises(ModelUnavailableError) as caught:
        await make_client(api, max_retries=0).chat([Message(role="user", content="hi")])
    assert isinstance(caught.value.__cause__, anthropic.APIConnectionError)
    assert api.calls == 1


@pytest.mark.parametrize(
    "failure",
    [
        api_error(401, "authentication_error", "invalid x-api-key"),
        api_error(404, "not_found_error", "model: claude-nope"),
        api_error(400, "invalid_request_error", "thinking.type.enabled is not supported\nfor it"),
    ],
)
async def test_permanent_errors_are_not_retried(make_client: MakeClient, failure: tuple) -> None:
    api = FakeAPI(failure)
    with pytest.raises(ModelRequestError) as caught:
        await make_client(api, max_retries=3).chat([Message(role="user", content="hi")])
    assert api.calls == 1
    assert caught.value.status_code == failure[0]
    message = str(caught.value)
    assert "claude-sonnet-4-6" in message and failure[1]["error"]["message"][:10] in message
    assert "\n" not in message


async def test_missing_api_key_is_a_request_error(
    make_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    api = FakeAPI(text_response())
    with pytest.raises(ModelRequestError, match="no API key"):
        await make_client(api, api_key=None).chat([Message(role="user", content="hi")])
    assert api.calls == 0


async def test_tool_message_without_id_is_rejected(make_client: MakeClient) -> None:
    api = FakeAPI(text_response())
    with pytest.raises(ModelRequestError, match="tool_call_id"):
        await make_client(api).chat([Message(role="tool", content="orphan")])
    assert api.calls == 0

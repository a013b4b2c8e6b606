"""`ModelClient` for the Anthropic Messages API (the `anthropic` SDK).

Rules:
- Thinking blocks survive a tool loop byte for byte: `ChatResult.provider_content` is the
  `content` array of the HTTP response body as parsed JSON (never re-serialised from SDK
  models), and an assistant `Message` whose `provider == "anthropic"` sends that array back
  unchanged. Without it the turn is rebuilt from reasoning parts (when they carry a signature
  or redacted data), text and tool calls.
- Retries (429, 408, 409, 5xx, connection errors, timeouts) are the SDK's own, with its
  backoff and jitter and `retry-after(-ms)` honoured; when they run out the client raises
  `ModelUnavailableError`. Any other HTTP error raises `ModelRequestError` at once.
- `Usage.input_tokens` counts every input token (uncached + cache read + cache write), as the
  GenAI conventions ask, so it compares with OpenAI's `prompt_tokens`; the cache parts are
  also reported on their own.
- Thinking per model (`thinking="auto"`), from `thinking_mode()` and `_FAMILY_TABLE`:
  adaptive for Claude 4.6+ and the 5 family; the budget form only when `thinking` is an int
  (the only form Claude 3.7 and 4.0-4.5 accept; 4.7+ reject it with a 400); none otherwise.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from typing import Any, Literal

import anthropic
import httpx2

from harness.errors import ConfigError, ModelRequestError, ModelUnavailableError
from harness.models.types import (
    ChatResult,
    FinishReason,
    Message,
    MessageLike,
    ReasoningPart,
    ToolCall,
    ToolLike,
    Usage,
    to_messages,
    to_tools,
)

PROVIDER = "anthropic"
ThinkingSetting = Literal["auto", "adaptive", "off"] | int
ThinkingMode = Literal["adaptive", "budget", "none"]

# Model families by (major, minor) version, newest first: the first row whose version is <=
# the model's decides what `thinking="auto"` may send. Older models have no thinking.
_FAMILY_TABLE: tuple[tuple[tuple[int, int], ThinkingMode], ...] = (
    ((4, 6), "adaptive"),  # Claude 4.6, 4.7, 4.8 and the 5 family (4.7+ reject budget_tokens)
    ((3, 7), "budget"),  # claude-3-7-sonnet, Claude 4.0-4.5: budget_tokens only
)
_NAMED_MODELS: dict[str, ThinkingMode] = {"claude-mythos-preview": "adaptive"}
# "claude-3-7-sonnet-…", "claude-3-haiku-…" | "claude-opus-4-7", "claude-sonnet-4-20250514",
# also inside Bedrock/Vertex ids ("us.anthropic.claude-opus-4-1-20250805-v1:0").
_VERSION_RE = re.compile(
    r"claude-(?:(?P<omaj>\d)(?:-(?P<omin>\d))?-[a-z]+|[a-z]+-(?P<maj>\d{1,2})(?:-(?P<min>\d{1,2}))?)(?!\d)"
)
_ADAPTIVE: dict[str, Any] = {"type": "adaptive", "display": "summarized"}
_MIN_BUDGET = 1024
_SETTINGS = ("auto", "adaptive", "off")

_FINISH: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_call",
    "refusal": "content_filter",
}
# Body fields the SDK (2.12) takes as arguments; temperature, top_p, top_k and anything else
# go in as `extra_body`, which lands at the top level of the same JSON body.
_SDK_PARAMS = {"max_tokens", "metadata", "tool_choice", "output_config", "service_tier"}
_DROPPED_PARAMS = {"seed"}  # the Messages API has none; dropped so one config fits all providers
_RETRYABLE_STATUS = {408, 409, 429}


def model_version(model: str) -> tuple[int, int] | None:
    """(major, minor) of a Claude model id, or None when the id names no version."""
    found = _VERSION_RE.search(model)
    if found is None:
        return None
    major = found["omaj"] or found["maj"]
    minor = found["omin"] or found["min"] or "0"
    return int(major), int(minor)


def thinking_mode(model: str) -> ThinkingMode:
    """The thinking form a model takes: adaptive, budget (needs an explicit budget) or none."""
    for name, mode in _NAMED_MODELS.items():
        if name in model:
            return mode
    version = model_version(model)
    if version is None:
        return "none"
    return next((mode for first, mode in _FAMILY_TABLE if version >= first), "none")


def thinking_config(model: str, thinking: ThinkingSetting) -> dict[str, Any] | None:
    """The `thinking=` request field for a model and setting, or None to send none."""
    if isinstance(thinking, int) and not isinstance(thinking, bool) and thinking >= _MIN_BUDGET:
        return {"type": "enabled", "budget_tokens": thinking}
    if thinking not in _SETTINGS or isinstance(thinking, int):
        raise ConfigError(
            "thinking", f"expected auto, adaptive, off or an int >= {_MIN_BUDGET}, got {thinking!r}"
        )
    if thinking == "adaptive" or (thinking == "auto" and thinking_mode(model) == "adaptive"):
        return dict(_ADAPTIVE)
    return None


class AnthropicClient:
    """Calls Claude through `anthropic.AsyncAnthropic`; satisfies `ModelClient`."""

    provider = PROVIDER

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout_s: float = 300.0,
        max_retries: int = 4,
        thinking: ThinkingSetting = "auto",
        max_tokens: int = 4096,
        http_client: httpx2.AsyncClient | None = None,
    ) -> None:
        self.model = model
        self.max_tokens = max_tokens
        self.thinking = thinking_config(model, thinking)
        self._timeout_s = timeout_s
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout_s,
            max_retries=max_retries,
            http_client=http_client,
        )

    async def chat(
        self, messages: Sequence[MessageLike], tools: Sequence[ToolLike] | None = None,
        **params: Any,
    ) -> ChatResult:
        """One Messages API call. `params` may carry `thinking` (a wire dict) to override the
        client's thinking config for this call; `seed` is dropped, unknown keys go in the body."""
        system, wire = to_wire_messages(to_messages(messages))
        request = self._request(wire, system, tools, params)
        started = time.monotonic()
        try:
            raw = await self._client.messages.with_raw_response.create(**request)
            parsed = await raw.parse()
            body = await raw.json()
        except anthropic.APIStatusError as err:
            raise self._status_error(err) from err
        except anthropic.APIConnectionError as err:
            raise ModelUnavailableError(f"anthropic model {self.model!r}: {err}") from err
        except TypeError as err:  # the SDK's "Could not resolve authentication method"
            if "authentication" not in str(err):
                raise
            raise ModelRequestError(f"anthropic model {self.model!r}: no API key ({err})") from err
        if not isinstance(body, dict):
            raise ModelUnavailableError(f"anthropic model {self.model!r}: body is not an object")
        return to_result(parsed, body, latency_s=time.monotonic() - started)

    async def aclose(self) -> None:
        await self._client.close()

    def _request(
        self,
        wire: list[dict[str, Any]],
        system: str | None,
        tools: Sequence[ToolLike] | None,
        params: dict[str, Any],
    ) -> dict[str, Any]:
        params = {k: v for k, v in params.items() if v is not None and k not in _DROPPED_PARAMS}
        request: dict[str, Any] = {
            "model": self.model,
            "messages": wire,
            "max_tokens": self.max_tokens,
            "timeout": self._timeout_s,
        }
        request.update({k: params.pop(k) for k in _SDK_PARAMS & params.keys()})
        thinking = params.pop("thinking", self.thinking)
        if thinking is not None:
            request["thinking"] = thinking
        if "stop" in params:
            stop = params.pop("stop")
            request["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
        if system:
            request["system"] = system
        if tools:
            request["tools"] = to_wire_tools(tools)
        if params:
            request["extra_body"] = params
        return request

    def _status_error(self, err: anthropic.APIStatusError) -> Exception:
        status = err.status_code
        detail = _error_detail(err)
        message = f"anthropic model {self.model!r}: HTTP {status}: {detail}"
        if status in _RETRYABLE_STATUS or status >= 500:
            return ModelUnavailableError(f"{message} (retries exhausted)")
        return ModelRequestError(message, status_code=status)


def _error_detail(err: anthropic.APIStatusError) -> str:
    body = err.body
    error = body.get("error") if isinstance(body, dict) else None
    detail = error.get("message") if isinstance(error, dict) else None
    return " ".join(str(detail or err.message).split())


def to_wire_tools(tools: Sequence[ToolLike]) -> list[dict[str, Any]]:
    wire = []
    for spec in to_tools(tools):
        tool: dict[str, Any] = {"name": spec.name, "input_schema": spec.parameters}
        if spec.description:
            tool["description"] = spec.description
        wire.append(tool)
    return wire


def to_wire_messages(messages: list[Message]) -> tuple[str | None, list[dict[str, Any]]]:
    """Neutral messages → (system prompt, Messages API `messages`). Consecutive user-side
    turns (tool results, user text) merge into one user message, tool results first."""
    system = "\n\n".join(m.content for m in messages if m.role == "system" and m.content)
    wire: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "assistant":
            wire.append({"role": "assistant", "content": _assistant_content(message)})
        elif message.role != "system":
            block = _user_block(message)
            if wire and wire[-1]["role"] == "user":
                wire[-1]["content"].append(block)
            else:
                wire.append({"role": "user", "content": [block]})
    return system or None, wire


def _user_block(message: Message) -> dict[str, Any]:
    if message.role == "user":
        return {"type": "text", "text": message.content}
    if not message.tool_call_id:
        raise ModelRequestError("a tool message has no tool_call_id; it cannot be sent")
    return {"type": "tool_result", "tool_use_id": message.tool_call_id, "content": message.content}


def _assistant_content(message: Message) -> list[dict[str, Any]] | str:
    if message.provider_content is not None and message.provider == PROVIDER:
        return message.provider_content  # verbatim: signatures must come back unchanged
    blocks = [_reasoning_block(p) for p in message.reasoning if p.signature or p.redacted_data]
    if message.content:
        blocks.append({"type": "text", "text": message.content})
    blocks += [
        {"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}
        for c in message.tool_calls
    ]
    return blocks or message.content


def _reasoning_block(part: ReasoningPart) -> dict[str, Any]:
    if part.redacted_data:
        return {"type": "redacted_thinking", "data": part.redacted_data}
    return {"type": "thinking", "thinking": part.text, "signature": part.signature}


def to_result(
    msg: anthropic.types.Message, body: dict[str, Any], *, latency_s: float
) -> ChatResult:
    """A parsed response (`msg`) and its JSON body → `ChatResult`."""
    text, reasoning, calls = [], [], []
    for block in msg.content:
        if isinstance(block, anthropic.types.TextBlock):
            text.append(block.text)
        elif isinstance(block, anthropic.types.ThinkingBlock):
            reasoning.append(ReasoningPart(text=block.thinking, signature=block.signature))
        elif isinstance(block, anthropic.types.RedactedThinkingBlock):
            reasoning.append(ReasoningPart(redacted_data=block.data))
        elif isinstance(block, anthropic.types.ToolUseBlock):
            calls.append(_tool_call(block))
    return ChatResult(
        text="".join(text),
        reasoning=reasoning,
        tool_calls=calls,
        usage=_usage(msg.usage),
        finish_reason=_FINISH.get(msg.stop_reason or "", "other"),
        model=msg.model,
        provider=PROVIDER,
        latency_s=latency_s,
        raw=body,
        provider_content=body["content"],
    )


def _tool_call(block: anthropic.types.ToolUseBlock) -> ToolCall:
    raw = json.dumps(block.input, ensure_ascii=False)
    if isinstance(block.input, dict):
        return ToolCall(id=block.id, name=block.name, arguments=block.input, raw_arguments=raw)
    error = f"tool input is {type(block.input).__name__}, not a JSON object"
    return ToolCall(id=block.id, name=block.name, raw_arguments=raw, arguments_error=error)


def _usage(usage: anthropic.types.Usage) -> Usage:
    cache_read = usage.cache_read_input_tokens or 0
    cache_creation = usage.cache_creation_input_tokens or 0
    details = usage.output_tokens_details
    return Usage(
        input_tokens=usage.input_tokens + cache_read + cache_creation,
        output_tokens=usage.output_tokens,
        reasoning_tokens=details.thinking_tokens if details else 0,
        cache_read_tokens=cache_read,
        cache_creation_tokens=cache_creation,
    )

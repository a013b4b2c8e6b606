"""`ModelClient` for any OpenAI-compatible chat endpoint: vLLM, llama.cpp's server, OpenAI.

Retries with exponential backoff and jitter are the `openai` SDK's own (it honours
`retry-after` / `retry-after-ms`); this module maps what is left after them onto our two error
classes and normalises responses. Reasoning arrives three ways, all read here: vLLM's
`message.reasoning`, the older `reasoning_content`, and `<think>…</think>` inline in the
content (llama.cpp does not split it out).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from typing import Any

import httpx
import openai

from harness.errors import ModelRequestError, ModelUnavailableError
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

_THINK = re.compile(r"<think>(.*?)(?:</think>|$)", re.DOTALL)
_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_call",
    "function_call": "tool_call",
    "content_filter": "content_filter",
}
_DIRECT_PARAMS = {
    "temperature", "top_p", "max_tokens", "max_completion_tokens", "seed", "stop", "n",
    "presence_penalty", "frequency_penalty", "tool_choice", "parallel_tool_calls",
    "response_format", "logprobs", "top_logprobs",
}


class OpenAIClient:
    """Chat with an OpenAI-compatible server. `provider` names it in traces (vllm, llama.cpp…)."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout_s: float = 300.0,
        max_retries: int = 4,
        provider: str = "openai",
    ) -> None:
        self.model = model
        self.provider = provider
        self.base_url = base_url
        # Local servers ignore the key, but the SDK insists on one.
        self._sdk = openai.AsyncOpenAI(
            base_url=base_url, api_key=api_key or "not-needed", timeout=timeout_s,
            max_retries=max_retries,
        )

    async def chat(
        self, messages: Sequence[MessageLike], tools: Sequence[ToolLike] | None = None,
        **params: Any,
    ) -> ChatResult:
        request = self._request(to_messages(messages), tools, params)
        started = time.perf_counter()
        try:
            response = await self._sdk.chat.completions.create(**request)
        except openai.APIError as error:
            raise _translate(error, self.model, self.base_url) from error
        return _parse(response.model_dump(), self.provider, time.perf_counter() - started)

    async def list_models(self) -> list[str]:
        try:
            page = await self._sdk.models.list()
        except openai.APIError as error:
            raise _translate(error, self.model, self.base_url) from error
        return [model.id for model in page.data]

    async def alive(self, timeout_s: float = 5.0) -> bool:
        """Whether the server answers HTTP now, asked so that no completion slot is needed.

        GET /health on a fresh connection with its own timeout. vLLM answers 200 (a 5xx when
        its engine died); llama.cpp's server has no such route and answers 404 at once, even
        mid-completion, where its /v1/models waits for the running completion. Any answer
        below 500 means the server is up.
        """
        root = self.base_url.rstrip("/").removesuffix("/v1")
        try:
            async with httpx.AsyncClient(timeout=timeout_s) as http:
                response = await http.get(f"{root}/health")
        except httpx.HTTPError:
            return False
        return response.status_code < 500

    async def aclose(self) -> None:
        await self._sdk.close()

    def _request(
        self, messages: list[Message], tools: Sequence[ToolLike] | None, params: dict[str, Any]
    ) -> dict[str, Any]:
        request: dict[str, Any] = {
            "model": self.model,
            "messages": [_wire_message(m) for m in messages],
        }
        specs = to_tools(tools)
        if specs:
            request["tools"] = [{"type": "function", "function": s.model_dump()} for s in specs]
        extra = {k: v for k, v in params.items() if k not in _DIRECT_PARAMS}
        request.update({k: v for k, v in params.items() if k in _DIRECT_PARAMS})
        if extra:
            request["extra_body"] = extra
        return request


def _wire_message(message: Message) -> dict[str, Any]:
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id or "",
                "content": message.content}
    wire: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.role == "assistant" and message.tool_calls:
        # "" rather than null: llama.cpp's server rejects null content (OpenAI accepts both).
        wire["content"] = message.content
        wire["tool_calls"] = [
            {"id": call.id, "type": "function", "function": {
                "name": call.name,
                "arguments": call.raw_arguments or json.dumps(call.arguments)}}
            for call in message.tool_calls
        ]
    return wire


def _parse(payload: dict[str, Any], provider: str, latency_s: float) -> ChatResult:
    if not payload.get("choices"):
        raise ModelUnavailableError(f"{provider}: response has no choices: {payload!r:.300}")
    choice = payload["choices"][0]
    message = choice.get("message") or {}
    text, reasoning = _split_reasoning(message)
    return ChatResult(
        text=text,
        reasoning=reasoning,
        tool_calls=[_tool_call(raw) for raw in message.get("tool_calls") or []],
        usage=_usage(payload.get("usage") or {}),
        finish_reason=_FINISH.get(choice.get("finish_reason") or "stop", "other"),
        model=payload.get("model") or "",
        provider=provider,
        latency_s=latency_s,
        raw=payload,
    )


def _split_reasoning(message: dict[str, Any]) -> tuple[str, list[ReasoningPart]]:
    text = message.get("content") or ""
    field = message.get("reasoning") or message.get("reasoning_content")
    parts = [ReasoningPart(text=field)] if field else []
    inline = [m.strip() for m in _THINK.findall(text)]
    if inline:
        parts.extend(ReasoningPart(text=chunk) for chunk in inline if chunk)
        # Drop the blank lines the tags leave, but keep indentation (code replies need it).
        text = _THINK.sub("", text).lstrip("\n").rstrip()
    return text, parts


def _tool_call(raw: dict[str, Any]) -> ToolCall:
    function = raw.get("function") or {}
    arguments_text = function.get("arguments") or ""
    arguments: dict[str, Any] = {}
    problem = None
    try:
        decoded = json.loads(arguments_text) if arguments_text.strip() else {}
        if isinstance(decoded, dict):
            arguments = decoded
        else:
            problem = f"arguments are JSON {type(decoded).__name__}, not an object"
    except json.JSONDecodeError as error:
        problem = f"arguments are not valid JSON: {error.msg} at {error.pos}"
    return ToolCall(id=raw.get("id") or "", name=function.get("name") or "",
                    arguments=arguments, raw_arguments=arguments_text, arguments_error=problem)


def _usage(raw: dict[str, Any]) -> Usage:
    completion_details = raw.get("completion_tokens_details") or {}
    prompt_details = raw.get("prompt_tokens_details") or {}
    return Usage(
        input_tokens=raw.get("prompt_tokens") or 0,
        output_tokens=raw.get("completion_tokens") or 0,
        reasoning_tokens=completion_details.get("reasoning_tokens") or 0,
        cache_read_tokens=prompt_details.get("cached_tokens") or 0,
    )


def _translate(error: openai.APIError, model: str, base_url: str) -> Exception:
    """Map what the SDK raises after its own retries onto our permanent/transient split."""
    if isinstance(error, openai.APIConnectionError):  # includes APITimeoutError
        kind = "timed out" if isinstance(error, openai.APITimeoutError) else "unreachable"
        return ModelUnavailableError(f"model server at {base_url} {kind} after retries: {error}")
    if isinstance(error, openai.APIStatusError):
        status = error.status_code
        detail = _error_message(error)
        if status in (408, 409, 429) or status >= 500:
            return ModelUnavailableError(
                f"model server at {base_url} kept failing (HTTP {status}) after retries: {detail}")
        return ModelRequestError(f"model '{model}' at {base_url} rejected the request "
                                 f"(HTTP {status}): {detail}", status_code=status)
    return ModelUnavailableError(f"model server at {base_url}: {error}")


def _error_message(error: openai.APIStatusError) -> str:
    body = error.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if isinstance(inner, dict) and inner.get("detail"):
            return str(inner["detail"])
    return str(error.message)

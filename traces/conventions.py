"""GenAI semantic-convention names and the JSON shapes we record on spans.

Rules:
- Attribute names come from `opentelemetry.semconv._incubating` when it has them; the local
  strings below are the fallback, because `_incubating` may move between releases.
- Structured values (messages, tool definitions, tool arguments) are recorded as JSON strings:
  every backend accepts them and Phoenix parses them.
- Message shapes follow the GenAI input/output message schemas: `{"role", "parts": [...]}`,
  with part types `text`, `tool_call`, `tool_call_response`, `reasoning {content, signature?}`
  and the generic `redacted_thinking {data}`. Output messages add `finish_reason`.
- System messages are not part of `gen_ai.input.messages`; they go to
  `gen_ai.system_instructions` (text parts), so the prompt is stored once per call.
"""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

from harness.models.types import ChatResult, Message, ReasoningPart, ToolCall, ToolSpec

_g: ModuleType | None
try:  # `_incubating` is the official home of unstable names, but it may move
    from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as _g
except ImportError:  # pragma: no cover
    _g = None


def _name(constant: str, fallback: str) -> str:
    value = getattr(_g, constant, None) if _g is not None else None
    return value if isinstance(value, str) else fallback


GEN_AI_OPERATION_NAME = _name("GEN_AI_OPERATION_NAME", "gen_ai.operation.name")
GEN_AI_PROVIDER_NAME = _name("GEN_AI_PROVIDER_NAME", "gen_ai.provider.name")
GEN_AI_REQUEST_MODEL = _name("GEN_AI_REQUEST_MODEL", "gen_ai.request.model")
GEN_AI_REQUEST_TEMPERATURE = _name("GEN_AI_REQUEST_TEMPERATURE", "gen_ai.request.temperature")
GEN_AI_REQUEST_MAX_TOKENS = _name("GEN_AI_REQUEST_MAX_TOKENS", "gen_ai.request.max_tokens")
GEN_AI_REQUEST_TOP_P = _name("GEN_AI_REQUEST_TOP_P", "gen_ai.request.top_p")
GEN_AI_REQUEST_TOP_K = _name("GEN_AI_REQUEST_TOP_K", "gen_ai.request.top_k")
GEN_AI_REQUEST_SEED = _name("GEN_AI_REQUEST_SEED", "gen_ai.request.seed")
GEN_AI_REQUEST_STOP_SEQUENCES = _name(
    "GEN_AI_REQUEST_STOP_SEQUENCES", "gen_ai.request.stop_sequences"
)
GEN_AI_REQUEST_FREQUENCY_PENALTY = _name(
    "GEN_AI_REQUEST_FREQUENCY_PENALTY", "gen_ai.request.frequency_penalty"
)
GEN_AI_REQUEST_PRESENCE_PENALTY = _name(
    "GEN_AI_REQUEST_PRESENCE_PENALTY", "gen_ai.request.presence_penalty"
)
GEN_AI_REQUEST_CHOICE_COUNT = _name("GEN_AI_REQUEST_CHOICE_COUNT", "gen_ai.request.choice.count")
GEN_AI_RESPONSE_ID = _name("GEN_AI_RESPONSE_ID", "gen_ai.response.id")
GEN_AI_RESPONSE_MODEL = _name("GEN_AI_RESPONSE_MODEL", "gen_ai.response.model")
GEN_AI_RESPONSE_FINISH_REASONS = _name(
    "GEN_AI_RESPONSE_FINISH_REASONS", "gen_ai.response.finish_reasons"
)
GEN_AI_USAGE_INPUT_TOKENS = _name("GEN_AI_USAGE_INPUT_TOKENS", "gen_ai.usage.input_tokens")
GEN_AI_USAGE_OUTPUT_TOKENS = _name("GEN_AI_USAGE_OUTPUT_TOKENS", "gen_ai.usage.output_tokens")
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS = _name(
    "GEN_AI_USAGE_REASONING_OUTPUT_TOKENS", "gen_ai.usage.reasoning.output_tokens"
)
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS = _name(
    "GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS", "gen_ai.usage.cache_read.input_tokens"
)
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS = _name(
    "GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS", "gen_ai.usage.cache_creation.input_tokens"
)
GEN_AI_INPUT_MESSAGES = _name("GEN_AI_INPUT_MESSAGES", "gen_ai.input.messages")
GEN_AI_OUTPUT_MESSAGES = _name("GEN_AI_OUTPUT_MESSAGES", "gen_ai.output.messages")
GEN_AI_SYSTEM_INSTRUCTIONS = _name("GEN_AI_SYSTEM_INSTRUCTIONS", "gen_ai.system_instructions")
GEN_AI_TOOL_DEFINITIONS = _name("GEN_AI_TOOL_DEFINITIONS", "gen_ai.tool.definitions")
GEN_AI_TOOL_NAME = _name("GEN_AI_TOOL_NAME", "gen_ai.tool.name")
GEN_AI_TOOL_DESCRIPTION = _name("GEN_AI_TOOL_DESCRIPTION", "gen_ai.tool.description")
GEN_AI_TOOL_TYPE = _name("GEN_AI_TOOL_TYPE", "gen_ai.tool.type")
GEN_AI_TOOL_CALL_ID = _name("GEN_AI_TOOL_CALL_ID", "gen_ai.tool.call.id")
GEN_AI_TOOL_CALL_ARGUMENTS = _name("GEN_AI_TOOL_CALL_ARGUMENTS", "gen_ai.tool.call.arguments")
GEN_AI_TOOL_CALL_RESULT = _name("GEN_AI_TOOL_CALL_RESULT", "gen_ai.tool.call.result")
GEN_AI_AGENT_NAME = _name("GEN_AI_AGENT_NAME", "gen_ai.agent.name")
GEN_AI_AGENT_ID = _name("GEN_AI_AGENT_ID", "gen_ai.agent.id")
GEN_AI_AGENT_DESCRIPTION = _name("GEN_AI_AGENT_DESCRIPTION", "gen_ai.agent.description")
GEN_AI_CONVERSATION_ID = _name("GEN_AI_CONVERSATION_ID", "gen_ai.conversation.id")
ERROR_TYPE = "error.type"

OP_CHAT = "chat"
OP_INVOKE_AGENT = "invoke_agent"
OP_EXECUTE_TOOL = "execute_tool"

# Harness-owned attributes (not part of the GenAI conventions).
HARNESS_EPISODE_ID = "harness.episode_id"
HARNESS_TASK_ID = "harness.task_id"
HARNESS_LATENCY_S = "harness.latency_s"
HARNESS_EXTRA_PARAMS = "harness.request.extra_params"
HARNESS_TOOL_ARGUMENTS_ERROR = "harness.tool.call.arguments_error"

# The environment variable the content-capture switch is named after.
CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"

# Sampling parameter -> request attribute.
REQUEST_PARAM_ATTRIBUTES: dict[str, str] = {
    "temperature": GEN_AI_REQUEST_TEMPERATURE,
    "max_tokens": GEN_AI_REQUEST_MAX_TOKENS,
    "max_completion_tokens": GEN_AI_REQUEST_MAX_TOKENS,
    "top_p": GEN_AI_REQUEST_TOP_P,
    "top_k": GEN_AI_REQUEST_TOP_K,
    "seed": GEN_AI_REQUEST_SEED,
    "stop": GEN_AI_REQUEST_STOP_SEQUENCES,
    "stop_sequences": GEN_AI_REQUEST_STOP_SEQUENCES,
    "frequency_penalty": GEN_AI_REQUEST_FREQUENCY_PENALTY,
    "presence_penalty": GEN_AI_REQUEST_PRESENCE_PENALTY,
    "n": GEN_AI_REQUEST_CHOICE_COUNT,
}


def to_json(value: Any) -> str:
    """A compact JSON string; non-JSON values (paths, objects) are written with `str`."""
    return json.dumps(value, ensure_ascii=False, default=str)


def reasoning_parts(parts: list[ReasoningPart]) -> list[dict[str, Any]]:
    """Reasoning as `reasoning` parts; redacted thinking as a generic `redacted_thinking` part."""
    out: list[dict[str, Any]] = []
    for part in parts:
        if part.redacted_data is not None:
            out.append({"type": "redacted_thinking", "data": part.redacted_data})
            continue
        item: dict[str, Any] = {"type": "reasoning", "content": part.text}
        if part.signature is not None:
            item["signature"] = part.signature
        out.append(item)
    return out


def tool_call_part(call: ToolCall) -> dict[str, Any]:
    arguments: Any = call.arguments
    if call.arguments_error is not None:  # keep what the model really sent
        arguments = call.raw_arguments
    return {"type": "tool_call", "id": call.id, "name": call.name, "arguments": arguments}


def _assistant_parts(
    text: str, reasoning: list[ReasoningPart], calls: list[ToolCall]
) -> list[dict[str, Any]]:
    parts = reasoning_parts(reasoning)
    if text:
        parts.append({"type": "text", "content": text})
    parts.extend(tool_call_part(call) for call in calls)
    return parts


def message_parts(message: Message) -> list[dict[str, Any]]:
    if message.role == "tool":
        return [
            {"type": "tool_call_response", "id": message.tool_call_id, "result": message.content}
        ]
    if message.role == "assistant":
        return _assistant_parts(message.content, message.reasoning, message.tool_calls)
    return [{"type": "text", "content": message.content}]


def input_messages(messages: list[Message]) -> list[dict[str, Any]]:
    """The non-system messages of a request in send order, in the GenAI input schema."""
    out: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            continue
        item: dict[str, Any] = {"role": message.role, "parts": message_parts(message)}
        if message.name:
            item["name"] = message.name
        out.append(item)
    return out


def system_instructions(messages: list[Message]) -> list[dict[str, Any]]:
    """The system messages of a request as text parts (empty when there are none)."""
    return [{"type": "text", "content": m.content} for m in messages if m.role == "system"]


def output_messages(result: ChatResult) -> list[dict[str, Any]]:
    """The response as one assistant output message with its finish reason."""
    parts = _assistant_parts(result.text, result.reasoning, result.tool_calls)
    return [{"role": "assistant", "parts": parts, "finish_reason": result.finish_reason}]


def tool_definitions(tools: list[ToolSpec]) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.parameters,
        }
        for tool in tools
    ]


def attribute_value(value: Any) -> str | bool | int | float | list[str]:
    """A value OTel accepts as an attribute: primitives as is, lists of str, others as JSON."""
    if isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return list(value)
    return to_json(value)

"""Provider-neutral chat types: what every `ModelClient` takes and returns.

Rules:
- A `Message` list is the whole conversation; clients translate it to their provider's wire
  format and never mutate it.
- An assistant turn is appended with `ChatResult.as_message()`. That message keeps the
  provider's own content blocks (`provider_content`), so an Anthropic thinking block with its
  signature goes back to the API exactly as it came (the API rejects an altered block).
- Tool calls carry parsed `arguments`; when a model emits arguments that are not a JSON object,
  `arguments` is empty and `arguments_error` says why, so an agent can report the bad call
  instead of crashing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["system", "user", "assistant", "tool"]


class ToolCall(BaseModel):
    """One call of a tool, as the model asked for it."""

    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    raw_arguments: str = ""
    arguments_error: str | None = None


class ReasoningPart(BaseModel):
    """Reasoning ("thinking") the model returned alongside its answer.

    `signature` (Anthropic) and `redacted_data` (Anthropic redacted_thinking) are opaque values
    that must be returned to the provider unchanged; `text` is what a person can read.
    """

    text: str = ""
    signature: str | None = None
    redacted_data: str | None = None


class ToolSpec(BaseModel):
    """A tool the model may call: a name, a description and a JSON schema for its arguments."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}}
    )


class Message(BaseModel):
    """One conversation turn in provider-neutral form."""

    model_config = ConfigDict(extra="forbid")

    role: Role
    content: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None  # set on role="tool": which call this answers
    name: str | None = None  # tool name on role="tool"
    reasoning: list[ReasoningPart] = Field(default_factory=list)
    # The provider's own content blocks for an assistant turn, replayed verbatim when the
    # conversation goes back to the same provider.
    provider_content: list[dict[str, Any]] | None = None
    provider: str | None = None


class Usage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0  # included in output_tokens, as providers count them
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            **{name: getattr(self, name) + getattr(other, name) for name in Usage.model_fields}
        )


FinishReason = Literal["stop", "length", "tool_call", "content_filter", "error", "other"]


class ChatResult(BaseModel):
    """One model response, normalised, with the raw payload kept for audit."""

    schema_version: int = 1
    text: str = ""
    reasoning: list[ReasoningPart] = Field(default_factory=list)
    tool_calls: list[ToolCall] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    finish_reason: FinishReason = "stop"
    model: str = ""
    provider: str = ""
    latency_s: float = 0.0
    raw: dict[str, Any] = Field(default_factory=dict)
    provider_content: list[dict[str, Any]] | None = None

    @property
    def reasoning_text(self) -> str:
        return "\n".join(part.text for part in self.reasoning if part.text)

    def as_message(self) -> Message:
        """The assistant turn to append to the conversation for the next call."""
        return Message(
            role="assistant",
            content=self.text,
            tool_calls=list(self.tool_calls),
            reasoning=list(self.reasoning),
            provider_content=self.provider_content,
            provider=self.provider,
        )


MessageLike = Message | dict[str, Any]
ToolLike = ToolSpec | dict[str, Any]


def to_messages(messages: Sequence[MessageLike]) -> list[Message]:
    """Accept `Message` objects or plain dicts (validated) and return `Message` objects."""
    return [m if isinstance(m, Message) else Message.model_validate(m) for m in messages]


def to_tools(tools: Sequence[ToolLike] | None) -> list[ToolSpec]:
    """Accept `ToolSpec` objects, plain specs, or OpenAI-style {"type":"function",...} dicts."""
    specs: list[ToolSpec] = []
    for tool in tools or []:
        if isinstance(tool, ToolSpec):
            specs.append(tool)
        elif tool.get("type") == "function" and "function" in tool:
            specs.append(ToolSpec.model_validate(tool["function"]))
        else:
            specs.append(ToolSpec.model_validate(tool))
    return specs


@runtime_checkable
class ModelClient(Protocol):
    """The one interface agents and the harness use to call a model.

    Rules:
    - `chat` is async, side-effect free apart from the request, and safe to call concurrently.
    - Transient failures (429, 5xx, connection errors, timeouts) are retried with backoff and
      jitter inside the client; when retries are exhausted it raises `ModelUnavailableError`
      (a systemic failure: the runner marks the episode `error`, never a wrong answer).
    - A request the provider will never accept (bad key, unknown model, malformed request)
      raises `ModelRequestError` at once, without retries.
    - `params` are sampling parameters (temperature, max_tokens, top_p, seed, stop, ...);
      unknown ones are passed to the provider as extra body fields.
    """

    model: str
    provider: str

    async def chat(
        self, messages: Sequence[MessageLike], tools: Sequence[ToolLike] | None = None,
        **params: Any,
    ) -> ChatResult: ...

    async def aclose(self) -> None: ...

"""Harness-owned tracing wrappers: model client, tools and agent spans.

Rules:
- Tracing lives in these wrappers, which the harness hands to a task agent, so no rewrite of
  the agent can drop or forge the `chat` and `execute_tool` spans.
- Spans follow the GenAI conventions: `chat {model}` (CLIENT), `execute_tool {name}`
  (INTERNAL), `invoke_agent {name}` (INTERNAL, the episode root and every subagent).
- Nesting comes from OTel context propagation (contextvars), so a span opened inside an
  asyncio task, `asyncio.gather` or a LangGraph `Send` branch in the same process becomes a
  child of the span that was current where the work was scheduled.
- An exception sets status ERROR and `error.type` (the exception class name), records the
  exception as an event, and is re-raised unchanged.
- Message content (prompts, outputs, tool arguments and results) is captured unless the
  `capture_message_content` flag is off (named after the variable
  OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT; when the flag is None the variable
  decides, and unset means on).
"""

from __future__ import annotations

import inspect
import os
import time
import traceback
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from harness.models.types import (
    ChatResult,
    MessageLike,
    ModelClient,
    ToolCall,
    ToolLike,
    to_messages,
    to_tools,
)
from traces import conventions as c
from traces.limits import (
    MAX_ERROR_BYTES,
    MAX_TRACEBACK_BYTES,
    ContentBudget,
    clean_name,
    clip_text,
)

TRACER_NAME = "harness.traces"


def default_tracer() -> Tracer:
    return trace.get_tracer(TRACER_NAME)


def capture_enabled(flag: bool | None) -> bool:
    """The explicit flag, else OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT (default on)."""
    if flag is not None:
        return flag
    value = os.environ.get(c.CAPTURE_CONTENT_ENV, "").strip().lower()
    return value not in {"no_content", "false", "0", "no", "off", "event_only"}


def record_error(span: Span, exc: BaseException) -> None:
    """Status ERROR with the exception's type, message and traceback (bounded: an error's
    text may carry what an agent sent)."""
    message = clip_text(str(exc), MAX_ERROR_BYTES)
    stack = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    span.set_attribute(c.ERROR_TYPE, type(exc).__qualname__)
    span.record_exception(exc, attributes={
        "exception.message": message,
        "exception.stacktrace": clip_text(stack, MAX_TRACEBACK_BYTES)})
    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__qualname__}: {message}"))


def request_attributes(params: Mapping[str, Any]) -> dict[str, Any]:
    """Sampling params as gen_ai.request.* attributes; the rest as one JSON attribute."""
    attributes: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in params.items():
        name = c.REQUEST_PARAM_ATTRIBUTES.get(key)
        if name is None:
            extra[key] = value
        elif name == c.GEN_AI_REQUEST_STOP_SEQUENCES:
            attributes[name] = [value] if isinstance(value, str) else [str(v) for v in value]
        elif value is not None:
            attributes[name] = c.attribute_value(value)
    if extra:
        attributes[c.HARNESS_EXTRA_PARAMS] = c.to_json(extra)
    return attributes


def response_attributes(result: ChatResult, elapsed_s: float) -> dict[str, Any]:
    usage = result.usage
    attributes: dict[str, Any] = {
        c.GEN_AI_RESPONSE_FINISH_REASONS: [result.finish_reason],
        c.GEN_AI_USAGE_INPUT_TOKENS: usage.input_tokens,
        c.GEN_AI_USAGE_OUTPUT_TOKENS: usage.output_tokens,
        c.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: usage.reasoning_tokens,
        c.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: usage.cache_read_tokens,
        c.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: usage.cache_creation_tokens,
        c.HARNESS_LATENCY_S: result.latency_s or elapsed_s,
    }
    if result.model:
        attributes[c.GEN_AI_RESPONSE_MODEL] = result.model
    response_id = result.raw.get("id")
    if isinstance(response_id, str):
        attributes[c.GEN_AI_RESPONSE_ID] = response_id
    return attributes


class TracedModelClient:
    """Wraps any `ModelClient`; every `chat` call becomes a `chat {model}` span."""

    def __init__(
        self,
        inner: ModelClient,
        *,
        tracer: Tracer | None = None,
        capture_message_content: bool | None = None,
        span_kind: SpanKind = SpanKind.CLIENT,
        content: ContentBudget | None = None,
    ) -> None:
        self.inner = inner
        self.tracer = tracer or default_tracer()
        self.capture_message_content = capture_enabled(capture_message_content)
        self.span_kind = span_kind  # INTERNAL suits an in-process model
        self.content = content or ContentBudget()  # share one per episode to bound it

    @property
    def model(self) -> str:
        return self.inner.model

    @property
    def provider(self) -> str:
        return self.inner.provider

    async def aclose(self) -> None:
        await self.inner.aclose()

    def _start_attributes(
        self, messages: Sequence[MessageLike], tools: Sequence[ToolLike] | None,
        params: dict[str, Any],
    ) -> dict[str, Any]:
        attributes: dict[str, Any] = {
            c.GEN_AI_OPERATION_NAME: c.OP_CHAT,
            c.GEN_AI_PROVIDER_NAME: self.provider,
            c.GEN_AI_REQUEST_MODEL: self.model,
            **request_attributes(params),
        }
        if not self.capture_message_content:
            return attributes
        normalized = to_messages(messages)
        record = self.content.record
        attributes[c.GEN_AI_INPUT_MESSAGES] = record(c.input_messages(normalized))
        system = c.system_instructions(normalized)
        if system:
            attributes[c.GEN_AI_SYSTEM_INSTRUCTIONS] = record(system)
        if tools:
            attributes[c.GEN_AI_TOOL_DEFINITIONS] = record(c.tool_definitions(to_tools(tools)))
        return attributes

    async def chat(
        self, messages: Sequence[MessageLike], tools: Sequence[ToolLike] | None = None,
        **params: Any,
    ) -> ChatResult:
        attributes = self._start_attributes(messages, tools, params)
        with self.tracer.start_as_current_span(
            f"{c.OP_CHAT} {self.model}",
            kind=self.span_kind,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            started = time.perf_counter()
            try:
                result = await self.inner.chat(messages, tools, **params)
            except BaseException as exc:
                record_error(span, exc)
                raise
            span.set_attributes(response_attributes(result, time.perf_counter() - started))
            if self.capture_message_content:
                span.set_attribute(c.GEN_AI_OUTPUT_MESSAGES,
                                   self.content.record(c.output_messages(result)))
            if result.finish_reason == "error":
                span.set_status(Status(StatusCode.ERROR, "model finished with reason 'error'"))
                span.set_attribute(c.ERROR_TYPE, "finish_reason_error")
            return result


@contextmanager
def internal_span(tracer: Tracer, name: str, attributes: dict[str, Any]) -> Iterator[Span]:
    """An INTERNAL span made current; an exception marks it failed and goes on unchanged."""
    with tracer.start_as_current_span(
        name, kind=SpanKind.INTERNAL, attributes=attributes, record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield span
        except BaseException as exc:
            record_error(span, exc)
            raise


class TracedTool:
    """A tool function whose every call is an `execute_tool {name}` span.

    Calling it directly keeps the function's nature: sync stays sync, async returns an
    awaitable. `invoke(call)` runs a model's `ToolCall` (its arguments as keyword arguments)
    and records the call id; it is async for both kinds (a sync function runs inline on the
    event loop, so a slow one should be async or hand itself to a thread).
    """

    def __init__(
        self,
        name: str,
        fn: Callable[..., Any],
        *,
        description: str = "",
        tracer: Tracer | None = None,
        capture_message_content: bool | None = None,
        content: ContentBudget | None = None,
    ) -> None:
        self.name = clean_name(name)  # the agent may choose it (env functions)
        self.fn = fn
        self.description = description
        self.tracer = tracer or default_tracer()
        self.capture_message_content = capture_enabled(capture_message_content)
        self.content = content or ContentBudget()
        self.is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
            type(fn).__call__  # a callable object with `async def __call__`
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.is_async:
            return self._acall(None, args, kwargs)
        return self._call(None, args, kwargs)

    async def invoke(self, call: ToolCall) -> Any:
        if self.is_async:
            return await self._acall(call.id, (), dict(call.arguments))
        return self._call(call.id, (), dict(call.arguments))

    @contextmanager
    def _span(
        self, call_id: str | None, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Iterator[Span]:
        attributes: dict[str, Any] = {
            c.GEN_AI_OPERATION_NAME: c.OP_EXECUTE_TOOL,
            c.GEN_AI_TOOL_NAME: self.name,
            c.GEN_AI_TOOL_TYPE: "function",
        }
        if self.description:
            attributes[c.GEN_AI_TOOL_DESCRIPTION] = self.description
        if call_id:
            attributes[c.GEN_AI_TOOL_CALL_ID] = call_id
        if self.capture_message_content:
            arguments = {"args": list(args), **kwargs} if args else kwargs
            attributes[c.GEN_AI_TOOL_CALL_ARGUMENTS] = self.content.record(arguments)
        with internal_span(self.tracer, f"{c.OP_EXECUTE_TOOL} {self.name}", attributes) as span:
            yield span

    def _finish(self, span: Span, result: Any) -> Any:
        if self.capture_message_content:
            span.set_attribute(c.GEN_AI_TOOL_CALL_RESULT, self.content.record(result))
        return result

    def _call(self, call_id: str | None, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        with self._span(call_id, args, kwargs) as span:
            return self._finish(span, self.fn(*args, **kwargs))

    async def _acall(
        self, call_id: str | None, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        with self._span(call_id, args, kwargs) as span:
            awaitable: Awaitable[Any] = self.fn(*args, **kwargs)
            return self._finish(span, await awaitable)


def traced_tool(
    name: str,
    fn: Callable[..., Any],
    description: str = "",
    *,
    tracer: Tracer | None = None,
    capture_message_content: bool | None = None,
) -> TracedTool:
    return TracedTool(
        name,
        fn,
        description=description,
        tracer=tracer,
        capture_message_content=capture_message_content,
    )


@contextmanager
def agent_span(
    name: str,
    *,
    task_id: str | None = None,
    episode_id: str | None = None,
    attributes: Mapping[str, Any] | None = None,
    tracer: Tracer | None = None,
) -> Iterator[Span]:
    """An `invoke_agent {name}` span: the episode root, or a subagent inside one.

    `episode_id` / `task_id` are set on this span; spans below it get them copied by
    `EpisodeAttributesProcessor` (installed by `setup_tracing`). Extra `attributes` that are
    not OTel primitives are stored as JSON strings.
    """
    name = clean_name(name)
    start: dict[str, Any] = {c.GEN_AI_OPERATION_NAME: c.OP_INVOKE_AGENT, c.GEN_AI_AGENT_NAME: name}
    if episode_id is not None:
        start[c.HARNESS_EPISODE_ID] = episode_id
    if task_id is not None:
        start[c.HARNESS_TASK_ID] = task_id
    for key, value in (attributes or {}).items():
        start[key] = c.attribute_value(value)
    with internal_span(tracer or default_tracer(), f"{c.OP_INVOKE_AGENT} {name}",
                       start) as span:
        yield span

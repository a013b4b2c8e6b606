"""The harness side of one episode: it performs and traces every call the agent asks for.

An agent (in-process via `local_context`, or sandboxed via the worker protocol) refers to
"where it is" by an agent reference: "root" for the episode, or a ref returned by
`start_agent`. Every chat and tool call becomes a span under that agent's span. Span objects
never leave this class, so agent code cannot forge or drop them.

Systemic failures (the model server unreachable after retries) are remembered in
`infra_error` so the runner can mark the episode `error` rather than a wrong answer; a token
budget overrun is remembered in `budget_exceeded`, so the episode is `failed` whatever the
agent answers after it.

What the agent chooses to record is bounded per episode (see `traces.limits`): log events
(count and bytes), names (one printable line) and content (each value and in total), with an
explicit "… N bytes dropped" wherever something is cut.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from benchmarks.base import Environment
from harness.errors import HarnessError, ModelRequestError, ModelUnavailableError
from harness.models.types import ChatResult, MessageLike, ModelClient, ToolLike, Usage
from harness.runner.budget import CHECKS, TokenBudget, check_params, prompt_estimate
from harness.runner.tools import HarnessTools, ToolFn
from task_agents.lib.context import ToolResult
from traces import conventions as c
from traces.instrument import TracedModelClient, TracedTool
from traces.limits import MAX_LOG_MESSAGE_BYTES, ContentBudget, clean_name, clip_text, dropped

ROOT = "root"
ENV_TOOL = "env"  # ctx.tool("env", function=..., arguments={...}): the task environment
# Sampling parameters an agent may set, each checked (`budget.CHECKS`). Anything else (model,
# extra_body, n, …) could switch the model, multiply cost or bypass the harness: refused.
ALLOWED_PARAMS = frozenset(CHECKS)
# Statuses that mean the harness's model settings are wrong (key, permission, model name):
# every episode would fail the same way, so the run stops instead of scoring zeros.
FATAL_STATUSES = frozenset({401, 403, 404})
MAX_SUBAGENTS = 1_000  # per episode; each is a span
MAX_LOG_EVENTS = 1_000  # per episode; each is a span event
MAX_LOG_BYTES = 1024 * 1024  # all log messages of an episode


def _plain_result(fn: ToolFn) -> Callable[..., Awaitable[dict[str, Any]]]:
    """Return the tool's result as a dict, so the span records it as JSON."""

    async def call(**arguments: Any) -> dict[str, Any]:
        return (await fn(**arguments)).model_dump()

    return call


class EpisodeHost:
    """Carries out one episode's model calls, tool calls and subagent spans."""

    def __init__(self, *, model: ModelClient, tracer: Tracer, root: Span,
                 tools: HarnessTools, token_budget: int | None = None,
                 environment: Environment | None = None) -> None:
        self.environment = environment
        self.content = ContentBudget()  # one per episode, shared by all its spans
        self.model = TracedModelClient(model, tracer=tracer, content=self.content)
        self.tracer = tracer
        self.tools = tools
        self.token_budget = token_budget
        self.budget = TokenBudget(token_budget) if token_budget is not None else None
        self.usage = Usage()
        self.model_calls = 0
        self.tool_calls = 0
        self.infra_error: Exception | None = None
        self.fatal_error: ModelRequestError | None = None
        self._spans: dict[str, Span] = {ROOT: root}
        self._subagents = 0
        self._logs = _LogTally()
        self._traced_tools = {
            name: TracedTool(name, _plain_result(fn), tracer=tracer, content=self.content)
            for name, fn in tools.tools.items()}

    @property
    def budget_exceeded(self) -> str | None:
        """Why the episode went over its token budget, or None: such an episode is failed."""
        return self.budget.exceeded if self.budget is not None else None

    @contextmanager
    def _under(self, ref: str) -> Iterator[Span]:
        span = self._spans.get(ref, self._spans[ROOT])
        with trace.use_span(span, end_on_exit=False):
            yield span

    def tokens_used(self) -> int:
        return self.usage.input_tokens + self.usage.output_tokens

    async def chat(self, ref: str, messages: Sequence[MessageLike],
                   tools: Sequence[ToolLike] | None = None, **params: Any) -> ChatResult:
        check_params(params)
        held = 0
        if self.budget is not None:
            held = self.budget.reserve(prompt_estimate(messages, tools), params)
        try:
            with self._under(ref):
                result = await self.model.chat(messages, tools, **params)
        except ModelUnavailableError as error:
            self.infra_error = error
            raise
        except ModelRequestError as error:
            if error.status_code in FATAL_STATUSES:
                self.fatal_error = error
            raise
        finally:
            if self.budget is not None:
                self.budget.release(held)
        self.model_calls += 1
        self.usage = self.usage + result.usage
        if self.budget is not None:  # over it now: the episode fails, the next call is refused
            self.budget.charge(result.usage.input_tokens + result.usage.output_tokens)
        return result

    async def tool(self, ref: str, name: str, arguments: dict[str, Any]) -> ToolResult:
        if name == ENV_TOOL:
            return await self._env_call(ref, arguments)
        traced = self._traced_tools.get(name)
        if traced is None:
            known = ", ".join(sorted(self._traced_tools))
            return ToolResult(ok=False, output=f"unknown tool '{name}' (available: {known})")
        self.tool_calls += 1
        with self._under(ref):
            try:
                result = await traced(**arguments)
            except TypeError as error:  # wrong arguments from the agent: its mistake, reported
                return ToolResult(ok=False, output=f"bad arguments for {name}: {error}")
            except (HarnessError, OSError) as error:  # our sandbox failed, not the agent
                self.infra_error = error
                return ToolResult(ok=False, output=f"{name} could not run: {error}")
        return ToolResult.model_validate(result)

    async def _env_call(self, ref: str, request: dict[str, Any]) -> ToolResult:
        """`env`: run one of the task environment's functions, traced under its own name."""
        environment = self.environment
        if environment is None:
            return ToolResult(ok=False, output="this task has no environment to call")
        function, arguments = str(request.get("function", "")), request.get("arguments") or {}
        if not isinstance(arguments, dict):
            return ToolResult(ok=False, output="env: 'arguments' must be an object")

        async def call(**kwargs: Any) -> dict[str, Any]:
            ok, output = await environment.call(function, kwargs)
            return {"ok": ok, "output": output}

        self.tool_calls += 1
        with self._under(ref):
            result = await TracedTool(function, call, tracer=self.tracer, content=self.content,
                                      description="task environment function")(**arguments)
        return ToolResult.model_validate(result)

    async def start_agent(self, ref: str, name: str) -> str:
        self._subagents += 1
        if self._subagents > MAX_SUBAGENTS:
            raise ModelRequestError(f"more than {MAX_SUBAGENTS} subagents in one episode")
        parent = self._spans.get(ref, self._spans[ROOT])
        name = clean_name(name)  # the agent's choice: one printable line, bounded
        span = self.tracer.start_span(
            f"{c.OP_INVOKE_AGENT} {name}", kind=SpanKind.INTERNAL,
            context=trace.set_span_in_context(parent),
            attributes={c.GEN_AI_OPERATION_NAME: c.OP_INVOKE_AGENT, c.GEN_AI_AGENT_NAME: name})
        new_ref = uuid.uuid4().hex[:12]
        self._spans[new_ref] = span
        return new_ref

    async def end_agent(self, ref: str, error: str | None = None) -> None:
        self._end(ref, error)

    def _end(self, ref: str, error: str | None = None) -> None:
        if ref == ROOT:
            return
        span = self._spans.pop(ref, None)
        if span is None:
            return
        if error:
            span.set_status(Status(StatusCode.ERROR, clip_text(error, 2000)))
            span.set_attribute(c.ERROR_TYPE, clean_name(error.split(":", 1)[0], 100))
        span.end()

    def log(self, ref: str, message: str) -> None:
        """Record an agent's log line, within the episode's caps (counted when dropped)."""
        text = clip_text(message, MAX_LOG_MESSAGE_BYTES, "log message limit")
        if not self._logs.admit(_size(text), _size(message)):
            return
        self._spans.get(ref, self._spans[ROOT]).add_event("agent.log", {"message": text})

    def close_open_agents(self) -> None:
        """End subagent spans the agent left open (it crashed or was killed)."""
        for ref in [r for r in self._spans if r != ROOT]:
            self._end(ref, "unfinished: the episode ended first")
        if self._logs.dropped:  # said once, at the end, with the totals: nothing silent
            self._spans[ROOT].add_event("agent.log.dropped", {"message": (
                f"{self._logs.dropped} log messages not recorded, "
                f"{dropped(self._logs.dropped_bytes)}: the limit is {MAX_LOG_EVENTS} messages "
                f"and {MAX_LOG_BYTES // 1024} KB per episode")})


class _LogTally:
    """Counts an episode's log events and bytes against its caps."""

    def __init__(self) -> None:
        self.events = self.bytes = self.dropped = self.dropped_bytes = 0

    def admit(self, kept: int, original: int) -> bool:
        if self.events >= MAX_LOG_EVENTS or self.bytes + kept > MAX_LOG_BYTES:
            self.dropped += 1
            self.dropped_bytes += original
            return False
        self.events += 1
        self.bytes += kept
        return True


def _size(text: str) -> int:
    return len(text.encode("utf-8", errors="surrogatepass"))

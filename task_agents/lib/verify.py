"""Generate, verify, feed the failure back, retry.

    code = await verify_and_retry(
        ctx,
        generate=lambda ctx, last: write_code(ctx, feedback=last.feedback if last else None),
        verify=lambda ctx, code: run_tests(ctx, code, tests),
        attempts=3,
    )

`generate(ctx, last)` gets the previous failed `Attempt` (None the first time) so it can show
the model its last output and what was wrong with it. `verify(ctx, value)` returns a
`Verdict`, a harness `ToolResult` (its `ok`, with `output` as the feedback) or a bool.
Returns the first value that verifies, else the last one generated. Every generation and
verification goes through `ctx`, so the trace shows them in order; with `name`, each attempt
runs as a subagent `{name}[n]`. Each verification is marked `mechanism:verify`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from task_agents.lib.context import AgentContext, ToolResult
from task_agents.lib.mechanisms import mark

T = TypeVar("T")


@dataclass(frozen=True)
class Verdict:
    ok: bool
    feedback: str = ""


@dataclass(frozen=True)
class Attempt(Generic[T]):
    number: int  # 1-based
    value: T
    ok: bool
    feedback: str


Generate = Callable[[AgentContext, Attempt[T] | None], Awaitable[T]]
Verify = Callable[[AgentContext, T], Awaitable[Verdict | ToolResult | bool]]


def as_verdict(outcome: Verdict | ToolResult | bool) -> Verdict:
    if isinstance(outcome, Verdict):
        return outcome
    if isinstance(outcome, ToolResult):
        return Verdict(outcome.ok, outcome.output)
    return Verdict(bool(outcome), "" if outcome else "the result did not pass verification")


def _scope(ctx: AgentContext, name: str | None, number: int) -> AbstractAsyncContextManager[Any]:
    return ctx.subagent(f"{name}[{number}]") if name else nullcontext()


async def attempts_until_verified(
    ctx: AgentContext, generate: Generate[T], verify: Verify[T], *, attempts: int = 3,
    name: str | None = None,
) -> list[Attempt[T]]:
    """Every attempt made, in order; the last one is verified or the attempts ran out."""
    history: list[Attempt[T]] = []
    for number in range(1, max(1, attempts) + 1):
        async with _scope(ctx, name, number):
            value = await generate(ctx, history[-1] if history else None)
            verdict = as_verdict(await verify(ctx, value))
        history.append(Attempt(number, value, verdict.ok, verdict.feedback))
        ctx.log(f"attempt {number}: {'verified' if verdict.ok else 'failed verification'}")
        mark(ctx, "verify", f"attempt {number} {'ok' if verdict.ok else 'failed'}")
        if verdict.ok:
            break
    return history


async def verify_and_retry(
    ctx: AgentContext, generate: Generate[T], verify: Verify[T], *, attempts: int = 3,
    name: str | None = None,
) -> T:
    """The first verified value, else the last generated (see the module docstring)."""
    history = await attempts_until_verified(ctx, generate, verify, attempts=attempts, name=name)
    return history[-1].value

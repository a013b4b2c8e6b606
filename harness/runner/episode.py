"""Run one episode of a candidate agent in a sandboxed worker, serving its calls.

The harness side opens the episode's `invoke_agent` root span, starts the worker with two
inherited pipes, answers its requests through an `EpisodeHost` (which performs and traces
them), and ends when the worker sends its result, dies, or runs out of wall time.

The outcome separates who failed:
- `answer` set: the agent answered (the runner scores it);
- `agent_error` set: the candidate's own failure (crash, time, memory, output, budget) —
  scored 0 with the reason;
- `infra_error` set: the harness or model server failed — not scored, retried later.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.base import Environment
from harness.errors import HarnessError, ModelUnavailableError
from harness.models.types import ModelClient
from harness.runner.channel import Channel
from harness.runner.host import EpisodeHost
from harness.runner.serve import Served, serve_worker
from harness.runner.workers import WorkerPool
from harness.sandbox import SandboxResult, Supervised
from harness.sandbox._forkserver import LOST
from task_agents.lib.context import TaskView
from traces.instrument import agent_span
from traces.setup import TracingHandle


@dataclass
class EpisodeOutcome:
    answer: Any = None
    answered: bool = False
    agent_error: str | None = None
    error_kind: str | None = None
    infra_error: str | None = None
    host: EpisodeHost | None = None
    sandbox: SandboxResult | None = None


@dataclass
class EpisodeSetup:
    """What every episode of a run shares."""

    agent_dir: Path
    model: ModelClient
    tracing: TracingHandle
    tools: Any  # HarnessTools
    workers: WorkerPool
    token_budget: int | None = None


async def run_episode(setup: EpisodeSetup, task: TaskView, *, episode_id: str,
                      attributes: dict[str, Any] | None = None,
                      environment: Environment | None = None) -> EpisodeOutcome:
    name = setup.agent_dir.name
    with agent_span(name, task_id=task.task_id, episode_id=episode_id,
                    tracer=setup.tracing.tracer, attributes=attributes) as root:
        host = EpisodeHost(model=setup.model, tracer=setup.tracing.tracer, root=root,
                           tools=setup.tools, token_budget=setup.token_budget,
                           environment=environment)
        outcome = await _drive(setup, task, host)
        host.close_open_agents()
        outcome.host = host
        root.set_attribute("harness.episode.status", _status_of(outcome))
        if outcome.agent_error or outcome.infra_error:
            root.set_attribute("error.type", outcome.error_kind or "error")
            root.set_attribute("harness.episode.error",
                               (outcome.infra_error or outcome.agent_error or "")[:8000])
        return outcome


def _status_of(outcome: EpisodeOutcome) -> str:
    if outcome.infra_error:
        return "error"
    return "answered" if outcome.answered else "failed"


async def _drive(setup: EpisodeSetup, task: TaskView, host: EpisodeHost) -> EpisodeOutcome:
    to_worker_r, to_worker_w = os.pipe()
    from_worker_r, from_worker_w = os.pipe()
    try:
        process = await setup.workers.start(setup.agent_dir, to_worker_r, from_worker_w)
    except HarnessError as error:
        for fd in (to_worker_w, from_worker_r):
            os.close(fd)
        return EpisodeOutcome(infra_error=f"sandbox: {error}", error_kind="sandbox")
    finally:
        os.close(to_worker_r)
        os.close(from_worker_w)
    return await _converse(setup, task, host, process, from_worker_r, to_worker_w)


async def _converse(setup: EpisodeSetup, task: TaskView, host: EpisodeHost,
                    process: Supervised, read_fd: int, write_fd: int) -> EpisodeOutcome:
    channel: Channel | None = None
    serving: asyncio.Task[None] | None = None
    served = Served()
    try:
        channel = await Channel.open(read_fd, write_fd)
        serving = asyncio.create_task(serve_worker(channel, host, task, setup.model, served))
        result = await process.wait()  # enforces the wall clock and output limits
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(serving), timeout=5)
    except BaseException:  # cancelled (Ctrl-C, a sibling failed): leave no worker behind
        process.finish_in_background()  # its clean-up runs although we are being cancelled
        await process.kill("cancelled")
        raise
    finally:  # (a failed Channel.open has closed both fds itself)
        if serving is not None:
            serving.cancel()
        if channel is not None:
            channel.close()
    if serving is not None:  # its tool sandboxes are dead before the episode is recorded
        await asyncio.wait({serving})
    outcome = _outcome_of(served)
    outcome.sandbox = result
    return await _attribute(outcome, host, result, served, setup.model)


def _outcome_of(served: Served) -> EpisodeOutcome:
    if served.protocol_error:
        return EpisodeOutcome(agent_error=f"protocol: {served.protocol_error}",
                              error_kind="protocol")
    message = served.result
    if message is None:
        return EpisodeOutcome()
    error = message.get("error")
    if error is None:
        return EpisodeOutcome(answer=message.get("answer"), answered=True)
    if not isinstance(error, dict):
        return EpisodeOutcome(agent_error="protocol: malformed result", error_kind="protocol")
    text = "\n".join(str(error.get(key, "")) for key in ("message", "traceback"))
    return EpisodeOutcome(agent_error=f"{error.get('type')}: {text}".strip(),
                          error_kind=_kind_of(str(error.get("type", ""))))


def _kind_of(error_type: str) -> str:
    if error_type == "BudgetExceeded":
        return "budget"
    return f"crash:{error_type[:80]}"


async def _attribute(outcome: EpisodeOutcome, host: EpisodeHost, result: SandboxResult,
                     served: Served, model: ModelClient) -> EpisodeOutcome:
    """Decide whose failure it was.

    Infrastructure only when the harness's side failed: the worker died before its `ready`
    (before any candidate code ran), a harness tool could not run, or a model call failed
    (after the client's retries) with evidence that this episode's own requests cannot
    produce — see `_model_failure_is_infra`. Anything else is the agent's.
    """
    if result.killed_reason == LOST:
        return _infra(outcome, "sandbox", "the worker's fork server was lost mid-episode")
    if not served.ready and outcome.agent_error is None:
        why = result.killed_reason or f"exit code {result.returncode}"
        tail = result.stderr[-2000:].strip()
        return _infra(outcome, "worker", f"worker died before starting ({why}): {tail}")
    if host.budget_exceeded is not None:  # over its token budget: failed, whatever it answered
        outcome.answered, outcome.answer = False, None
        outcome.agent_error, outcome.error_kind = host.budget_exceeded, "budget"
        return outcome
    if host.infra_error is not None and not outcome.answered:
        if not isinstance(host.infra_error, ModelUnavailableError):
            return _infra(outcome, "tool_sandbox", f"harness tool failed: {host.infra_error}")
        cause = failure_cause(host.infra_error)
        if await _model_failure_is_infra(cause, model):
            return _infra(outcome, "model_unavailable", f"model unavailable: {host.infra_error}")
        if outcome.error_kind is None or outcome.error_kind.startswith("crash:Model"):
            outcome.error_kind = "model_timeout" if cause == "timeout" else "model_error"
    if not outcome.answered and outcome.agent_error is None:
        reason = result.killed_reason or f"exit code {result.returncode}"
        outcome.error_kind = result.killed_reason or "crash"
        tail = result.stderr[-4000:].strip()
        outcome.agent_error = f"worker ended without an answer ({reason})" + (
            f"\n{tail}" if tail else "")
    return outcome


def _infra(outcome: EpisodeOutcome, kind: str, message: str) -> EpisodeOutcome:
    outcome.answered, outcome.answer, outcome.agent_error = False, None, None
    outcome.infra_error, outcome.error_kind = message, kind
    return outcome


async def _model_failure_is_infra(cause: str, model: ModelClient) -> bool:
    """Whether a failed model call was the infrastructure's, not the agent's.

    The rule: only on evidence that this episode's own requests cannot produce —
    - the server refused the connection (`cause == "refused"`): nothing was listening;
    - or the server is down now: the liveness probe (`reachable`) gets no HTTP answer in its
      own short timeout, or a 5xx. The probe takes no completion slot, so it never queues
      behind requests still running on the server (this episode's abandoned ones included).
    Everything else is the agent's failure, scored 0: a request of its own that timed out
    while the server still answers (`model_timeout`) — on a single-slot server such as
    llama.cpp's, its own long generations are what it waited behind —, or an error status
    given to its request while the server is up (`model_error`). Failures of other episodes
    at the same time are deliberately not evidence: every episode of a run runs the same
    candidate, which could fail several together on purpose. A real outage shows in the
    probe, and a run with too many `error` episodes publishes no mean (`max_error_share`).
    """
    return cause == "refused" or not await reachable(model)


def failure_cause(error: BaseException) -> str:
    """`refused`, `timeout` or `error`, from the exception chain (SDK and httpx errors)."""
    seen: BaseException | None = error
    for _ in range(10):  # a chain is short; a cycle must not hang us
        if seen is None:
            break
        name = type(seen).__name__
        if isinstance(seen, TimeoutError) or "Timeout" in name:
            return "timeout"
        if isinstance(seen, ConnectionRefusedError) or name == "ConnectError":
            return "refused"
        seen = seen.__cause__ or seen.__context__
    return "error"


async def reachable(model: ModelClient, timeout_s: float = 5.0) -> bool:
    """Whether the model server is up, asked without queueing behind completions.

    Not `/v1/models`: llama.cpp's server answers it only between completions (it waits for
    the model lock; 59 s measured behind a 600-token generation), so a busy server looked
    down. The client's `alive` asks something every server answers at once. True when the
    client has no such probe (a hosted API)."""
    alive = getattr(model, "alive", None)
    if alive is None:
        return True
    try:
        return bool(await asyncio.wait_for(alive(timeout_s), timeout=timeout_s + 1.0))
    except Exception:
        return False

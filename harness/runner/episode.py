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
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import HarnessError, ModelRequestError, ModelUnavailableError
from harness.models.types import ModelClient
from harness.runner.channel import Channel, ChannelClosed
from harness.runner.host import EpisodeHost
from harness.sandbox import SandboxPolicy, SandboxResult, spawn
from task_agents.lib.context import BudgetExceeded, TaskView
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
    policy: SandboxPolicy
    token_budget: int | None = None


async def run_episode(setup: EpisodeSetup, task: TaskView, *, episode_id: str,
                      attributes: dict[str, Any] | None = None) -> EpisodeOutcome:
    name = setup.agent_dir.name
    with agent_span(name, task_id=task.task_id, episode_id=episode_id,
                    tracer=setup.tracing.tracer, attributes=attributes) as root:
        host = EpisodeHost(model=setup.model, tracer=setup.tracing.tracer, root=root,
                           tools=setup.tools, token_budget=setup.token_budget)
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
    workdir = Path(tempfile.mkdtemp(prefix="harness-episode-"))
    to_worker_r, to_worker_w = os.pipe()
    from_worker_r, from_worker_w = os.pipe()
    argv = [sys.executable, "-I", "-m", "harness.runner.worker", "--read-fd", str(to_worker_r),
            "--write-fd", str(from_worker_w), "--agent", str(setup.agent_dir)]
    try:
        try:
            process = await spawn(argv, policy=setup.policy, workdir=workdir,
                                  pass_fds=(to_worker_r, from_worker_w))
        except HarnessError as error:
            for fd in (to_worker_w, from_worker_r):
                os.close(fd)
            return EpisodeOutcome(infra_error=f"sandbox: {error}", error_kind="sandbox")
        finally:
            os.close(to_worker_r)
            os.close(from_worker_w)
        channel = await Channel.open(from_worker_r, to_worker_w)
        serving = asyncio.create_task(_serve(channel, host, task, setup.model))
        result = await process.wait()  # enforces the wall clock and output limits
        outcome = await _collect(serving, result)
        channel.close()
        outcome.sandbox = result
        return _attribute(outcome, host, result)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


async def _collect(serving: asyncio.Task[dict[str, Any] | None],
                   result: SandboxResult) -> EpisodeOutcome:
    try:
        message = await asyncio.wait_for(serving, timeout=5)
    except (TimeoutError, ChannelClosed, ValueError):
        serving.cancel()
        message = None
    if message is None:
        return EpisodeOutcome()
    if "error" in message:
        error = message["error"]
        return EpisodeOutcome(agent_error=f"{error.get('type')}: {error.get('message')}\n"
                                          f"{error.get('traceback', '')}".strip(),
                              error_kind=_kind_of(error.get("type", "")))
    return EpisodeOutcome(answer=message.get("answer"), answered=True)


def _kind_of(error_type: str) -> str:
    if error_type == "BudgetExceeded":
        return "budget"
    if error_type == "ModelUnavailableError":
        return "model_unavailable"
    return f"crash:{error_type}"


def _attribute(outcome: EpisodeOutcome, host: EpisodeHost,
               result: SandboxResult) -> EpisodeOutcome:
    """Decide whose failure it was when the worker sent no answer."""
    if host.infra_error is not None:
        outcome.answered, outcome.agent_error = False, None
        outcome.infra_error = f"model unavailable: {host.infra_error}"
        outcome.error_kind = "model_unavailable"
    elif not outcome.answered and outcome.agent_error is None:
        reason = result.killed_reason or f"exit code {result.returncode}"
        outcome.error_kind = result.killed_reason or "crash"
        tail = result.stderr[-4000:].strip()
        outcome.agent_error = f"worker ended without an answer ({reason})" + (
            f"\n{tail}" if tail else "")
    return outcome


async def _serve(channel: Channel, host: EpisodeHost, task: TaskView,
                 model: ModelClient) -> dict[str, Any] | None:
    """Answer the worker's requests until it sends its result; return that message."""
    await channel.send({"op": "start", "task": task.model_dump(), "model": model.model,
                        "provider": model.provider})
    pending: set[asyncio.Task[None]] = set()
    try:
        while True:
            try:
                message = await channel.receive()
            except ChannelClosed:
                return None
            if message.get("op") == "result":
                return message
            if message.get("op") == "log":  # no reply; handled in order, before the result
                host.log(str(message.get("ref", "root")), str(message.get("message", "")))
                continue
            job = asyncio.create_task(_answer(channel, host, message))
            pending.add(job)
            job.add_done_callback(pending.discard)
    finally:
        for job in pending:
            job.cancel()


async def _answer(channel: Channel, host: EpisodeHost, message: dict[str, Any]) -> None:
    op, ref = message.get("op"), str(message.get("ref", "root"))
    try:
        value = await _dispatch(host, op, ref, message)
        reply: dict[str, Any] = {"id": message.get("id"), "ok": True, "value": value}
    except (BudgetExceeded, ModelUnavailableError, ModelRequestError) as error:
        reply = {"id": message.get("id"), "ok": False,
                 "error": {"type": type(error).__name__, "message": str(error)}}
    except Exception as error:  # a malformed request from the worker: report it back
        reply = {"id": message.get("id"), "ok": False,
                 "error": {"type": "BadRequest", "message": f"{type(error).__name__}: {error}"}}
    with contextlib.suppress(ChannelClosed):
        await channel.send(reply)


async def _dispatch(host: EpisodeHost, op: Any, ref: str, message: dict[str, Any]) -> Any:
    if op == "chat":
        chat = await host.chat(ref, message.get("messages") or [], message.get("tools") or None,
                               **(message.get("params") or {}))
        return chat.model_dump()
    if op == "tool":
        tool = await host.tool(ref, str(message.get("name")), message.get("arguments") or {})
        return tool.model_dump()
    if op == "start_agent":
        return await host.start_agent(ref, str(message.get("name", "subagent")))
    if op == "end_agent":
        await host.end_agent(ref, message.get("error"))
        return None
    raise ValueError(f"unknown op {op!r}")

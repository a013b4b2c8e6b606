"""The harness side of the worker protocol: answer a sandboxed agent's requests.

Rules, because the other side is untrusted:
- The worker must say `ready` (sent before any candidate code is loaded) and then receives
  the task. Requests are served concurrently, at most `MAX_IN_FLIGHT` at once; further ones
  wait (back-pressure on the pipe), so an agent cannot fan out without bound.
- A malformed message ends the episode as the agent's protocol failure; nothing it sends
  can raise out of here.
- `log` messages have no reply and are handled in order, so none arrives after the result.
- When the conversation ends, requests still in flight are cancelled, and it ends only once
  they are gone: a tool call's sandbox is killed and reaped first, so nothing the episode
  started outlives its result.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

from harness.errors import ModelRequestError, ModelUnavailableError
from harness.models.types import ModelClient
from harness.runner.channel import Channel, ChannelClosed, ProtocolError
from harness.runner.host import EpisodeHost
from task_agents.lib.context import BudgetExceeded, TaskView

MAX_IN_FLIGHT = 16


@dataclass
class Served:
    """What the conversation with one worker came to."""

    ready: bool = False
    result: dict[str, Any] | None = None
    protocol_error: str | None = None
    jobs: set[asyncio.Task[None]] = field(default_factory=set)


async def serve_worker(channel: Channel, host: EpisodeHost, task: TaskView,
                       model: ModelClient, served: Served) -> None:
    """Answer the worker until it sends its result or goes away; fill in `served`."""
    limit = asyncio.Semaphore(MAX_IN_FLIGHT)
    try:
        await _handshake(channel, task, model, served)
        while served.ready:
            message = await channel.receive()
            op = message.get("op")
            if op == "result":
                served.result = message
                return
            if op == "log":
                host.log(str(message.get("ref", "root")), str(message.get("message", "")))
                continue
            await limit.acquire()
            job = asyncio.create_task(_answer(channel, host, message))
            served.jobs.add(job)
            job.add_done_callback(served.jobs.discard)
            job.add_done_callback(lambda _done: limit.release())
    except ChannelClosed:
        return
    except ProtocolError as error:
        served.protocol_error = str(error)
    finally:
        await _cancel_and_wait(served.jobs)


async def _cancel_and_wait(jobs: set[asyncio.Task[None]]) -> None:
    """Cancel the jobs and wait until each has finished (its sandbox dead), even if we are
    cancelled meanwhile; our own cancellation is re-raised after."""
    pending = set(jobs)
    for job in pending:
        job.cancel()
    interrupted: asyncio.CancelledError | None = None
    while pending:
        try:
            _done, pending = await asyncio.wait(pending)
        except asyncio.CancelledError as error:
            interrupted = error
    if interrupted is not None:
        raise interrupted


async def _handshake(channel: Channel, task: TaskView, model: ModelClient,
                     served: Served) -> None:
    first = await channel.receive()
    if first.get("op") != "ready":
        raise ProtocolError(f"expected 'ready', got {str(first.get('op'))[:50]!r}")
    served.ready = True
    await channel.send({"op": "start", "task": task.model_dump(), "model": model.model,
                        "provider": model.provider})


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
        error = message.get("error")
        await host.end_agent(ref, str(error) if error is not None else None)
        return None
    raise ValueError(f"unknown op {str(op)[:50]!r}")

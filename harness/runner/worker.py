"""The process that runs candidate code, inside the sandbox.

    python -I -m harness.runner.worker --read-fd R --write-fd W --agent DIR

It receives one `start` message (the task), loads `DIR/agent.py` as package `candidate`, calls
`await run(task, ctx)`, and sends one `result` message. Every model and tool call inside goes
to the harness over the channel (`RemoteEndpoint`), where it is performed and traced; this
process holds no model credentials, no trace exporter and no network.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import itertools
import json
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from harness.errors import ModelRequestError, ModelUnavailableError
from harness.models.types import ChatResult, MessageLike, ToolLike, to_messages, to_tools
from harness.runner.channel import Channel, ChannelClosed, MessageTooLarge, ProtocolError
from harness.runner.context import BoundContext
from task_agents.lib.context import BudgetExceeded, TaskView, ToolResult

# The harness records at most 16 KiB of one log message (`traces.limits`, which this sandboxed
# process cannot import); cutting here too keeps a big message under the channel's limit.
_LOG_CUT = 16 * 1024 - 256

_ERRORS: dict[str, type[Exception]] = {
    "BudgetExceeded": BudgetExceeded,
    "ModelUnavailableError": ModelUnavailableError,
    "ModelRequestError": ModelRequestError,
}


class RemoteEndpoint:
    """The `Endpoint` of a sandboxed agent: each call is a request to the harness."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._sends: set[asyncio.Task[None]] = set()

    async def pump(self) -> None:
        """Deliver replies to the waiting requests until the harness closes the channel."""
        try:
            while True:
                reply = await self._channel.receive()
                future = self._pending.pop(int(reply.get("id", -1)), None)
                if future is not None and not future.done():
                    future.set_result(reply)
        except (ChannelClosed, ProtocolError) as error:
            for future in list(self._pending.values()):
                if not future.done():
                    future.set_exception(ModelUnavailableError(
                        f"the channel to the harness failed: {error}"))

    async def _request(self, op: str, **fields: Any) -> Any:
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            await self._channel.send({"id": request_id, "op": op, **fields})
            reply = await future
        except MessageTooLarge as too_large:  # refused here, before anything was sent
            raise ModelRequestError(f"{op} request refused: {too_large}") from None
        finally:
            self._pending.pop(request_id, None)
        if reply.get("ok"):
            return reply.get("value")
        error = reply.get("error") or {}
        raise _ERRORS.get(error.get("type", ""), RuntimeError)(error.get("message", "failed"))

    async def chat(self, ref: str, messages: Sequence[MessageLike],
                   tools: Sequence[ToolLike] | None = None, **params: Any) -> ChatResult:
        value = await self._request(
            "chat", ref=ref, messages=[m.model_dump() for m in to_messages(messages)],
            tools=[t.model_dump() for t in to_tools(tools)], params=params)
        return ChatResult.model_validate(value)

    async def tool(self, ref: str, name: str, arguments: dict[str, Any]) -> ToolResult:
        value = await self._request("tool", ref=ref, name=name, arguments=arguments)
        return ToolResult.model_validate(value)

    async def start_agent(self, ref: str, name: str) -> str:
        return str(await self._request("start_agent", ref=ref, name=name))

    async def end_agent(self, ref: str, error: str | None = None) -> None:
        await self._request("end_agent", ref=ref, error=error)

    def log(self, ref: str, message: str) -> None:
        send = asyncio.get_running_loop().create_task(
            self._channel.send({"op": "log", "ref": ref,
                                "message": _clip_log(str(message))}))
        self._sends.add(send)
        send.add_done_callback(self._sends.discard)

    async def flush(self) -> None:
        """Wait for fire-and-forget messages (logs), so none arrives after the result."""
        if self._sends:
            await asyncio.gather(*self._sends, return_exceptions=True)


def _clip_log(message: str) -> str:
    data = message.encode("utf-8", errors="surrogatepass")
    if len(data) <= _LOG_CUT:
        return message
    kept = data[:_LOG_CUT].decode("utf-8", errors="ignore")
    return f"{kept}… {len(data) - len(kept.encode())} bytes dropped (log message limit)"


def load_agent(agent_dir: Path) -> ModuleType:
    """Import `agent_dir/agent.py` as `candidate.agent`, so relative imports work."""
    package = ModuleType("candidate")
    package.__path__ = [str(agent_dir)]
    sys.modules["candidate"] = package
    module = importlib.import_module("candidate.agent")
    if not callable(getattr(module, "run", None)):
        raise AttributeError(f"{agent_dir}/agent.py defines no run(task, ctx)")
    return module


async def _run(channel: Channel, agent_dir: Path) -> dict[str, Any]:
    # Everything up to here is harness code; a death before "ready" is the harness's failure.
    await channel.send({"op": "ready"})
    start = await channel.receive()
    endpoint = RemoteEndpoint(channel)
    pump = asyncio.get_running_loop().create_task(endpoint.pump())
    task = TaskView.model_validate(start["task"])
    ctx = BoundContext(endpoint, task, model=start.get("model", ""),
                       provider=start.get("provider", ""))
    try:
        answer = await load_agent(agent_dir).run(task, ctx)
        json.dumps(answer)  # the answer must cross the channel as JSON
        return {"op": "result", "answer": answer}
    except BaseException as error:  # the candidate's failure, reported, never hidden
        return {"op": "result", "error": {
            "type": type(error).__name__, "message": str(error)[:2000],
            "traceback": traceback.format_exc()[-8000:]}}
    finally:
        await endpoint.flush()
        pump.cancel()


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="harness.runner.worker")
    parser.add_argument("--read-fd", type=int, required=True)
    parser.add_argument("--write-fd", type=int, required=True)
    parser.add_argument("--agent", type=Path, required=True)
    args = parser.parse_args(argv)
    channel = await Channel.open(args.read_fd, args.write_fd)
    result = await _run(channel, args.agent.resolve())
    await channel.send(result)
    channel.close()


if __name__ == "__main__":
    asyncio.run(main())

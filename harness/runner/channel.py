"""JSON lines over a pair of inherited pipe fds: the only way in or out of a sandboxed worker.

A network namespace has no loopback, so the worker talks to the harness over pipes it
inherits. Messages are one JSON object per line. Requests carry an integer `id`; replies
echo it with `ok` and `value` or `error`, so many requests (concurrent subagents) can be in
flight at once.

One message is at most `MAX_LINE` bytes. The biggest legitimate message is a chat request
carrying a whole conversation: the largest context of the models we serve (200K tokens for
Claude, 128K for Qwen3 and Llama 3) is under 1 MB of text, under 2 MB JSON-escaped; 4 MiB
leaves twice that. The reader holds at most about that much before it refuses a line (the
stream reader stops at its limit and discards), so a worker cannot make the harness buffer
more. A message that would be larger is refused before it is written (`MessageTooLarge`); a
reply too large to cross becomes an error reply to the same request, so no requester waits
for ever.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

MAX_LINE = 4 * 1024 * 1024  # one message, newline included (see above)


class ChannelClosed(EOFError):
    """The other side closed its end."""


class ProtocolError(ValueError):
    """The other side sent something that is not a well-formed message."""


class MessageTooLarge(ProtocolError):
    """A message this side was about to send is over `MAX_LINE`; nothing was sent."""


class Channel:
    """Read and write JSON lines on two pipe fds."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, read_fd: int, write_fd: int) -> Channel:
        """A channel over the two fds, which it owns from this call on: if it fails (or is
        cancelled) they are closed, by their transports or here."""
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=MAX_LINE)
        try:
            read_transport, _ = await loop.connect_read_pipe(
                lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(read_fd, "rb", buffering=0))
        except BaseException:
            os.close(write_fd)
            raise
        try:
            transport, protocol = await loop.connect_write_pipe(
                asyncio.streams.FlowControlMixin, os.fdopen(write_fd, "wb", buffering=0))
        except BaseException:
            read_transport.close()
            raise
        writer = asyncio.StreamWriter(transport, protocol, None, loop)
        return cls(reader, writer)

    async def send(self, message: dict[str, Any]) -> None:
        data = encode(message)
        if len(data) > MAX_LINE:
            if not _is_reply(message):
                raise MessageTooLarge(f"message of {len(data)} bytes is over the channel's "
                                      f"limit of {MAX_LINE} bytes")
            data = encode({"id": message.get("id"), "ok": False, "error": {
                "type": "ModelRequestError", "message": f"the reply ({len(data)} bytes) is "
                f"over the channel's limit of {MAX_LINE} bytes"}})
        async with self._lock:
            self._writer.write(data)
            try:
                await self._writer.drain()
            except (ConnectionResetError, BrokenPipeError) as error:
                raise ChannelClosed(str(error)) from error

    async def receive(self) -> dict[str, Any]:
        try:
            line = await self._reader.readline()
        except (ValueError, asyncio.LimitOverrunError) as error:
            raise ProtocolError(f"message over {MAX_LINE} bytes") from error
        if not line:
            raise ChannelClosed("end of stream")
        try:
            message = json.loads(line)
        except (ValueError, RecursionError) as error:  # RecursionError: absurd nesting
            raise ProtocolError(f"message is not JSON: {type(error).__name__}") from None
        if not isinstance(message, dict):
            raise ProtocolError("message is not a JSON object")
        return message

    def close(self) -> None:
        self._writer.close()


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, ensure_ascii=False, default=str).encode() + b"\n"


def _is_reply(message: dict[str, Any]) -> bool:
    return "id" in message and "ok" in message and "op" not in message

"""A scripted OpenAI-compatible HTTP server for deterministic tests.

It is a real HTTP server on 127.0.0.1 (real sockets, real HTTP/1.1, keep-alive), served from
a background thread so sync code, async code and subprocesses can all reach it. Replies come
from a script: a queue of `Reply` objects consumed one per chat request, then an optional
`responder` callable that decides from the request body. Every request is recorded.

    with ScriptedServer([Reply.text("hi"), Reply.error(500)]) as server:
        client = OpenAIClient(base_url=server.base_url, model="scripted")

Shipped with the library (not only the tests) so that users can drive their own agents and
meta-agents deterministically, as pydantic-ai ships its test models.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL_ID = "scripted"


@dataclass
class Reply:
    """One scripted reply to a chat completion request."""

    status: int = 200
    content: str | None = ""
    reasoning: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    error_body: dict[str, Any] | None = None
    delay_s: float = 0.0
    usage: dict[str, Any] | None = None

    @classmethod
    def text(cls, content: str, *, reasoning: str | None = None, delay_s: float = 0.0) -> Reply:
        return cls(content=content, reasoning=reasoning, delay_s=delay_s)

    @classmethod
    def tool_call(
        cls, name: str, arguments: dict[str, Any] | str, *, call_id: str | None = None,
        content: str | None = None, reasoning: str | None = None,
    ) -> Reply:
        return cls.tool_calls_of([(name, arguments)], ids=[call_id] if call_id else None,
                                 content=content, reasoning=reasoning)

    @classmethod
    def tool_calls_of(
        cls, calls: Iterable[tuple[str, dict[str, Any] | str]], *, ids: list[str] | None = None,
        content: str | None = None, reasoning: str | None = None,
    ) -> Reply:
        built = []
        for index, (name, arguments) in enumerate(calls):
            raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
            call_id = ids[index] if ids else f"call_{uuid.uuid4().hex[:12]}"
            built.append({"id": call_id, "type": "function",
                          "function": {"name": name, "arguments": raw}})
        return cls(content=content, reasoning=reasoning, tool_calls=built)

    @classmethod
    def error(cls, status: int, message: str = "scripted error", **headers: str) -> Reply:
        body = {"error": {"message": message, "type": "scripted", "code": status}}
        return cls(status=status, error_body=body, headers=dict(headers))

    @classmethod
    def hang(cls, seconds: float = 3600.0) -> Reply:
        """Hold the request open to exercise client timeouts; a stop drops it unanswered."""
        return cls(delay_s=seconds)


Responder = Callable[[dict[str, Any]], Reply]


class _Server(ThreadingHTTPServer):
    # The stdlib's listen backlog is 5: a burst of concurrent clients (64 episodes) would be
    # refused connections while the accept loop catches up.
    request_queue_size = 1024
    daemon_threads = True


class ScriptedServer:
    """Serve scripted chat completions on 127.0.0.1; use as a context manager."""

    def __init__(
        self, script: Iterable[Reply] = (), *, responder: Responder | None = None,
        model: str = MODEL_ID, port: int = 0,
    ) -> None:
        self.script: deque[Reply] = deque(script)
        self.responder = responder
        self.model = model
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = _Server(("127.0.0.1", port), _make_handler(self))
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def push(self, *replies: Reply) -> None:
        with self._lock:
            self.script.extend(replies)

    def start(self) -> ScriptedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def next_reply(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            self.requests.append(body)
            if self.script:
                return self.script.popleft()
        if self.responder is not None:
            return self.responder(body)
        return Reply.error(500, "scripted server: script exhausted and no responder set")

    @property
    def stopped(self) -> bool:
        return self._stopping.is_set()

    def wait(self, seconds: float) -> None:
        """Sleep, waking early when the server stops (so hung requests end with the test)."""
        self._stopping.wait(seconds)


def completion_body(reply: Reply, model: str, body: dict[str, Any]) -> dict[str, Any]:
    """The chat.completion JSON for a successful scripted reply."""
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    if reply.reasoning is not None:
        message["reasoning"] = reply.reasoning
    if reply.tool_calls:
        message["tool_calls"] = reply.tool_calls
    finish = reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")
    prompt_tokens = sum(len(str(m.get("content") or "").split()) for m in body.get("messages", []))
    completion_tokens = len((reply.content or "").split()) + len(reply.tool_calls)
    usage = reply.usage or {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:16]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model") or model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": usage,
    }


def _make_handler(server: ScriptedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; without TCP_NODELAY, Nagle plus the
        # client's delayed ACK stall every response by ~40 ms.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:  # quiet by design
            return

        def do_GET(self) -> None:
            if self.path.rstrip("/") in ("/v1/models", "/models"):
                self._send(200, {"object": "list", "data": [
                    {"id": server.model, "object": "model", "owned_by": "scripted"}]})
            elif self.path == "/health":
                self._send(200, {})
            else:
                self._send(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b"{}"
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._send(404, {"error": {"message": f"no route {self.path}"}})
                return
            try:
                body = json.loads(raw)
            except json.JSONDecodeError:
                self._send(400, {"error": {"message": "body is not JSON"}})
                return
            reply = server.next_reply(body)
            if reply.delay_s:
                server.wait(reply.delay_s)
            if server.stopped:
                # Stopped mid-request: drop the connection unanswered, as a crashed server does.
                self.close_connection = True
                return
            if reply.status != 200:
                self._send(reply.status, reply.error_body or {}, reply.headers)
            else:
                self._send(200, completion_body(reply, server.model, body), reply.headers)

        def _send(self, status: int, payload: dict[str, Any],
                  headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            try:
                self.send_response(status, HTTPStatus(status).phrase)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test); nothing to answer

    return Handler

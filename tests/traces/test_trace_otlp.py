"""OTLP/HTTP export to real receivers on 127.0.0.1: a protobuf-decoding server, and Phoenix.

The Phoenix test runs when a `phoenix` executable is found: $PHOENIX_BIN, then PATH, then
next to this interpreter. Phoenix pins `anthropic<2` and older `python-dateutil`/`tenacity`,
so it is best installed in a venv of its own: `python -m venv /tmp/phoenix-venv &&
/tmp/phoenix-venv/bin/pip install arize-phoenix`, then `PHOENIX_BIN=/tmp/phoenix-venv/bin/phoenix`.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from harness.models.types import ChatResult, ReasoningPart, ToolCall, Usage
from traces import TraceStore, TracingHandle, setup_tracing
from traces import conventions as c


class Receiver:
    """A real OTLP/HTTP traces endpoint that decodes protobuf requests."""

    def __init__(self) -> None:
        self.requests: list[ExportTraceServiceRequest] = []
        self.paths: list[str] = []
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def spans(self) -> dict[str, dict[str, Any]]:
        """Span name -> attributes, from every request received."""
        out: dict[str, dict[str, Any]] = {}
        for request in self.requests:
            for resource in request.resource_spans:
                for scope in resource.scope_spans:
                    for span in scope.spans:
                        attrs = {kv.key: _value(kv.value) for kv in span.attributes}
                        out[span.name] = {**attrs, "_parent": span.parent_span_id.hex()}
        return out

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                receiver.requests.append(request)
                receiver.paths.append(self.path)
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        return Handler


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    return getattr(value, kind) if kind else None


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


class ToolUsingClient:
    """Test data: a ModelClient that reasons and asks for a tool."""

    model = "m-otlp"
    provider = "vllm"

    async def chat(self, messages: Any, tools: Any = None, **params: Any) -> ChatResult:
        return ChatResult(
            text="calling",
            reasoning=[ReasoningPart(text="need a sum")],
            tool_calls=[ToolCall(id="c1", name="add", arguments={"a": 1, "b": 2})],
            usage=Usage(input_tokens=9, output_tokens=4),
            finish_reason="tool_call",
            model=self.model,
        )

    async def aclose(self) -> None:
        return None


async def emit_episode(handle: TracingHandle) -> None:
    client = handle.wrap_client(ToolUsingClient())
    add = handle.tool("add", lambda a, b: a + b)
    with handle.agent_span("solver", task_id="t-otlp", episode_id="e-otlp"):
        reply = await client.chat(
            [{"role": "system", "content": "sum"}, {"role": "user", "content": "1+2"}],
            tools=[{"name": "add"}],
            temperature=0.0,
        )
        await add.invoke(reply.tool_calls[0])


async def test_receiver_gets_genai_spans(receiver: Receiver, tmp_path: Path) -> None:
    handle = setup_tracing(tmp_path / "traces.sqlite", otlp_endpoint=receiver.endpoint)
    assert handle.otlp_enabled
    await emit_episode(handle)
    handle.shutdown()
    assert set(receiver.paths) == {"/v1/traces"}
    spans = receiver.spans()
    assert set(spans) == {"invoke_agent solver", "chat m-otlp", "execute_tool add"}
    chat = spans["chat m-otlp"]
    assert chat[c.GEN_AI_OPERATION_NAME] == "chat"
    assert chat[c.GEN_AI_PROVIDER_NAME] == "vllm"
    assert chat[c.GEN_AI_RESPONSE_FINISH_REASONS] == ["tool_call"]
    assert chat[c.GEN_AI_USAGE_INPUT_TOKENS] == 9
    assert chat[c.HARNESS_EPISODE_ID] == "e-otlp"
    output = json.loads(chat[c.GEN_AI_OUTPUT_MESSAGES])[0]["parts"]
    assert output[0] == {"type": "reasoning", "content": "need a sum"}
    assert output[2]["type"] == "tool_call" and output[2]["arguments"] == {"a": 1, "b": 2}
    tool = spans["execute_tool add"]
    assert (tool[c.GEN_AI_TOOL_CALL_ID], tool[c.GEN_AI_TOOL_CALL_RESULT]) == ("c1", "3")
    assert tool["_parent"] == chat["_parent"] != ""
    resource = receiver.requests[0].resource_spans[0].resource
    assert any(
        kv.key == "service.name" and kv.value.string_value == "harness"
        for kv in resource.attributes
    )
    with TraceStore(tmp_path / "traces.sqlite") as store:  # the local store got them too
        assert [e.span_count for e in store.episodes()] == [3]


async def test_endpoint_from_environment(
    receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    handle = setup_tracing(tmp_path / "traces.sqlite", service_name="env-run")
    assert handle.otlp_enabled
    await emit_episode(handle)
    handle.shutdown()
    assert len(receiver.spans()) == 3
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT")
    assert not setup_tracing(tmp_path / "other.sqlite").otlp_enabled


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def phoenix_bin() -> str | None:
    candidates = [
        os.environ.get("PHOENIX_BIN"),
        shutil.which("phoenix"),
        str(Path(sys.executable).parent / "phoenix"),
    ]
    return next((p for p in candidates if p and Path(p).is_file()), None)


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def wait_until(check: Any, timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            result = check()
            if result:
                return result
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError("gave up waiting")
        time.sleep(0.3)


@pytest.fixture
def phoenix(tmp_path: Path) -> Iterator[str]:
    binary = phoenix_bin()
    if binary is None:
        pytest.skip("phoenix is not installed (set PHOENIX_BIN)")
    http_port, grpc_port = free_port(), free_port()
    env = {
        **os.environ,
        "PHOENIX_PORT": str(http_port),
        "PHOENIX_GRPC_PORT": str(grpc_port),
        "PHOENIX_HOST": "127.0.0.1",
        "PHOENIX_WORKING_DIR": str(tmp_path / "phoenix"),
    }
    log = (tmp_path / "phoenix.log").open("wb")
    process = subprocess.Popen([binary, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{http_port}"
    try:
        wait_until(lambda: urllib.request.urlopen(f"{url}/healthz", timeout=2).status == 200, 120)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


async def test_phoenix_reads_our_spans(phoenix: str, tmp_path: Path) -> None:
    handle = setup_tracing(tmp_path / "traces.sqlite", otlp_endpoint=phoenix)
    await emit_episode(handle)
    handle.shutdown()

    def spans() -> dict[str, Any]:
        data = get_json(f"{phoenix}/v1/projects/default/spans?limit=50")["data"]
        return {s["name"]: s for s in data} if len(data) >= 3 else {}

    found = await asyncio.to_thread(wait_until, spans, 30)
    assert set(found) == {"invoke_agent solver", "chat m-otlp", "execute_tool add"}
    chat = found["chat m-otlp"]
    assert chat["span_kind"] == "LLM" and found["execute_tool add"]["span_kind"] == "TOOL"
    assert chat["parent_id"] == found["invoke_agent solver"]["context"]["span_id"]
    attrs = chat["attributes"]
    assert attrs[c.GEN_AI_USAGE_INPUT_TOKENS] == 9
    # Phoenix converted our gen_ai messages into its own OpenInference attributes.
    assert attrs["llm.input_messages.0.message.content"] == "sum"
    prefix = "llm.output_messages.0.message"
    assert attrs[f"{prefix}.contents.0.message_content.type"] == "reasoning"
    assert attrs[f"{prefix}.tool_calls.0.tool_call.function.name"] == "add"

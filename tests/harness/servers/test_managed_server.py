"""ManagedServer: start and wait for health, reuse a healthy server, report failed starts."""

from __future__ import annotations

import sys

import pytest

from harness.errors import ServerStartError
from harness.servers import ManagedServer
from harness.testing import ScriptedServer


def scripted_process(port: int, model: str = "scripted") -> ManagedServer:
    argv = [sys.executable, "-m", "harness.testing", "--port", str(port), "--model", model]
    return ManagedServer(argv, host="127.0.0.1", port=port, served_name=model)


def test_starts_waits_healthy_and_stops(port: int) -> None:
    server = scripted_process(port).start(timeout_s=30)
    try:
        assert server.is_healthy() and not server.reused
        assert server.served_models() == ["scripted"]
        process = server.process
        assert process is not None
    finally:
        server.stop()
    assert process.poll() is not None
    assert not server.is_healthy()


def test_reuses_a_healthy_server_and_leaves_it_running() -> None:
    with ScriptedServer() as running:
        server = scripted_process(running.port).start(timeout_s=10)
        assert server.reused and server.process is None
        server.stop()
        assert server.is_healthy()  # not ours, still up


def test_refuses_to_reuse_a_server_with_another_model() -> None:
    with ScriptedServer(model="other-model") as running, \
            pytest.raises(ServerStartError, match="serves \\['other-model'\\]"):
        scripted_process(running.port).start(timeout_s=10)


def test_a_crashing_server_reports_its_last_log_lines(port: int) -> None:
    argv = [sys.executable, "-c", "import sys; print('loading weights'); "
            "print('CUDA out of memory', file=sys.stderr); sys.exit(3)"]
    server = ManagedServer(argv, host="127.0.0.1", port=port, served_name="m")
    with pytest.raises(ServerStartError) as caught:
        server.start(timeout_s=30)
    message = str(caught.value)
    assert "exited with code 3" in message
    assert "CUDA out of memory" in message and "loading weights" in message


def test_a_server_that_never_gets_ready_is_killed(port: int) -> None:
    argv = [sys.executable, "-c", "import time; print('stuck', flush=True); time.sleep(60)"]
    server = ManagedServer(argv, host="127.0.0.1", port=port, served_name="m")
    with pytest.raises(ServerStartError, match="not ready after 1 s"):
        server.start(timeout_s=1)
    assert server.process is None


class _BusyModels:
    """A server like llama.cpp mid-completion: it listens, but /v1/models answers late."""

    def __init__(self, delay_s: float) -> None:
        import json
        import threading
        import time
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        started = time.monotonic()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                time.sleep(max(0.0, delay_s - (time.monotonic() - started)))
                body = json.dumps({"data": [{"id": "scripted"}]}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_a_busy_server_on_the_port_is_waited_for_not_doubled() -> None:
    busy = _BusyModels(delay_s=4.0)  # the health check gives up after 2 s
    try:
        server = scripted_process(busy.port).start(timeout_s=20)
        assert server.reused and server.process is None  # no second server was started
    finally:
        busy.close()

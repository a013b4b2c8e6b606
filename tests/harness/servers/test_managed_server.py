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

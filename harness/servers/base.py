"""Start, health-check and stop a local model server process.

Rules of `ManagedServer`:
- A healthy server already answering on the port is reused, never restarted, and not stopped
  by us (we do not own it). It must serve the expected model; otherwise start fails loudly.
- Ready means every URL in `health_paths` answers 200 (vLLM: /health then /v1/models;
  llama.cpp has no /health, so /v1/models alone).
- A child that exits or is not ready in time raises `ServerStartError` ending with the
  last lines of its log.
- `stop()` sends SIGTERM to the child's process group, waits, then SIGKILL.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections import deque
from pathlib import Path

from harness.errors import ServerStartError

LOG_TAIL_LINES = 25


class ManagedServer:
    """A model server child process (or a reused one) reachable at `base_url`."""

    health_paths: tuple[str, ...] = ("/v1/models",)

    def __init__(self, argv: list[str], *, host: str, port: int, served_name: str,
                 env: dict[str, str] | None = None, log_path: Path | None = None) -> None:
        self.argv = argv
        self.host = host
        self.port = port
        self.served_name = served_name
        self.env = env
        self.log_path = log_path or Path(tempfile.gettempdir()) / f"harness-server-{port}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.reused = False

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    def is_healthy(self) -> bool:
        return all(_get_status(self.root_url + path) == 200 for path in self.health_paths)

    def served_models(self) -> list[str]:
        body = _get_json(self.root_url + "/v1/models") or {}
        data = body.get("data")
        return [str(item.get("id")) for item in data if isinstance(item, dict)] \
            if isinstance(data, list) else []

    def start(self, timeout_s: float) -> ManagedServer:
        """Reuse a healthy server on the port, or start ours and wait until it is ready.

        A server that listens but does not answer yet is waited for, not doubled: llama.cpp
        answers `/v1/models` only between completions, and a completion an abandoned request
        left running can hold it for a minute."""
        if self.is_healthy() or (self._listening() and self._wait_reused(timeout_s)):
            self._check_reused_model()
            self.reused = True
            return self
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=self.env, start_new_session=True)
        try:
            self._wait_ready(timeout_s)
        except BaseException:  # Ctrl-C or a failed start: never leave a server (or a GPU) held
            self.stop()
            raise
        return self

    def stop(self, grace_s: float = 10.0) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        _signal_group(process, signal.SIGTERM)
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait(timeout=grace_s)

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            with open(self.log_path, errors="replace") as handle:
                return "".join(deque(handle, maxlen=lines)).rstrip()
        except OSError:
            return "(no log)"

    def __enter__(self) -> ManagedServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _listening(self) -> bool:
        try:
            socket.create_connection((self.host, self.port), timeout=1).close()
        except OSError:
            return False
        return True

    def _wait_reused(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.is_healthy():
                return True
            if not self._listening():
                return False  # it went away: start ours
            time.sleep(0.5)
        raise ServerStartError(f"port {self.port} has a server that did not answer "
                               f"{self.health_paths[-1]} within {timeout_s:.0f} s; stop it or "
                               "choose another --port")

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.process is not None
            code = self.process.poll()
            if code is not None:
                self.process = None
                raise self._start_error(f"exited with code {code} before becoming ready")
            if self.is_healthy():
                return
            time.sleep(0.25)
        self.stop()
        raise self._start_error(f"was not ready after {timeout_s:.0f} s")

    def _start_error(self, what: str) -> ServerStartError:
        command = " ".join(self.argv[:6]) + (" …" if len(self.argv) > 6 else "")
        return ServerStartError(
            f"model server `{command}` {what}; last log lines ({self.log_path}):\n"
            f"{self.log_tail()}")

    def _check_reused_model(self) -> None:
        models = self.served_models()
        if self.served_name and self.served_name not in models:
            raise ServerStartError(
                f"port {self.port} already has a server, but it serves {models or 'nothing'}, "
                f"not '{self.served_name}'; stop it or choose another --port")


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


def _get_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code
    except (OSError, ValueError):
        return None


def _get_json(url: str) -> dict[str, object] | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            data = json.loads(response.read())
            return data if isinstance(data, dict) else None
    except (OSError, ValueError):
        return None

"""Shared fixtures: free ports and the scripted OpenAI-compatible server."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from harness.testing import ScriptedServer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        yield server

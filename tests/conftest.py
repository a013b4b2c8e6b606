"""Shared fixtures: free ports and the scripted OpenAI-compatible server."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

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


def live_processes_named(marker: str) -> int:
    """Processes called `marker` still running (a zombie is dead: some containers' init never
    reaps the orphans it inherits)."""
    found = 0
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and Path(f"/proc/{entry}/comm").read_text().strip() == marker:
                state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
                found += state != "Z"
        except (OSError, IndexError):
            pass
    return found

"""Fixtures for the trace tests: a tracing handle on a temp store, and a traced client that
talks to the scripted OpenAI-compatible server (`scripted` from tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from harness.models.openai_client import OpenAIClient
from harness.testing import ScriptedServer
from traces import TracedModelClient, TracingHandle, setup_tracing


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "run" / "traces.sqlite"


@pytest.fixture
def tracing(db_path: Path) -> Iterator[TracingHandle]:
    handle = setup_tracing(db_path, synchronous=True)
    yield handle
    handle.shutdown()


@pytest.fixture
async def client(
    scripted: ScriptedServer, tracing: TracingHandle
) -> AsyncIterator[TracedModelClient]:
    inner = OpenAIClient(scripted.base_url, "scripted", provider="vllm", max_retries=0)
    traced = tracing.wrap_client(inner)
    yield traced
    await traced.aclose()

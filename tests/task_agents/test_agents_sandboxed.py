"""Each starter agent loads and answers the way the harness really runs it: in the sandboxed
worker, imported as `candidate.agent` (so folder-local modules must be imported relatively)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import task_agents
from harness.models import OpenAIClient
from harness.runner.episode import EpisodeSetup, run_episode
from harness.runner.policy import worker_policy
from harness.runner.tools import HarnessTools
from harness.runner.workers import WorkerPool
from harness.sandbox import detect_isolation
from harness.testing import Reply, ScriptedServer
from task_agents.lib.context import TaskView
from traces.setup import TracingHandle

AGENTS = Path(task_agents.__file__).resolve().parent
FACTORIAL = {"name": "math.factorial", "description": "n!",
             "parameters": {"type": "object", "properties": {"number": {"type": "integer"}}}}
CASES: list[tuple[str, TaskView, Reply, Any]] = [
    ("caller", TaskView(task_id="c", category="simple_python", prompt="5!?", tools=[FACTORIAL]),
     Reply.tool_call("math_factorial", {"number": 5}),
     [{"name": "math.factorial", "arguments": {"number": 5}}]),
    ("coder", TaskView(task_id="k", prompt='def one():\n    """1"""\n',
                       metadata={"entry_point": "one"}),
     Reply.text("```python\ndef one():\n    return 1\n```"), "def one():\n    return 1\n"),
    ("solver", TaskView(task_id="s", prompt="3+4?", metadata={"numeric_answer": True}),
     Reply.text("3 + 4 = 7\nAnswer: 7"), "7"),
]


@pytest.mark.parametrize(("name", "task", "reply", "expected"), CASES, ids=[c[0] for c in CASES])
async def test_agent_answers_in_the_sandboxed_worker(name: str, task: TaskView, reply: Reply,
                                                     expected: Any, scripted: ScriptedServer,
                                                     tracing: TracingHandle) -> None:
    scripted.push(reply)
    client = OpenAIClient(scripted.base_url, "scripted", timeout_s=10, max_retries=0)
    agent_dir = AGENTS / name
    policy = worker_policy(agent_dir, hidden=[], wall_time_s=60)
    try:
        async with WorkerPool(policy, detect_isolation(), fork=True) as workers:
            setup = EpisodeSetup(agent_dir=agent_dir, model=client, tracing=tracing,
                                 tools=HarnessTools(), workers=workers)
            outcome = await run_episode(setup, task, episode_id=name)
    finally:
        await client.aclose()
    assert (outcome.agent_error, outcome.infra_error) == (None, None)
    assert outcome.answered and outcome.answer == expected
    names = [s.name for s in tracing.store().spans(name)]
    assert names == [f"invoke_agent {name}", "chat scripted"]

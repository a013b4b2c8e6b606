"""A model server that dies mid-run gives `error` episodes, retried once it is back.

None of them may be counted as a wrong answer.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from harness.runner.run import EvalRequest, run_eval
from harness.testing import Reply, ScriptedServer
from tests.harness.runner.conftest import scripted_config, write_agent, write_benchmark

AGENT = """
    async def run(task, ctx):
        return (await ctx.model.chat([{"role": "user", "content": task.prompt}])).text
"""


def slow_five(body: dict) -> Reply:
    return Reply.text("5", delay_s=0.5)


async def test_episodes_cut_by_an_outage_are_retried_not_failed(tmp_path: Path) -> None:
    bench = write_benchmark(tmp_path, [{"task_id": f"t{i}", "prompt": "2+3", "answer": 5}
                                       for i in range(4)])
    agent = write_agent(tmp_path, AGENT)
    first = ScriptedServer(responder=slow_five).start()
    port = first.port
    config = scripted_config(first, concurrency=2, error_retries=3, error_wait_s=30.0)
    run = asyncio.create_task(run_eval(config, EvalRequest(
        agent_dir=agent, benchmark=bench, out_dir=tmp_path / "runs")))
    # The server records requests on its own threads; poll until two episodes wait on it.
    while len(first.requests) < 2:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    await asyncio.to_thread(first.stop)
    await asyncio.sleep(1.5)
    with ScriptedServer(responder=slow_five, port=port):
        result = await asyncio.wait_for(run, timeout=120)

    statuses = {e.task_id: (e.status, e.passed) for e in result.episodes}
    assert statuses == {f"t{i}": ("scored", True) for i in range(4)}
    assert max(e.attempts for e in result.episodes) >= 2
    assert result.aggregate is not None
    assert (result.aggregate.errors, result.aggregate.mean_score) == (0, 1.0)


async def test_a_server_that_never_returns_gives_errors_not_failures(tmp_path: Path) -> None:
    bench = write_benchmark(tmp_path, [{"task_id": "t", "prompt": "2+3", "answer": 5}])
    agent = write_agent(tmp_path, AGENT)
    with ScriptedServer() as server:
        config = scripted_config(server, error_retries=1, error_wait_s=1.0)
    result = await run_eval(config, EvalRequest(agent_dir=agent, benchmark=bench,
                                                out_dir=tmp_path / "runs"))
    [episode] = result.episodes
    assert (episode.status, episode.error_kind, episode.attempts) == (
        "error", "model_unavailable", 2)
    assert result.aggregate is not None
    assert (result.aggregate.counted, result.aggregate.errors) == (0, 1)

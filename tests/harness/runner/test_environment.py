"""A task environment (BFCL multi-turn) through the sandboxed runner, with the real caller."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.registry import get_benchmark
from harness.runner.run import EvalRequest, run_eval
from harness.testing import Reply, ScriptedServer
from tests.harness.runner.conftest import scripted_config
from traces.store import TraceStore

CALLER = Path(__file__).resolve().parents[3] / "task_agents" / "caller"


async def test_caller_runs_gold_calls_in_the_environment(tmp_path: Path) -> None:
    spec = "bfcl:multi_turn_base"
    bench = get_benchmark(spec)
    task = bench.tasks("train")[0]
    gold = bench.reference_answer(task.task_id)
    script = []
    for turn in gold:
        calls = [(c["name"], c["arguments"]) for c in turn]
        script += [Reply.tool_calls_of(calls), Reply.text("done")] if calls else [
            Reply.text("nothing to do")]
    with ScriptedServer(script) as server:
        result = await run_eval(scripted_config(server, concurrency=1), EvalRequest(
            agent_dir=CALLER, benchmark=spec, task_ids=[task.task_id], out_dir=tmp_path))
    [episode] = result.episodes
    assert (episode.status, episode.passed) == ("scored", True), episode.detail
    executed = sum(len(turn) for turn in gold)
    assert episode.tool_calls == executed

    with TraceStore(tmp_path / result.run_id / "traces.sqlite") as store:
        tools = [s for s in store.spans(episode.episode_id)
                 if s.name.startswith("execute_tool ")]
    assert [s.name.removeprefix("execute_tool ") for s in tools] == [
        c["name"] for turn in gold for c in turn]
    first = json.loads(tools[0].attributes["gen_ai.tool.call.result"])
    assert first["ok"] is True and first["output"] and "Error" not in first["output"]

"""run_eval end to end with the scripted server: sandboxed workers, scores, results, traces."""

from __future__ import annotations

from pathlib import Path

from harness.runner.results import RunResult
from harness.testing import Reply, ScriptedServer
from tests.harness.runner.conftest import evaluate, scripted_config, write_agent, write_benchmark
from traces.store import TraceStore

ANSWERING_AGENT = """
    async def run(task, ctx):
        reply = await ctx.model.chat([{"role": "user", "content": task.prompt}], max_tokens=20)
        async with ctx.subagent("checker"):
            check = await ctx.tool("run_python", code="print('checked')")
        ctx.log("answer ready")
        return reply.text + " " + check.output
"""


def arithmetic(body: dict) -> Reply:
    prompt = body["messages"][-1]["content"]
    return Reply.text("Answer: 5" if "2+3" in prompt else "Answer: 8",
                      reasoning=f"thinking about {prompt}")


async def test_scores_results_and_traces(tmp_path: Path) -> None:
    bench = write_benchmark(tmp_path, [
        {"task_id": "add-a", "prompt": "2+3?", "answer": 5},
        {"task_id": "add-b", "prompt": "3+4?", "answer": 7}])
    agent = write_agent(tmp_path, ANSWERING_AGENT)
    with ScriptedServer(responder=arithmetic) as server:
        result, by_task = await evaluate(scripted_config(server), agent, bench, tmp_path / "runs")

    assert (by_task["add-a"].status, by_task["add-a"].passed) == ("scored", True)
    assert (by_task["add-b"].status, by_task["add-b"].passed) == ("scored", False)
    assert by_task["add-a"].model_calls == 1 and by_task["add-a"].tool_calls == 1
    assert by_task["add-a"].input_tokens > 0 and by_task["add-a"].isolated
    assert result.aggregate is not None and result.aggregate.mean_score == 0.5
    assert 0.0 < result.aggregate.ci_low < 0.5 < result.aggregate.ci_high < 1.0

    run_dir = tmp_path / "runs" / result.run_id
    assert RunResult.load(run_dir / "results.json") == result
    with TraceStore(run_dir / "traces.sqlite") as store:
        spans = store.spans(by_task["add-a"].episode_id)
    names = {s.name: s for s in spans}
    assert set(names) == {"invoke_agent agent", "chat scripted", "invoke_agent checker",
                          "execute_tool run_python"}
    root, chat = names["invoke_agent agent"], names["chat scripted"]
    assert chat.parent_id == root.span_id
    assert names["invoke_agent checker"].parent_id == root.span_id
    assert names["execute_tool run_python"].parent_id == names["invoke_agent checker"].span_id
    assert "thinking about 2+3?" in chat.attributes["gen_ai.output.messages"]
    assert root.attributes["harness.episode.status"] == "answered"
    assert any(e["name"] == "agent.log" for e in root.events)


async def test_crashing_agent_is_a_failure_with_its_traceback(tmp_path: Path) -> None:
    bench = write_benchmark(tmp_path, [{"task_id": "t", "prompt": "x", "answer": 1}])
    agent = write_agent(tmp_path, """
        async def run(task, ctx):
            raise ValueError("the agent broke")
    """)
    with ScriptedServer() as server:
        _, by_task = await evaluate(scripted_config(server), agent, bench, tmp_path / "runs")
    episode = by_task["t"]
    assert (episode.status, episode.score) == ("failed", 0.0)
    assert episode.error_kind == "crash:ValueError"
    assert episode.error and "the agent broke" in episode.error and "Traceback" in episode.error


async def test_syntax_error_in_candidate_is_a_failure(tmp_path: Path) -> None:
    bench = write_benchmark(tmp_path, [{"task_id": "t", "prompt": "x", "answer": 1}])
    agent = write_agent(tmp_path, "async def run(task, ctx)\n    return 1\n")
    with ScriptedServer() as server:
        _, by_task = await evaluate(scripted_config(server), agent, bench, tmp_path / "runs")
    assert by_task["t"].status == "failed"
    assert by_task["t"].error_kind == "crash:SyntaxError"

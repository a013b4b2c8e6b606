"""Through the real `harness eval`: the candidate's answer cannot run code in the harness,
an answer too large to score is the agent's failure, and a scorer that overruns is killed and
recorded as a failure, not a crash of the run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks import get_benchmark
from benchmarks.answers import MAX_ANSWER_BYTES
from harness.testing import Reply, ScriptedServer
from tests.harness.runner.conftest import evaluate, scripted_config, write_agent, write_benchmark

REPLYING_AGENT = """
async def run(task, ctx):
    reply = await ctx.model.chat([{"role": "user", "content": task.prompt}], max_tokens=50)
    return reply.text
"""


async def test_a_countdown_answer_cannot_run_code_in_the_harness(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = f'<answer>__import__("os").system("touch {marker}")</answer>'

    def respond(_request: dict[str, Any]) -> Reply:
        return Reply.text(payload)

    agent = write_agent(tmp_path, REPLYING_AGENT)
    with ScriptedServer(responder=respond) as server:
        _, by_task = await evaluate(scripted_config(server), agent, "countdown:size=4",
                                    tmp_path / "runs")
    assert by_task, "no episode ran"
    assert not marker.exists(), "the answer ran as code in the harness"
    for episode in by_task.values():
        assert episode.status == "scored" and not episode.passed and episode.score == 0


async def test_an_answer_too_large_is_a_failure_not_a_score(tmp_path: Path) -> None:
    bench = write_benchmark(tmp_path, [{"task_id": "big", "prompt": "p", "answer": "x"}])
    agent = write_agent(tmp_path, f"""
async def run(task, ctx):
    return "x" * {MAX_ANSWER_BYTES + 10}
""")
    with ScriptedServer() as server:
        _, by_task = await evaluate(scripted_config(server), agent, bench, tmp_path / "runs")
    episode = by_task["big"]
    assert episode.status == "failed" and episode.error_kind == "answer_too_large"
    assert "too large" in (episode.error or "") and episode.score == 0


async def test_a_scorer_that_overruns_is_killed_and_recorded(tmp_path: Path) -> None:
    """The user's pattern backtracks exponentially on this answer (seconds at 25 letters)."""
    bench = write_benchmark(tmp_path, [
        {"task_id": "slow", "prompt": "p", "answer": "(a+)+$", "match": "regex"},
        {"task_id": "fine", "prompt": "q", "answer": "ok"}])
    get_benchmark(bench).score_timeout_s = 0.5  # the run below uses this cached instance
    agent = write_agent(tmp_path, """
async def run(task, ctx):
    return "Answer: " + ("a" * 25 + "!" if task.task_id == "slow" else "ok")
""")
    with ScriptedServer() as server:
        _, by_task = await evaluate(scripted_config(server), agent, bench, tmp_path / "runs")
    slow, fine = by_task["slow"], by_task["fine"]
    assert slow.status == "failed" and slow.error_kind == "scorer_timeout"
    assert "scorer timeout" in (slow.error or "")
    assert fine.status == "scored" and fine.passed

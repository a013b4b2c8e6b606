"""Whose failure is it? An agent cannot turn its own failing task into an infrastructure error.

The server here is a `ScriptedServer` made single-slot, as llama.cpp's is: one completion at a
time, and `/v1/models` waits behind the running one (measured on the real embedded server:
59 s behind a 600-token generation), while an unknown route such as `/health` is answered at
once (404).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from harness.models import OpenAIClient
from harness.runner.episode import reachable
from harness.runner.results import Aggregate, EpisodeResult, RunResult, aggregate
from harness.testing import Reply, ScriptedServer
from tests.harness.runner.conftest import evaluate, scripted_config, write_agent, write_benchmark

HOG_S = 30.0  # how long one hogging completion holds the slot (the server's stop ends it)

AGENT = """
    async def run(task, ctx):
        reply = await ctx.model.chat([{"role": "user", "content": task.prompt}],
                                     max_tokens=100000)
        return reply.text
"""


class SingleSlotServer(ScriptedServer):
    """One completion at a time; `/v1/models` waits for the slot; `/health` is a quick 404."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        slot = threading.Lock()
        scripted: Any = self._httpd.RequestHandlerClass

        class OneAtATime(scripted):
            def do_POST(self) -> None:
                with slot:
                    super().do_POST()

            def do_GET(self) -> None:
                if self.path == "/health":  # llama.cpp has no such route: FastAPI's 404
                    self._send(404, {"detail": "Not Found"})
                    return
                with slot:
                    super().do_GET()

        handler: type[BaseHTTPRequestHandler] = OneAtATime
        self._httpd.RequestHandlerClass = handler


def hog_or_answer(body: dict[str, Any]) -> Reply:
    prompt = body["messages"][-1]["content"]
    return Reply.hang(HOG_S) if prompt == "hog" else Reply.text("5")


async def test_an_agent_that_hogs_a_single_slot_server_fails_its_own_task(
        tmp_path: Path) -> None:
    bench = write_benchmark(tmp_path, [{"task_id": "hog", "prompt": "hog", "answer": 5}])
    agent = write_agent(tmp_path, AGENT)
    with SingleSlotServer(responder=hog_or_answer) as server:
        config = scripted_config(server, request_timeout_s=1.0, error_retries=0,
                                 concurrency=1)
        result, by_task = await evaluate(config, agent, bench, tmp_path / "runs")

    episode = by_task["hog"]
    # Its own request timed out while the server still answered: its failure, counted as 0.
    assert (episode.status, episode.error_kind, episode.score) == ("failed", "model_timeout", 0)
    assert result.aggregate is not None
    assert (result.aggregate.counted, result.aggregate.errors) == (1, 0)
    assert result.aggregate.mean_score == 0.0


async def test_the_probe_does_not_queue_behind_a_running_completion() -> None:
    with SingleSlotServer(responder=lambda body: Reply.hang(HOG_S)) as server:
        client = OpenAIClient(server.base_url, "scripted", timeout_s=60, max_retries=0)
        busy = asyncio.create_task(client.chat([{"role": "user", "content": "hog"}]))
        while not server.requests:  # noqa: ASYNC110 - the server records on its own thread
            await asyncio.sleep(0.02)
        started = time.monotonic()
        assert await reachable(client, timeout_s=3.0)
        assert time.monotonic() - started < 2.0
        busy.cancel()
        await client.aclose()


async def test_a_server_that_is_down_is_not_reachable() -> None:
    with ScriptedServer() as server:
        client = OpenAIClient(server.base_url, "scripted", max_retries=0)
    assert not await reachable(client, timeout_s=2.0)
    await client.aclose()


async def test_a_server_error_while_the_server_is_up_is_the_agents(tmp_path: Path) -> None:
    bench = write_benchmark(tmp_path, [{"task_id": "t", "prompt": "2+3", "answer": 5}])
    agent = write_agent(tmp_path, AGENT)
    with ScriptedServer(responder=lambda body: Reply.error(500, "bad input")) as server:
        config = scripted_config(server, error_retries=1, error_wait_s=1.0)
        _, by_task = await evaluate(config, agent, bench, tmp_path / "runs")
    assert (by_task["t"].status, by_task["t"].error_kind) == ("failed", "model_error")
    assert by_task["t"].attempts == 1


def _episodes(errors: int, total: int) -> list[EpisodeResult]:
    return [EpisodeResult(task_id=f"t{i}", episode_id=str(i), status="scored", score=1.0,
                          passed=True) for i in range(total - errors)] + [
        EpisodeResult(task_id=f"e{i}", episode_id=f"e{i}", status="error",
                      error_kind="model_unavailable") for i in range(errors)]


def test_a_run_with_too_many_errors_publishes_no_mean(tmp_path: Path) -> None:
    agg = aggregate(_episodes(errors=2, total=10), max_error_share=0.1)
    assert (agg.errors, agg.error_share) == (2, 0.2)
    assert (agg.mean_score, agg.ci_low, agg.ci_high, agg.pass_rate) == (None, None, None, None)
    assert agg.withheld is not None and "2 of 10 episodes (20%)" in agg.withheld
    run = RunResult(run_id="r", agent="a", agent_sha256="", benchmark="b", split="train",
                    model="m", trials=1, started_at=datetime.now(UTC),
                    episodes=_episodes(errors=2, total=10), aggregate=agg)
    assert (run.error_count, run.error_share) == (2, 0.2)
    run.save(tmp_path / "results.json")  # versioned, and the reason travels with it
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["schema_version"] == 2 and saved["error_count"] == 2
    assert saved["aggregate"]["mean_score"] is None and saved["aggregate"]["withheld"]
    assert RunResult.load(tmp_path / "results.json").aggregate == agg


def test_a_share_at_the_limit_still_publishes_the_mean() -> None:
    agg = aggregate(_episodes(errors=1, total=10), max_error_share=0.1)
    assert agg.withheld is None and agg.mean_score == 1.0 and agg.counted == 9


def test_results_of_schema_1_still_load() -> None:
    v1 = {"schema_version": 1, "episodes": 2, "counted": 2, "errors": 0, "mean_score": 0.5,
          "ci_low": 0.1, "ci_high": 0.9, "pass_rate": 0.5, "input_tokens": 1,
          "output_tokens": 1, "cost_usd": 0.0, "mean_latency_s": 1.0}
    agg = Aggregate.model_validate(v1)
    assert (agg.mean_score, agg.withheld, agg.error_share) == (0.5, None, 0.0)

"""The host stays in charge whatever a candidate sends or asks for.

Malformed protocol messages, unbounded fan-out, forbidden request parameters, budget races,
provoked timeouts, fatal model errors and cancellation — each has a defined outcome.
"""

from __future__ import annotations

import asyncio
import subprocess
import threading
import uuid
from pathlib import Path

import pytest

from harness.runner.run import EvalRequest, run_eval
from harness.runner.scheduler import RunAborted
from harness.runner.serve import MAX_IN_FLIGHT
from harness.testing import Reply, ScriptedServer
from tests.harness.runner.conftest import evaluate, scripted_config, write_agent, write_benchmark

WRITE_RAW = """
import os, sys

def raw(data: bytes) -> None:
    fd = int(sys.argv[sys.argv.index("--write-fd") + 1])
    os.write(fd, data + b"\\n")

async def run(task, ctx):
    if task.task_id == "nested":
        raw(b'{"op": "log", "message": ' + b"[" * 200000 + b"]" * 200000 + b"}")
    elif task.task_id == "bad-result":
        raw(b'{"op": "result", "error": "not a dict"}')
    else:
        return (await ctx.model.chat([{"role": "user", "content": "hi"}])).text
    import time
    time.sleep(30)
"""


async def test_malformed_messages_fail_that_episode_only(tmp_path: Path) -> None:
    bench = write_benchmark(tmp_path, [{"task_id": t, "prompt": "p", "answer": "5"}
                                       for t in ("nested", "bad-result", "normal")])
    agent = write_agent(tmp_path, WRITE_RAW)
    with ScriptedServer(responder=lambda body: Reply.text("5")) as server:
        result, by_task = await evaluate(scripted_config(server, episode_time_s=20.0), agent,
                                         bench, tmp_path / "runs")
    assert (by_task["nested"].status, by_task["nested"].error_kind) == ("failed", "protocol")
    assert (by_task["bad-result"].status, by_task["bad-result"].error_kind) == (
        "failed", "protocol")
    assert by_task["normal"].passed
    assert (tmp_path / "runs" / result.run_id / "results.json").is_file()


FAN_OUT = """
import asyncio

async def run(task, ctx):
    async def one(i):
        try:
            return (await ctx.model.chat([{"role": "user", "content": str(i)}],
                                         **({"model": "gpt-evil"} if i == 0 else {}))).text
        except Exception as error:
            return type(error).__name__ + ": " + str(error)
    replies = await asyncio.gather(*(one(i) for i in range(40)))
    return replies[0]
"""


async def test_fan_out_is_bounded_and_parameters_are_policed(tmp_path: Path) -> None:
    in_flight, peak, lock = [0], [0], threading.Lock()

    def slow(body: dict) -> Reply:
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        threading.Event().wait(0.2)
        with lock:
            in_flight[0] -= 1
        return Reply.text("ok")

    bench = write_benchmark(tmp_path, [{"task_id": "t", "prompt": "p", "answer": "x"}])
    agent = write_agent(tmp_path, FAN_OUT)
    with ScriptedServer(responder=slow) as server:
        _, by_task = await evaluate(scripted_config(server), agent, bench, tmp_path / "runs")
        models = {body["model"] for body in server.requests}
    assert peak[0] <= MAX_IN_FLIGHT
    assert by_task["t"].model_calls == 39
    assert models == {"scripted"}
    assert by_task["t"].detail.endswith("'ModelRequestError: parameters not allowed for "
                                        "agents: model' does not match (exact)")


async def test_a_token_budget_holds_under_concurrent_calls(tmp_path: Path) -> None:
    bench = write_benchmark(tmp_path, [{"task_id": "t", "prompt": "p", "answer": "x"}])
    agent = write_agent(tmp_path, FAN_OUT.replace('**({"model": "gpt-evil"} if i == 0 else {})',
                                                  ""))
    # The first call spends the whole budget (so a request that arrives after it ends is
    # refused for usage); while it is in flight, the rest are refused for its reservation.
    spent = {"prompt_tokens": 1, "completion_tokens": 9, "total_tokens": 10}
    with ScriptedServer(responder=lambda body: Reply(content="one two three", usage=spent,
                                                     delay_s=0.5)) as server:
        _, by_task = await evaluate(scripted_config(server, token_budget=10), agent, bench,
                                    tmp_path / "runs")
        sent = list(server.requests)
    assert len(sent) == 1 and sent[0]["max_tokens"] == 9  # 10 less the prompt's estimate
    assert by_task["t"].model_calls == 1


PROVOKED_TIMEOUT = """
async def run(task, ctx):
    try:
        await ctx.model.chat([{"role": "user", "content": "hang"}])
    except Exception:
        pass
    return "wrong"
"""


async def test_a_provoked_timeout_is_the_agents_failure_not_infrastructure(
        tmp_path: Path) -> None:
    bench = write_benchmark(tmp_path, [{"task_id": "t", "prompt": "p", "answer": "right"}])
    agent = write_agent(tmp_path, PROVOKED_TIMEOUT)
    with ScriptedServer([Reply.hang(10)], responder=lambda body: Reply.text("x")) as server:
        config = scripted_config(server, request_timeout_s=0.5, error_retries=2)
        _, by_task = await evaluate(config, agent, bench, tmp_path / "runs")
    assert (by_task["t"].status, by_task["t"].passed, by_task["t"].attempts) == (
        "scored", False, 1)


async def test_a_bad_key_stops_the_run_and_keeps_what_was_done(tmp_path: Path) -> None:
    bench = write_benchmark(tmp_path, [{"task_id": f"t{i}", "prompt": "p", "answer": "x"}
                                       for i in range(6)])
    agent = write_agent(tmp_path, PROVOKED_TIMEOUT.replace('"hang"', '"hi"').replace(
        "    except Exception:\n        pass\n", "    finally:\n        pass\n"))
    with ScriptedServer(responder=lambda body: Reply.error(401, "invalid api key")) as server:
        with pytest.raises(RunAborted, match="invalid api key"):
            await evaluate(scripted_config(server, concurrency=1), agent, bench,
                           tmp_path / "runs")
        assert len(server.requests) == 1
    [run_dir] = (tmp_path / "runs").iterdir()
    assert (run_dir / "results.json").is_file()


async def test_cancelling_a_run_leaves_no_worker_behind(tmp_path: Path) -> None:
    bench = write_benchmark(tmp_path, [{"task_id": "t", "prompt": "p", "answer": "x"}])
    marker = f"agent-{uuid.uuid4().hex[:8]}"  # 14 characters: a process name holds 15
    agent = tmp_path / marker
    agent.mkdir()
    # The worker names itself (a forked worker has no command line of its own to search).
    (agent / "agent.py").write_text(
        "import asyncio\nasync def run(task, ctx):\n"
        f"    open('/proc/self/comm', 'w').write({marker!r})\n"
        "    await asyncio.sleep(600)\n")
    with ScriptedServer() as server:
        run = asyncio.create_task(run_eval(scripted_config(server, episode_time_s=600.0),
                                           EvalRequest(agent_dir=agent, benchmark=bench,
                                                       out_dir=tmp_path / "runs")))
        for _ in range(100):
            if _workers(marker):
                break
            await asyncio.sleep(0.1)
        assert _workers(marker), "the worker never started"
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
    await asyncio.sleep(0.5)
    assert not _workers(marker)


def _workers(marker: str) -> list[str]:
    found = subprocess.run(["pgrep", "-x", marker],
                           capture_output=True, text=True)
    return found.stdout.split()

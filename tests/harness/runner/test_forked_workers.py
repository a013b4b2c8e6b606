"""Workers forked from the preloaded sandboxed server: kept apart, and a lost server is ours."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import uuid
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.runner.episode import EpisodeSetup, run_episode
from harness.runner.policy import code_roots, worker_policy
from harness.runner.tools import HarnessTools
from harness.runner.workers import WorkerPool
from harness.sandbox import ForkServer, detect_isolation, fork_server_supported
from harness.testing import ScriptedServer
from task_agents.lib.context import TaskView
from tests.harness.runner.conftest import evaluate, scripted_config, write_agent, write_benchmark
from traces.setup import setup_tracing

NEIGHBOURS = """
import asyncio, os


def signalable():
    mine = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                os.kill(int(entry), 0)  # permission check only
                mine.add(int(entry))
            except OSError:
                pass
    return mine - {os.getpid()}


def named(name):
    found = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and open(f"/proc/{entry}/comm").read().strip() == name:
                found.append(entry)
        except OSError:
            pass
    return found


async def run(task, ctx):
    other = "right" if task.task_id == "left" else "left"
    open("/proc/self/comm", "w").write(task.task_id)  # findable by name in a shared /proc
    open(f"/tmp/{task.task_id}", "w").write("here")
    await asyncio.sleep(1.5)  # both episodes are alive now
    seen = sorted(n for n in os.listdir("/tmp") if n in ("left", "right"))
    others = signalable()
    visible = named(other)
    if seen == [task.task_id] and not others and not visible and named(task.task_id):
        return "apart"
    return f"tmp={seen} signalable={sorted(others)} other's processes={visible}"
"""


@pytest.mark.parametrize("fork_server", [True, False], ids=["forked", "fresh-sandbox"])
async def test_concurrent_episodes_cannot_see_or_signal_each_other(tmp_path: Path,
                                                                   fork_server: bool) -> None:
    bench = write_benchmark(tmp_path, [{"task_id": side, "prompt": "p", "answer": "apart"}
                                       for side in ("left", "right")])
    agent = write_agent(tmp_path, NEIGHBOURS)
    with ScriptedServer() as server:
        config = scripted_config(server, concurrency=2, fork_server=fork_server)
        result, by_task = await evaluate(config, agent, bench, tmp_path / "runs")
    for side in ("left", "right"):
        assert by_task[side].passed, by_task[side].detail
    assert result.forked_workers == (fork_server and fork_server_supported(detect_isolation()))


LEAVER = """
import asyncio, os

MARKER = {marker!r}


def stray():  # closes every fd (nothing holds the harness's pipes) and spins
    os.closerange(0, 1024)
    open("/proc/self/comm", "w").write(MARKER)
    while True:
        pass


async def run(task, ctx):
    for _ in range(8):
        if os.fork() == 0:
            os.setsid()
            stray()
    await asyncio.sleep(1.0 if task.task_id == "returns" else 600)
    return "left strays behind"
"""


@pytest.mark.parametrize("fork_server", [True, False], ids=["forked", "fresh-sandbox"])
@pytest.mark.parametrize("ending", ["returns", "killed"])
async def test_what_an_episode_started_is_gone_when_it_is_reported(
        tmp_path: Path, fork_server: bool, ending: str) -> None:
    marker = f"stray-{uuid.uuid4().hex[:8]}"
    bench = write_benchmark(tmp_path, [{"task_id": ending, "prompt": "p", "answer": "x"}])
    agent = write_agent(tmp_path, LEAVER.replace("{marker!r}", repr(marker)))
    with ScriptedServer() as server:
        # 6 s: room for a 1 s episode that forks 8 strays, on 2 busy cores
        config = scripted_config(server, fork_server=fork_server, episode_time_s=6.0)
        _result, by_task = await evaluate(config, agent, bench, tmp_path / "runs")
        assert not _named(marker), "processes the episode started outlived its report"
    episode = by_task[ending]
    expected = ("scored", None) if ending == "returns" else ("failed", "wall_time")
    assert (episode.status, episode.error_kind) == expected, episode.error


KILLERS = """
import asyncio, os, signal


async def run(task, ctx):
    if task.task_id == "victim":
        await asyncio.sleep(2.0)
        return "unharmed"
    await asyncio.sleep(0.5)
    if task.task_id == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    signal.signal(signal.SIGXCPU, signal.SIG_IGN)  # the hard CPU limit then SIGKILLs
    while True:
        pass
"""


@pytest.mark.parametrize("fork_server", [True, False], ids=["forked", "fresh-sandbox"])
async def test_a_program_killed_by_a_signal_is_reported_so_and_harms_no_neighbour(
        tmp_path: Path, fork_server: bool) -> None:
    bench = write_benchmark(tmp_path, [{"task_id": t, "prompt": "p", "answer": "unharmed"}
                                       for t in ("victim", "sigkill", "cpu_hog")])
    agent = write_agent(tmp_path, KILLERS)
    with ScriptedServer() as server:
        # 6 s: the victim needs 2 s plus a sandbox start-up next to a CPU hog on 2 cores
        config = scripted_config(server, fork_server=fork_server, concurrency=3,
                                 episode_time_s=6.0)
        _result, by_task = await evaluate(config, agent, bench, tmp_path / "runs")
    assert by_task["victim"].passed, by_task["victim"].error
    assert by_task["sigkill"].error_kind == "signal:9", by_task["sigkill"].error
    assert by_task["cpu_hog"].error_kind in ("signal:9", "wall_time"), by_task["cpu_hog"].error


LOOPBACK = """
import socket


async def run(task, ctx):
    with socket.create_server(("127.0.0.1", 0)) as server:
        with socket.create_connection(server.getsockname(), timeout=2):
            return "loopback"
"""


@pytest.mark.parametrize("fork_server", [True, False], ids=["forked", "fresh-sandbox"])
async def test_a_program_has_its_own_loopback(tmp_path: Path, fork_server: bool) -> None:
    bench = write_benchmark(tmp_path, [{"task_id": "t", "prompt": "p", "answer": "loopback"}])
    agent = write_agent(tmp_path, LOOPBACK)
    with ScriptedServer() as server:
        config = scripted_config(server, fork_server=fork_server)
        _result, by_task = await evaluate(config, agent, bench, tmp_path / "runs")
    assert by_task["t"].passed, (by_task["t"].detail, by_task["t"].error)


def _named(name: str) -> list[str]:
    return subprocess.run(["pgrep", "-x", name], capture_output=True, text=True).stdout.split()


SLEEPER = "import asyncio\nasync def run(task, ctx):\n    await asyncio.sleep(60)\n"


async def test_a_lost_fork_server_fails_the_episode_as_ours_and_is_replaced(
        tmp_path: Path, scripted: ScriptedServer) -> None:
    isolation = detect_isolation()
    if not fork_server_supported(isolation):
        pytest.skip("the fork server needs bubblewrap and root")
    from harness.models.openai_client import OpenAIClient

    agent = write_agent(tmp_path, SLEEPER)
    tracing = setup_tracing(tmp_path / "traces.sqlite")
    client = OpenAIClient(scripted.base_url, "scripted", timeout_s=10, max_retries=0)
    policy = worker_policy(agent, hidden=[], wall_time_s=60)
    try:
        async with WorkerPool(policy, isolation, fork=True) as workers:
            setup = EpisodeSetup(agent_dir=agent, model=client, tracing=tracing,
                                 tools=HarnessTools(), workers=workers)
            episode = asyncio.create_task(
                run_episode(setup, TaskView(task_id="t", prompt="p"), episode_id="e1"))
            while workers.fork_server is None:  # noqa: ASYNC110 (state owned by the pool)
                await asyncio.sleep(0.05)
            first = workers.fork_server
            await asyncio.sleep(1.0)
            os.kill(first.pid, signal.SIGKILL)
            outcome = await asyncio.wait_for(episode, timeout=20)
            assert outcome.infra_error and outcome.error_kind in ("sandbox", "worker")
            assert outcome.agent_error is None

            read_end, write_end = os.pipe()
            back_read, back_write = os.pipe()
            replacement = await workers.start(agent, read_end, back_write)
            os.close(read_end)
            os.close(back_write)
            assert workers.fork_server is not first and workers.fork_server.alive
            await replacement.kill("test over")
            assert (await replacement.wait()).killed_reason == "test over"
            os.close(write_end)
            os.close(back_read)
    finally:
        await client.aclose()
        tracing.shutdown()


async def test_a_server_that_cannot_start_says_why_and_the_pool_falls_back(
        tmp_path: Path) -> None:
    isolation = detect_isolation()
    if not fork_server_supported(isolation):
        pytest.skip("the fork server needs bubblewrap and root")
    agent = write_agent(tmp_path, SLEEPER)
    policy = worker_policy(agent, hidden=[], wall_time_s=30)
    with pytest.raises(HarnessError, match="No module named 'no_such_module'"):
        await ForkServer.start(policy, preload=["no_such_module"], isolation=isolation)

    # The agent library hidden: the server cannot import the worker, so the pool falls back
    # to fresh sandboxes (whose workers then fail the same way, as the harness's failure).
    blind = policy.model_copy(update={"hidden_paths": code_roots()[-1:]})
    async with WorkerPool(blind, isolation, fork=True) as workers:
        read_end, write_end = os.pipe()
        back_read, back_write = os.pipe()
        worker = await workers.start(agent, read_end, back_write)
        os.close(read_end)
        os.close(back_write)
        result = await worker.wait()
        os.close(write_end)
        os.close(back_read)
        assert not workers.fork and workers.fork_server is None
        assert result.returncode != 0 and "task_agents" in result.stderr

"""Resource totals per episode, through real episodes, forked and in fresh sandboxes.

- memory: five processes each well under the per-process limit, together over the
  episode's total, are killed (`memory_total`), the agent's failure;
- the episode folder is bounded: writing past it fails inside with ENOSPC;
- a tool sandbox still running when its episode ends is dead before the episode is recorded;
- nothing inside names the hidden paths (/proc/1/cmdline, mountinfo), and the seccomp filter
  answers ptrace, keyctl, bpf and a clone into a new user namespace with EPERM.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from harness.runner.episode import EpisodeSetup, run_episode
from harness.runner.policy import worker_policy
from harness.runner.results import EpisodeResult
from harness.runner.run import EvalRequest, run_eval
from harness.runner.tools import HarnessTools
from harness.runner.workers import WorkerPool
from harness.sandbox import detect_isolation
from harness.testing import ScriptedServer
from task_agents.lib.context import TaskView
from tests.conftest import live_processes_named
from tests.harness.runner.conftest import scripted_config, write_agent, write_benchmark
from traces.setup import setup_tracing

pytestmark = pytest.mark.skipif(detect_isolation().kind != "bwrap",
                                reason="needs bubblewrap (folder tmpfs, seccomp)")
MODES = pytest.mark.parametrize("fork_server", [True, False], ids=["forked", "fresh-sandbox"])

HOG = """
import os, time


async def run(task, ctx):
    for _ in range(5):
        if os.fork() == 0:
            data = b"\\1" * (80 * 1024 * 1024)  # written, so resident: 400 MB in all
            time.sleep(12)
            os._exit(len(data) & 0)
    time.sleep(12)
    return "survived"
"""


@MODES
async def test_processes_together_over_the_episode_total_are_killed(
        tmp_path: Path, scripted: ScriptedServer, fork_server: bool) -> None:
    from harness.models.openai_client import OpenAIClient

    agent = write_agent(tmp_path, HOG)
    tracing = setup_tracing(tmp_path / "traces.sqlite")
    client = OpenAIClient(scripted.base_url, "scripted", timeout_s=10, max_retries=0)
    policy = worker_policy(agent, hidden=[], wall_time_s=30).model_copy(
        update={"total_memory_mb": 300})  # each process may still map 4 GB
    try:
        async with WorkerPool(policy, detect_isolation(), fork=fork_server) as workers:
            setup = EpisodeSetup(agent_dir=agent, model=client, tracing=tracing,
                                 tools=HarnessTools(), workers=workers)
            outcome = await run_episode(setup, TaskView(task_id="t", prompt="p"),
                                        episode_id="e1")
    finally:
        await client.aclose()
        tracing.shutdown()
    assert not outcome.answered and outcome.infra_error is None
    assert outcome.error_kind == "memory_total", (outcome.agent_error, outcome.error_kind)
    assert outcome.sandbox is not None and outcome.sandbox.duration_s < 10


AGENT = """
import asyncio, ctypes, errno, os

HIDDEN = {hidden!r}
MARKER = {marker!r}
TOOL = '''
import os, time
open("/proc/self/comm", "w").write({marker!r})
for _ in range(3):
    if os.fork() == 0:
        break
time.sleep(60)
'''


def folder():
    try:
        for index in range(6):
            with open(f"part{{index}}", "wb") as handle:
                handle.write(b"x" * (60 * 1024 * 1024))
        return "wrote 360 MB"
    except OSError as error:
        return "enospc" if error.errno == errno.ENOSPC else repr(error)


def leaks():
    shown = open("/proc/1/cmdline", "rb").read().decode(errors="replace")
    shown += open("/proc/self/mountinfo").read()
    named = [path for path in HIDDEN if path in shown]
    return f"named {{named}}" if named else "nothing"


def seccomp():
    libc = ctypes.CDLL(None, use_errno=True)
    # ptrace(PTRACE_ATTACH) on a pid that cannot exist: ESRCH without the filter.
    calls = {{"ptrace": (101, 16, (1 << 22) + 1), "keyctl": (250, 0, 0), "bpf": (321, 0, 0),
             "clone_newuser": (56, 0x10000000 | 17, 0)}}
    results = {{}}
    for name, (number, first, second) in calls.items():
        ctypes.set_errno(0)
        got = libc.syscall(number, first, second, 0, 0, 0)
        if got == 0 and name == "clone_newuser":
            os._exit(0)  # the child of a clone that worked
        results[name] = errno.errorcode.get(ctypes.get_errno(), got)
    return "eperm" if set(results.values()) == {{"EPERM"}} else str(results)


async def tool():
    asyncio.get_running_loop().create_task(ctx_holder[0].tool("run_python", code=TOOL))
    await asyncio.sleep(2.0)  # the tool's sandbox is running now
    return "left it running"


ctx_holder = []


async def run(task, ctx):
    ctx_holder.append(ctx)
    if task.task_id == "tool":
        return await tool()
    return {{"folder": folder, "leaks": leaks, "seccomp": seccomp}}[task.task_id]()
"""

EXPECTED = {"folder": "enospc", "leaks": "nothing", "seccomp": "eperm",
            "tool": "left it running"}


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="syscall numbers are x86_64's")
@MODES
async def test_folder_leaks_seccomp_and_tool_sandboxes_per_episode(
        tmp_path: Path, fork_server: bool) -> None:
    bench = write_benchmark(tmp_path, [{"task_id": kind, "prompt": "p", "answer": answer}
                                       for kind, answer in EXPECTED.items()])
    runs = tmp_path / "runs"
    marker = "tl" + uuid.uuid4().hex[:12]
    agent = write_agent(tmp_path, AGENT.format(hidden=[str(runs), str(tmp_path / "tasks.jsonl")],
                                               marker=marker))
    alive_at_record: dict[str, int] = {}

    def listener(episode: EpisodeResult) -> None:
        alive_at_record[episode.task_id] = live_processes_named(marker)

    with ScriptedServer() as server:
        config = scripted_config(server, concurrency=2, fork_server=fork_server)
        result = await run_eval(config, EvalRequest(agent_dir=agent, benchmark=bench,
                                                    out_dir=runs), listener)
    by_task = {e.task_id: e for e in result.episodes}
    failed = {kind: (by_task[kind].detail, by_task[kind].error) for kind in EXPECTED
              if not by_task[kind].passed}
    # A tool sandbox still running at the end is dead before its episode is recorded.
    assert (failed, alive_at_record["tool"], live_processes_named(marker)) == ({}, 0, 0)

"""A tiny benchmark, agent and scripted model for deterministic loop tests.

The scripted model answers a task right only when the agent's prompt carries a "skill" the
task needs: `MODE=good` solves every task, `MODE=some` solves the tasks whose id ends in 1,
`MODE=bad` solves none. So a proposer that edits the MODE line of the agent changes the score
in a known way, and the loop's decisions can be checked exactly.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.config import HarnessConfig, load_config
from harness.testing import Reply, ScriptedServer

AGENT = '''
"""Echo agent: asks the model once and answers with its reply."""

MODE = "{mode}"


async def run(task, ctx):
    reply = await ctx.model.chat(
        [{{"role": "user", "content": f"MODE={{MODE}} Q={{task.prompt}}"}}], max_tokens=16)
    return reply.text
'''


def write_tasks(folder: Path, train: int = 6, held_out: int = 12, sealed: int = 6) -> str:
    rows = []
    for split, count in (("train", train), ("held_out", held_out), ("sealed", sealed)):
        for i in range(count):
            rows.append({"task_id": f"{split}-task-{i:02d}", "prompt": f"{split} question {i}",
                         "answer": f"ans-{split}-{i}", "split": split})
    path = folder / "tasks.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return f"jsonl:{path}"


def write_echo_agent(folder: Path, mode: str = "bad") -> Path:
    agent = folder / "echo"
    agent.mkdir()
    (agent / "agent.py").write_text(textwrap.dedent(AGENT.format(mode=mode)))
    return agent


def answer(body: dict[str, Any]) -> Reply:
    text = str(body["messages"][-1]["content"])
    mode = re.search(r"MODE=(\w+)", text)
    question = re.search(r"Q=(\w+) question (\d+)", text)
    if not (mode and question):
        return Reply.text("no idea")
    split, number = question.group(1), int(question.group(2))
    right = {"good": True, "some": number % 10 == 1, "bad": False}.get(mode.group(1), False)
    return Reply.text(f"ans-{split}-{number}" if right else "wrong")


@pytest.fixture
def model() -> Iterator[ScriptedServer]:
    with ScriptedServer(responder=answer) as server:
        yield server


def loop_config(server: ScriptedServer, **overrides: Any) -> HarnessConfig:
    settings: dict[str, Any] = {
        "model": f"openai:{server.base_url}#scripted", "max_retries": 0,
        "request_timeout_s": 5.0, "episode_time_s": 30.0, "concurrency": 4,
        "error_retries": 0, "held_out_trials": 1, "trials": 1, "proposer": "command:true",
    } | overrides
    return load_config(None, **settings)


def set_mode(folder: Path, mode: str) -> None:
    agent = folder / "agent.py"
    agent.write_text(re.sub(r'MODE = "\w+"', f'MODE = "{mode}"', agent.read_text()))


def forbidden_strings(bench_spec: str) -> list[str]:
    """Every held-out and sealed task id, prompt and reference answer of the benchmark."""
    from benchmarks.registry import get_benchmark

    bench = get_benchmark(bench_spec)
    found: list[str] = []
    for split in ("held_out", "sealed"):
        for task in bench.tasks(split):
            found += [task.task_id, task.prompt, str(bench.reference_answer(task.task_id))]
    return found


def assert_view_clean(view: Path, bench_spec: str) -> int:
    """No file of the view (followed or not) holds held-out or sealed material; no links."""
    needles = [s.encode() for s in forbidden_strings(bench_spec)]
    files = 0
    for path in view.rglob("*"):
        assert not path.is_symlink(), f"the view holds a link: {path}"
        if path.is_file():
            files += 1
            data = path.read_bytes()
            leaked = [n for n in needles if n in data]
            assert not leaked, f"{path} holds held-out/sealed material: {leaked[:3]}"
    return files

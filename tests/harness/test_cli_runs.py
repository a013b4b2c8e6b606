"""`harness eval`, `harness traces list` and `harness traces show` through the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from harness.testing import Reply, ScriptedServer

AGENT = """
async def run(task, ctx):
    reply = await ctx.model.chat([{"role": "system", "content": "Be brief."},
                                  {"role": "user", "content": task.prompt}])
    return reply.text
"""


def harness(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=180, env={**os.environ, "COLUMNS": "200"})


def test_eval_then_traces(tmp_path: Path) -> None:
    (tmp_path / "tasks.jsonl").write_text("".join(
        json.dumps({"task_id": f"q{i}", "prompt": f"{i}+1?", "answer": i + 1, "split": "train"})
        + "\n" for i in range(2)))
    agent = tmp_path / "agent"
    agent.mkdir()
    (agent / "agent.py").write_text(AGENT)
    with ScriptedServer(responder=lambda body: Reply.text("1", reasoning="add one")) as server:
        done = harness("eval", "--agent", str(agent), "--benchmark", "jsonl:tasks.jsonl",
                       "--model", f"openai:{server.base_url}#scripted", "--out", "runs",
                       cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "q0" in done.stdout and "q1" in done.stdout
    assert "mean score 0.500" in done.stdout and "95% CI" in done.stdout
    assert "isolation bwrap" in done.stdout or "isolation unshare" in done.stdout
    [run_dir] = (tmp_path / "runs").iterdir()

    listed = harness("traces", "list", str(run_dir), cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "q0" in listed.stdout and "scored" in listed.stdout

    shown = harness("traces", "show", str(run_dir), "q1", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    for expected in ("task=q1", "Be brief.", "1+1?", "add one", "chat scripted"):
        assert expected in shown.stdout, (expected, shown.stdout)

    paged = harness("traces", "show", str(run_dir), "q1", "--limit", "2", cwd=tmp_path)
    assert "more lines" in paged.stdout and "--offset 2" in paged.stdout


def test_eval_refuses_the_sealed_split(tmp_path: Path) -> None:
    done = harness("eval", "--agent", str(tmp_path), "--benchmark", "arithmetic",
                   "--split", "sealed", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == ("error: --split: the sealed split is run only by "
                                   "`harness finalize`")


def test_eval_withholds_the_mean_when_too_many_episodes_are_errors(tmp_path: Path) -> None:
    (tmp_path / "tasks.jsonl").write_text(json.dumps(
        {"task_id": "q0", "prompt": "1+1?", "answer": 2, "split": "train"}) + "\n")
    agent = tmp_path / "agent"
    agent.mkdir()
    (agent / "agent.py").write_text(AGENT)
    with ScriptedServer() as gone:  # nothing listens there any more: every episode is `error`
        url = gone.base_url
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "eval", "--agent", str(agent), "--benchmark",
         "jsonl:tasks.jsonl", "--model", f"openai:{url}#scripted", "--out", "runs"],
        capture_output=True, text=True, cwd=tmp_path, timeout=180,
        env={**os.environ, "COLUMNS": "200", "HARNESS_ERROR_RETRIES": "0",
             "HARNESS_MAX_RETRIES": "0"})
    assert done.returncode == 1, done.stderr
    assert "mean score 0" not in done.stdout and "no mean score: 1 of 1" in done.stdout
    [message] = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert message.startswith("error: mean withheld: 1 of 1 episodes (100%) ended as "
                              "infrastructure errors")
    [run_dir] = (tmp_path / "runs").iterdir()
    aggregate = json.loads((run_dir / "results.json").read_text())["aggregate"]
    assert aggregate["mean_score"] is None and aggregate["withheld"]

"""`harness runs` lists workspaces and eval runs newest first with an honest status, and
`harness traces` accepts a workspace experiment wherever it accepts a run."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from harness.optimize.ledger import Experiment
from harness.optimize.workspace import Workspace
from harness.runner.results import RunResult, aggregate
from harness.runner.run import EvalRequest, run_eval
from harness.sandbox import detect_isolation
from harness.testing import ScriptedServer
from tests.harness.optimize.conftest import answer, loop_config, write_echo_agent, write_tasks

HARNESS = [sys.executable, "-m", "harness.cli"]


def _harness(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "250"}
    return subprocess.run([*HARNESS, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=False, env=env)


def _run_folder(root: Path, name: str, started: datetime, finished: bool, score: float) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    run = RunResult(run_id=name, agent=f"/agents/{name}-agent", agent_sha256="x" * 64,
                    benchmark="arithmetic", split="train", model="embedded", trials=1,
                    started_at=started, finished_at=started if finished else None)
    run.aggregate = aggregate([])
    run.aggregate.mean_score = score
    run.save(folder / "results.json")
    return folder


def test_runs_lists_newest_first_with_status(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    runs = tmp_path / "runs"
    _run_folder(runs, "old-finished", now - timedelta(days=2), True, 0.25)
    stale = _run_folder(runs, "old-killed", now - timedelta(hours=5), False, 0.5)
    hour_ago = time.time() - 3600
    os.utime(stale / "results.json", (hour_ago, hour_ago))  # nothing written for an hour
    _run_folder(runs, "just-started", now - timedelta(minutes=1), False, 0.75)
    (runs / "not-a-run").mkdir()
    (runs / "broken").mkdir()
    (runs / "broken" / "results.json").write_text("{half a file")
    ws = Workspace.create(tmp_path / "workspaces" / "solver-arith", agent=_agent(tmp_path),
                          benchmark="arithmetic", model="embedded")
    ws.ledger.record(Experiment(experiment=0, status="baseline", held_out=0.4))
    ws.ledger.record(Experiment(experiment=1, status="keep", held_out=0.6))
    ws.ledger.record(Experiment(experiment=2, status="discard", held_out=0.9))
    ws.mark_finalized()
    ws.close()

    done = _harness("runs", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines()
            if any(k in line for k in ("workspace ", "run "))]
    order = [next(n for n in ("solver-arith", "just-started", "old-killed", "old-finished")
                  if n in row) for row in rows]
    assert order == ["solver-arith", "just-started", "old-killed", "old-finished"]
    expected = {"solver-arith": "finalized", "just-started": "running",
                "old-killed": "stopped", "old-finished": "finished"}
    for row, name in zip(rows, order, strict=True):
        assert expected[name] in row, row
    assert "best held-out 0.600" in rows[0] and " 2 " in rows[0]  # discard is not a best
    assert "mean train 0.250" in rows[3]

    only = _harness("runs", str(runs / "old-finished"), cwd=tmp_path)
    assert "old-finished" in only.stdout and "just-started" not in only.stdout
    empty = _harness("runs", str(tmp_path / "nothing"), cwd=tmp_path)
    assert empty.returncode == 0 and "nothing here yet" in empty.stdout


def _agent(tmp_path: Path) -> Path:
    agent = tmp_path / "agent"
    agent.mkdir()
    (agent / "agent.py").write_text("async def run(task, ctx):\n    return ''\n")
    return agent


@pytest.mark.skipif(not detect_isolation().isolated, reason="needs bubblewrap or unshare")
async def test_traces_accept_a_workspace_experiment(tmp_path: Path) -> None:
    with ScriptedServer(responder=answer) as server:
        bench = write_tasks(tmp_path, train=2, held_out=2, sealed=1)
        agent = write_echo_agent(tmp_path, mode="good")
        ws = Workspace.create(tmp_path / "ws", agent=agent, benchmark=bench, model="x")
        into = ws.experiment_dir(3) / "train"
        into.mkdir(parents=True)
        await run_eval(loop_config(server), EvalRequest(agent_dir=agent, benchmark=bench,
                                                        out_dir=into))
    for spec in (f"{ws.root}@exp-0003", f"{ws.root}@3:train", str(into)):
        done = _harness("traces", "list", spec, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert "train-task-00" in done.stdout and "train-task-01" in done.stdout
    shown = _harness("traces", "show", f"{ws.root}@exp-0003", "train-task-01", cwd=tmp_path)
    assert shown.returncode == 0 and "ans-train-1" in shown.stdout
    for spec, words in ((f"{ws.root}@exp-0004", "no train run"),
                        (f"{ws.root}@exp-0003:sealed", ":held_out")):
        bad = _harness("traces", "list", spec, cwd=tmp_path)
        assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and words in bad.stderr

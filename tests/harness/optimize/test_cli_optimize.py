"""`harness optimize` / `harness finalize` through the real CLI: bad input, finalize's lock."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.optimize.loop import optimize
from harness.optimize.proposal import Brief, Proposal
from harness.optimize.proposers import CallableProposer
from harness.optimize.workspace import Workspace
from harness.sandbox import detect_isolation
from harness.testing import ScriptedServer
from tests.harness.optimize.conftest import loop_config, set_mode, write_echo_agent, write_tasks

HARNESS = [sys.executable, "-m", "harness.cli"]


def harness(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HARNESS, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, check=False)


def one_line_error(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode == 2, done.stderr + done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bench = write_tasks(tmp_path)
    agent = write_echo_agent(tmp_path)
    one_line_error(harness("optimize", "--agent", str(agent), "--benchmark", bench,
                           "--proposer", "bogus", "--workspace", str(tmp_path / "w1"),
                           cwd=tmp_path), "proposer", "bogus")
    assert not (tmp_path / "w1").exists()  # nothing written for a refused start
    one_line_error(harness("optimize", "--resume", cwd=tmp_path), "--resume", "--workspace")
    one_line_error(harness("optimize", "--resume", "--workspace", str(tmp_path / "nope"),
                           cwd=tmp_path), "not a workspace")
    ws = Workspace.create(tmp_path / "ws", agent=agent, benchmark=bench, model="embedded")
    other = tmp_path / "other"
    other.mkdir()
    (other / "agent.py").write_text("async def run(task, ctx):\n    return ''\n")
    one_line_error(harness("optimize", "--resume", "--workspace", str(ws.root), "--agent",
                           str(other), cwd=tmp_path), "--agent", str(agent.resolve()))
    one_line_error(harness("optimize", "--resume", "--workspace", str(ws.root),
                           "--benchmark", "arithmetic", cwd=tmp_path), "--benchmark")
    one_line_error(harness("optimize", "--agent", str(agent), "--benchmark", bench,
                           "--workspace", str(ws.root), cwd=tmp_path), "not empty")
    one_line_error(harness("optimize", "--agent", str(agent), "--benchmark", bench,
                           "--strategy", "random", cwd=tmp_path), "strategy")
    one_line_error(harness("optimize", "--agent", str(agent), "--benchmark", "nonsense",
                           "--proposer", "command:true", cwd=tmp_path), "benchmark")
    one_line_error(harness("optimize", "--agent", str(agent), "--benchmark", bench,
                           "--alpha", "2", cwd=tmp_path), "alpha")


def _good(brief: Brief) -> Proposal:
    set_mode(brief.candidate, "good")
    return Proposal(description="good mode", hypothesis="the good mode solves all",
                    mechanism="mode", component="param")


@pytest.mark.skipif(not detect_isolation().isolated, reason="needs bubblewrap or unshare")
async def test_finalize_scores_sealed_once_and_locks(tmp_path: Path,
                                                     model: ScriptedServer) -> None:
    bench = write_tasks(tmp_path)
    agent = write_echo_agent(tmp_path, mode="some")
    spec = f"openai:{model.base_url}#scripted"
    ws = Workspace.create(tmp_path / "ws", agent=agent, benchmark=bench, model=spec)
    await optimize(loop_config(model, iterations=1), ws, CallableProposer(_good))
    assert ws.ledger.get(1).status == "keep"  # type: ignore[union-attr]
    ws.close()
    sealed_before = _sealed_requests(model)
    assert sealed_before == 0  # nothing in the loop ran the sealed split

    done = harness("finalize", str(ws.root), "--trials", "2", "--model", spec, cwd=tmp_path)
    assert done.returncode == 0, done.stderr + done.stdout
    final = json.loads((ws.root / "final.json").read_text())
    assert final["best"]["tag"] == "exp-0001" and final["best"]["sealed"] == 1.0
    assert final["baseline"]["sealed"] == pytest.approx(1 / 6)  # sealed-task-01 only
    assert final["sealed_tasks"] == 6 and final["comparison"]["method"] == "cmh"
    assert _sealed_requests(model) == 2 * 6 * 2  # two candidates × 6 tasks × 2 trials

    one_line_error(harness("optimize", "--resume", "--workspace", str(ws.root), cwd=tmp_path),
                   "finalized")
    one_line_error(harness("finalize", str(ws.root), "--model", spec, cwd=tmp_path),
                   "already finalized")
    assert _sealed_requests(model) == 24


def _sealed_requests(model: ScriptedServer) -> int:
    return sum("Q=sealed" in json.dumps(body) for body in model.requests)

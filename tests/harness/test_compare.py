"""`harness compare`: statistics against hand-computed cases, and the real CLI on two
candidates of a scripted optimisation run (stored episodes reused) and on two agent folders
(evaluated concurrently, then reused)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from harness.compare.stats import TaskRow, paired_stats, task_rows, verdict
from harness.optimize.loop import optimize
from harness.optimize.proposal import Brief, Proposal
from harness.optimize.proposers import CallableProposer
from harness.optimize.workspace import Workspace
from harness.runner.results import EpisodeResult
from harness.sandbox import detect_isolation
from harness.testing import ScriptedServer
from tests.harness.optimize.conftest import (
    answer,
    loop_config,
    set_mode,
    write_echo_agent,
    write_tasks,
)

HARNESS = [sys.executable, "-m", "harness.cli"]
needs_sandbox = pytest.mark.skipif(not detect_isolation().isolated,
                                   reason="needs bubblewrap or unshare for isolation")


def _rows(a: Sequence[Sequence[float]], b: Sequence[Sequence[float]],
          category: str = "c") -> list[TaskRow]:
    def side(scores: Sequence[Sequence[float]]) -> dict[str, list[EpisodeResult]]:
        return {f"t{i:03d}": [EpisodeResult(task_id=f"t{i:03d}", category=category, trial=j,
                                            episode_id=f"e{i}-{j}", status="scored", score=s,
                                            passed=s == 1.0) for j, s in enumerate(trials)]
                for i, trials in enumerate(scores)}
    return task_rows(side(a), side(b))


def test_exact_mcnemar_on_a_known_table() -> None:
    # 8 tasks only B solves, 1 only A solves, 11 both, 5 neither: discordant 8 vs 1.
    a = [[0]] * 8 + [[1]] + [[1]] * 11 + [[0]] * 5
    b = [[1]] * 8 + [[0]] + [[1]] * 11 + [[0]] * 5
    stats = paired_stats(_rows(a, b))
    assert stats.method == "mcnemar" and (stats.wins, stats.losses, stats.ties) == (8, 1, 16)
    # P(X >= 8 | n = 9, 1/2) = (C(9,8) + C(9,9)) / 2^9 = 10/512; two-sided doubles it.
    assert stats.p_b_better == pytest.approx(10 / 512)
    assert stats.p_two_sided == pytest.approx(20 / 512)
    assert stats.delta == pytest.approx(7 / 25)
    assert "decisive at α = 0.05, B is better" in verdict(stats, 0.05)


def test_bootstrap_ci_covers_a_known_difference() -> None:
    rng = np.random.default_rng(7)
    base = rng.uniform(0.2, 0.6, size=60)
    a = [[float(x)] for x in base]
    b = [[float(x + 0.2 + rng.normal(0, 0.05))] for x in base]
    stats = paired_stats(_rows(a, b))
    assert stats.method == "bootstrap"
    assert stats.ci_low < 0.2 < stats.ci_high and stats.ci_high - stats.ci_low < 0.05
    assert stats.p_two_sided < 0.001


def test_identical_sides_give_p_1_and_a_zero_interval() -> None:
    for scores in ([[1], [0], [1]], [[1, 0, 1], [0, 0, 1], [1, 1, 1]], [[0.3], [0.7]]):
        stats = paired_stats(_rows(scores, scores))
        assert stats.p_two_sided == 1.0 and stats.delta == 0.0
        assert stats.ci_low == 0.0 == stats.ci_high
        assert "no difference" in verdict(stats, 0.05)


def test_cmh_with_several_trials_and_the_cluster_bootstrap() -> None:
    a = [[0, 0, 1]] * 10 + [[1, 1, 1]] * 10
    b = [[1, 1, 1]] * 10 + [[1, 1, 1]] * 10
    stats = paired_stats(_rows(a, b))
    assert stats.method == "cmh" and stats.trials == 3 and stats.p_b_better < 0.001
    rows = _rows(a, b)
    clusters = {r.task_id: "first" if int(r.task_id[1:]) < 10 else "second" for r in rows}
    clustered = paired_stats(rows, clusters=clusters, cluster_by="template")
    assert clustered.method == "cluster_bootstrap" and clustered.clusters == 2
    # Two clusters cannot prove much: the cluster bootstrap's p is floored at 2^-1.
    assert clustered.p_b_better >= 0.5 > stats.p_b_better


def _harness(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HARNESS, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, check=False)


def _good(brief: Brief) -> Proposal:
    set_mode(brief.candidate, "good")
    return Proposal(description="good mode", hypothesis="solves all", mechanism="mode",
                    component="param")


@pytest.fixture(scope="module")
def scripted_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, str]]:
    """Baseline (solves held-out ids ending in 1) and one kept candidate (solves all)."""
    root = tmp_path_factory.mktemp("compare")
    with ScriptedServer(responder=answer) as server:
        bench = write_tasks(root, train=4, held_out=12, sealed=3)
        agent = write_echo_agent(root, mode="some")
        spec = f"openai:{server.base_url}#scripted"
        ws = Workspace.create(root / "ws", agent=agent, benchmark=bench, model=spec)
        asyncio.run(optimize(loop_config(server, iterations=1), ws, CallableProposer(_good)))
        assert [e.status for e in ws.ledger.experiments()] == ["baseline", "keep"]
        ws.close()
        yield ws.root, bench, spec


@needs_sandbox
def test_cli_compares_two_candidates_from_stored_runs(scripted_run: tuple[Path, str, str],
                                                      tmp_path: Path) -> None:
    ws, bench, _ = scripted_run
    done = _harness("compare", f"{ws}@exp-0000", f"{ws}@best", "--benchmark", bench,
                    "--trials", "1", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["schema_version"] == 1 and result["a"]["reused"] and result["b"]["reused"]
    stats = result["stats"]
    assert (stats["method"], stats["n_tasks"], stats["wins"], stats["losses"]) == \
        ("mcnemar", 12, 10, 0)
    assert stats["p_two_sided"] == pytest.approx(2 * 0.5**10)
    assert stats["delta"] == pytest.approx(10 / 12)
    assert sorted(result["flips"]["fixed"]) == [f"held_out-task-{i:02d}" for i in range(12)
                                                if i % 10 != 1]
    assert not (tmp_path / "runs").exists()  # nothing was evaluated

    text = _harness("compare", f"{ws}@exp-0000", f"{ws}@exp-0001", "--benchmark", bench,
                    "--trials", "1", "--diff", cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    assert "mcnemar" in text.stdout and "held_out-task-03" in text.stdout
    assert '+MODE = "good"' in text.stdout and "verdict: difference +83.3 points" in text.stdout


@needs_sandbox
def test_cli_identical_candidates(scripted_run: tuple[Path, str, str], tmp_path: Path) -> None:
    ws, bench, _ = scripted_run
    done = _harness("compare", f"{ws}@exp-0000", f"{ws}@0", "--benchmark", bench, "--json",
                    cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    stats = json.loads(done.stdout)["stats"]
    # the baseline holds 2 held-out trials, so the default is 2 trials: CMH
    assert (stats["method"], stats["trials"]) == ("cmh", 2)
    assert stats["p_two_sided"] == 1.0 and stats["ci_low"] == 0.0 == stats["ci_high"]


@needs_sandbox
def test_cli_evaluates_agent_folders_once_then_reuses(scripted_run: tuple[Path, str, str],
                                                     tmp_path: Path) -> None:
    _, bench, spec = scripted_run
    for mode in ("bad", "good"):
        (tmp_path / mode).mkdir()
    bad, good = (write_echo_agent(tmp_path / mode, mode=mode) for mode in ("bad", "good"))
    args = ("compare", str(bad), str(good), "--benchmark", bench, "--split", "train",
            "--model", spec, "--json")
    first = _harness(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    result = json.loads(first.stdout)
    assert not result["a"]["reused"] and not result["b"]["reused"]
    assert (result["stats"]["wins"], result["stats"]["n_tasks"]) == (4, 4)
    assert len(list((tmp_path / "runs").glob("*/results.json"))) == 2
    again = json.loads(_harness(*args, cwd=tmp_path).stdout)
    assert again["a"]["reused"] and again["b"]["reused"]
    assert again["stats"] == result["stats"]


@needs_sandbox
def test_cli_refuses_sealed_before_finalize_and_bad_sides(scripted_run: tuple[Path, str, str],
                                                          tmp_path: Path) -> None:
    ws, bench, _ = scripted_run
    for args, words in (
            (("--split", "sealed"), ("--split", "finalized")),
            (("--split", "nope"), ("--split", "nope"))):
        done = _harness("compare", f"{ws}@exp-0000", f"{ws}@best", "--benchmark", bench,
                        *args, cwd=tmp_path)
        _one_line_error(done, *words)
    _one_line_error(_harness("compare", str(tmp_path / "missing"), f"{ws}@best",
                             "--benchmark", bench, cwd=tmp_path), "A:", "neither")
    _one_line_error(_harness("compare", f"{ws}@exp-0000", f"{ws}@exp-0042",
                             "--benchmark", bench, cwd=tmp_path), "B:", "exp-0042")


def _one_line_error(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode == 2, done.stderr + done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    for word in words:
        assert word in lines[0], lines[0]

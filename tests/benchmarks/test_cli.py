"""`harness benchmarks` and `harness benchmarks show`, against the Typer app directly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from benchmarks import get_benchmark, list_benchmarks
from benchmarks.cli import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


def test_list_shows_every_benchmark_with_split_counts() -> None:
    result = runner.invoke(app, [], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for spec in list_benchmarks():
        counts = get_benchmark(spec).split_counts()
        row = next(line for line in result.output.splitlines() if f" {spec} " in line)
        for n in counts.values():
            assert f" {n} " in row


def test_show_prints_the_task_as_the_agent_sees_it() -> None:
    bench = get_benchmark("humaneval")
    tid = next(r.task_id for r in bench.index() if bench.split_of(r.task_id) == "train")
    result = runner.invoke(app, ["show", "humaneval", "--task", tid], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "def " in result.output and "answer format" in result.output
    assert "canonical" not in result.output and "check(" not in result.output


def test_sealed_tasks_need_the_flag() -> None:
    bench = get_benchmark("humaneval")
    sealed = next(r.task_id for r in bench.index() if bench.split_of(r.task_id) == "sealed")
    for args in (["show", "humaneval", "--split", "sealed"], ["show", "humaneval", "-t", sealed],
                 # another seed or ratios must not unseal what the default split seals
                 ["show", "humaneval", "-t", sealed, "--ratios", "100,0,0"],
                 ["show", "humaneval", "-t", sealed, "--seed", "other"]):
        refused = runner.invoke(app, args)
        assert refused.exit_code == 2 and "--i-know-this-is-sealed" in refused.output
        assert "def " not in refused.output
        allowed = runner.invoke(app, [*args, "--i-know-this-is-sealed"])
        assert allowed.exit_code == 0 and "def " in allowed.output


@pytest.mark.parametrize("args", [
    ["show", "nope"], ["show", "humaneval", "--split", "dev"], ["show", "humaneval", "-t", "x"],
    ["show", "bfcl:web_search"], ["--ratios", "1,2"], ["show", "arithmetic:size=0"],
])
def test_bad_input_exits_2_with_one_line(args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1


def test_list_runs_offline(can_unshare_net: bool) -> None:
    """No network at all (a fresh network namespace): listing and showing still work."""
    if not can_unshare_net:
        pytest.skip("unshare -rn is not available here")
    code = "from benchmarks.cli import app; app(['show', 'bfcl', '-t', 'multi_turn_base_0'])"
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), "HOME": "/nonexistent"}
    for argv in (["-c", "from benchmarks.cli import app; app([])"], ["-c", code]):
        out = subprocess.run(["unshare", "-rn", sys.executable, *argv], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("args", [
    ["show", "nope"], ["show", "jsonl:{bad}"], ["show", "humaneval", "--split", "dev"],
    ["--bench", "nope"],
])
def test_the_real_cli_exits_2_with_one_line(args: list[str], tmp_path: Path) -> None:
    """Through the `harness` entry point, which runs the app with standalone_mode=False."""
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"task_id": "a", "prompt": "p", "answer": 1}\n{not json\n')
    argv = [a.format(bad=bad) for a in args]
    out = subprocess.run([sys.executable, "-m", "harness.cli", "benchmarks", *argv], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert len(out.stderr.strip().splitlines()) == 1 and out.stderr.startswith("error: ")
    assert out.stdout == ""

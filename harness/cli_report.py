"""`harness compare`, `harness report` and `harness runs`: look at what runs produced."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from harness.config import field_help, load_config
from harness.errors import ConfigError

out = Console()


def compare_command(
    a: Annotated[str, typer.Argument(
        help="Side A: an agent folder, WORKSPACE@exp-NNNN / WORKSPACE@best, or a run folder.")],
    b: Annotated[str, typer.Argument(help="Side B, in the same forms as A.")],
    benchmark: Annotated[str, typer.Option(help="Benchmark spec, e.g. arithmetic, jsonl:PATH.")],
    split: Annotated[str, typer.Option(
        help="train, held_out, or sealed (only for candidates of a finalized workspace).")]
    = "held_out",
    trials: Annotated[int | None, typer.Option(
        help="Trials per task (default: what stored runs hold, else 1).", min=1)] = None,
    limit: Annotated[int | None, typer.Option(
        help="Only the first N tasks of the split (default: the stored run's tasks, else "
             "all).", min=1)] = None,
    cluster_by: Annotated[str | None, typer.Option(
        help="Task field (category, or a metadata key such as a generator template): tasks "
             "sharing it are resampled together (cluster bootstrap).")] = None,
    alpha: Annotated[float, typer.Option(help="Level at which the verdict calls it decisive.",
                                         min=0.0001, max=0.5)] = 0.05,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
    diff: Annotated[bool, typer.Option(help="Also print the code diff A → B.")] = False,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for new run folders.")]
    = Path("runs"),
    model: Annotated[str | None, typer.Option("--model", "-m", help=field_help("model"))] = None,
    port: Annotated[int | None, typer.Option(help=field_help("port"))] = None,
    config: Annotated[Path | None, typer.Option(help="TOML config file.")] = None,
) -> None:
    """Is B really better than A? Paired per-task comparison on the same tasks and trials.

    Stored episodes of the same code, model, tasks and trials are reused; otherwise both
    sides are evaluated, concurrently, against one model server. Prints a per-task table,
    the flipped tasks, the gate's paired test (two-sided), the 95 % CI of the mean
    difference, pass@k / pass^k, token, cost and latency deltas, and a one-line verdict.
    """
    from harness.compare import CompareRequest, compare, resolve, suggested_model
    from harness.compare.render import print_comparison

    request = CompareRequest(benchmark=benchmark, split=split, trials=trials, limit=limit,
                             cluster_by=cluster_by, alpha=alpha, diff=diff, out_dir=out_dir)
    with tempfile.TemporaryDirectory(prefix="harness-compare-") as scratch:
        sides = [resolve(label, spec, Path(scratch), out_dir)
                 for label, spec in (("A", a), ("B", b))]
        cfg = load_config(config, model=model or suggested_model(sides), port=port)
        result = asyncio.run(compare(cfg, sides, request))
    if json_out:
        print(result.model_dump_json(indent=2))
    else:
        print_comparison(result, out)


def report_command(
    workspace: Annotated[str, typer.Argument(
        help="The workspace of an optimisation run, or latest (the newest in ./workspaces).")],
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="HTML file to write (default: WORKSPACE/report.html).")] = None,
    project: Annotated[int, typer.Option(
        help="Project the spend of this many more experiments.", min=1)] = 10,
) -> None:
    """Write one self-contained HTML report of an optimisation run (opens offline)."""
    from harness.optimize.workspace import resolve_workspace
    from harness.report import write_report

    root = resolve_workspace(workspace)
    target = write_report(root, output or root / "report.html", project=project)
    out.print(f"wrote {target}", highlight=False, markup=False)


def runs_command(
    folder: Annotated[list[Path] | None, typer.Argument(
        help="Folders to list (default: ./runs and ./workspaces).")] = None,
) -> None:
    """List workspaces and eval runs, newest first: agent, benchmark, model, score, status."""
    from harness.report.runs import list_entries, runs_table

    folders = folder or [Path("runs"), Path("workspaces")]
    for path in folders:
        if path.exists() and not path.is_dir():
            raise ConfigError("DIR", f"{path} is not a folder")
    out.print(runs_table(list_entries(folders)))

"""`harness eval` and `harness traces`: run a candidate on a benchmark, read its traces."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from harness.config import field_help, load_config
from harness.errors import ConfigError, HarnessError
from harness.runner.results import EpisodeResult, RunResult

out = Console()
traces_app = typer.Typer(help="Read the traces of a run: episodes, and transcripts of each.",
                         no_args_is_help=True)
RUNS_DIR = Path("runs")


class MeanWithheld(HarnessError):
    """Too many episodes ended as infrastructure errors for the run's mean to mean anything."""


def eval_command(
    agent: Annotated[Path, typer.Option(help="Candidate folder holding agent.py.")],
    benchmark: Annotated[str, typer.Option(
        help="Benchmark spec, e.g. humaneval, bfcl:simple_python, jsonl:PATH.")],
    split: Annotated[str, typer.Option(
        help="train or held_out (the sealed split is for `harness finalize` only).")] = "train",
    limit: Annotated[int | None, typer.Option(help="Run only the first N tasks.")] = None,
    task_id: Annotated[list[str] | None, typer.Option(
        "--task-id", help="Run only these task ids (repeatable).")] = None,
    trials: Annotated[int, typer.Option(help="Episodes per task.")] = 1,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for run folders.")] = RUNS_DIR,
    model: Annotated[str | None, typer.Option("--model", "-m", help=field_help("model"))] = None,
    concurrency: Annotated[int | None, typer.Option(help=field_help("concurrency"))] = None,
    episode_time_s: Annotated[float | None, typer.Option(help=field_help("episode_time_s"))] = None,
    token_budget: Annotated[int | None, typer.Option(help=field_help("token_budget"))] = None,
    require_sandbox: Annotated[bool | None, typer.Option(
        "--require-sandbox/--allow-no-sandbox", help=field_help("require_sandbox"))] = None,
    max_error_share: Annotated[float | None, typer.Option(
        help=field_help("max_error_share"))] = None,
    port: Annotated[int | None, typer.Option(help=field_help("port"))] = None,
    config: Annotated[Path | None, typer.Option(help="TOML config file.")] = None,
) -> None:
    """Run an agent over a benchmark split, sandboxed and traced; print per-task results."""
    from harness.runner.run import EvalRequest, run_eval

    if split not in ("train", "held_out", "sealed"):
        raise ConfigError("--split", f"'{split}' is not one of train, held_out, sealed")
    if split == "sealed":
        raise ConfigError("--split", "the sealed split is run only by `harness finalize`")
    cfg = load_config(config, model=model, concurrency=concurrency, port=port,
                      episode_time_s=episode_time_s, token_budget=token_budget,
                      require_sandbox=require_sandbox, max_error_share=max_error_share)
    request = EvalRequest(agent_dir=agent, benchmark=benchmark, split=split, limit=limit,
                          trials=trials, out_dir=out_dir, task_ids=task_id)
    result = _with_progress(lambda listener: run_eval(cfg, request, listener))
    print_results(result)
    out.print(f"run folder: {out_dir / result.run_id}")
    if result.aggregate is not None and result.aggregate.withheld:
        raise MeanWithheld(f"mean withheld: {result.aggregate.withheld}")


def _with_progress(start: object) -> RunResult:
    columns = (TextColumn("[bold]eval"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[stats]}"), TimeElapsedColumn())
    with Progress(*columns, console=out, transient=False) as progress:
        bar = progress.add_task("eval", total=None, stats="starting…")
        seen: list[EpisodeResult] = []

        def listener(episode: EpisodeResult) -> None:
            seen.append(episode)
            counted = [e for e in seen if e.status != "error"]
            passed = sum(e.passed for e in counted)
            rate = passed / len(counted) if counted else 0.0
            errors = len(seen) - len(counted)
            progress.update(bar, advance=1, stats=f"pass {passed}/{len(counted)} ({rate:.0%})"
                                                  f" · errors {errors}")

        return asyncio.run(start(listener))  # type: ignore[operator]


def print_results(result: RunResult) -> None:
    table = Table(title=f"{result.benchmark} · {result.split} · {result.model}")
    table.add_column("task", no_wrap=True)
    for column in ("trial", "status", "score", "tokens in/out", "calls", "latency s", "error"):
        table.add_column(column)
    for e in sorted(result.episodes, key=lambda e: (e.task_id, e.trial)):
        table.add_row(e.task_id, str(e.trial), e.status, f"{e.score:.2f}",
                      f"{e.input_tokens}/{e.output_tokens}", f"{e.model_calls}+{e.tool_calls}",
                      f"{e.latency_s:.1f}", e.error_kind or "")
    out.print(table)
    agg = result.aggregate
    if agg is None:
        return
    if agg.mean_score is None or agg.ci_low is None or agg.ci_high is None \
            or agg.pass_rate is None:
        mean = f"no mean score: {agg.withheld}"
    else:
        mean = (f"mean score {agg.mean_score:.3f} (95% CI {agg.ci_low:.3f}–{agg.ci_high:.3f}) "
                f"over {agg.counted} episodes · pass rate {agg.pass_rate:.1%}")
    out.print(f"{mean} · {agg.errors} infrastructure errors ({agg.error_share:.0%}, not "
              f"counted) · {agg.input_tokens}/{agg.output_tokens} tokens · "
              f"${agg.cost_usd:.4f} · isolation {result.isolation}"
              + (" (forked workers)" if result.forked_workers else ""),
              highlight=False, markup=False)


def resolve_run(run: str) -> Path:
    """A run folder from a path, a run id under ./runs, `latest` (the newest there), or a
    workspace experiment: `WORKSPACE@exp-0003` (its train run), `WORKSPACE@3:held_out`
    (also `:smoke`, `:meta`). A folder whose one run folder is one level down
    (`WORKSPACE/experiments/0003/train`) is accepted too."""
    if run == "latest":
        found = sorted(p for p in RUNS_DIR.glob("*") if (p / "traces.sqlite").is_file())
        if not found:
            raise ConfigError("RUN", f"no runs in {RUNS_DIR}/ yet")
        return found[-1]
    if "@" in run and not Path(run).exists():
        return _experiment_run(run)
    for candidate in (Path(run), RUNS_DIR / run):
        if (candidate / "traces.sqlite").is_file():
            return candidate
        inner = [p for p in candidate.glob("*") if (p / "traces.sqlite").is_file()]
        if len(inner) == 1:
            return inner[0]
    raise ConfigError("RUN", f"no run folder with traces.sqlite at '{run}' or '{RUNS_DIR / run}'")


def _experiment_run(spec: str) -> Path:
    """`WORKSPACE@exp-NNNN[:train|held_out|smoke|meta]` -> that experiment's run folder."""
    root, _, ref = spec.rpartition("@")
    ref, _, part = ref.partition(":")
    number = ref.removeprefix("exp-")
    if not number.isdigit() or part not in ("", "train", "held_out", "smoke", "meta"):
        raise ConfigError("RUN", f"'{spec}': use WORKSPACE@exp-NNNN, optionally with "
                                 ":train, :held_out, :smoke or :meta")
    folder = Path(root) / "experiments" / f"{int(number):04d}" / (part or "train")
    if (folder / "traces.sqlite").is_file():
        return folder
    inner = sorted(p for p in folder.glob("*") if (p / "traces.sqlite").is_file())
    if not inner:
        raise ConfigError("RUN", f"'{spec}': no {part or 'train'} run in {folder}")
    return inner[-1]


@traces_app.command("list")
def traces_list(run: Annotated[str, typer.Argument(help="Run folder, run id, or latest.")]) -> None:
    """List a run's episodes with their status, score, calls and tokens."""
    from traces.store import TraceStore

    folder = resolve_run(run)
    results = _results_by_episode(folder)
    table = Table(title=str(folder))
    table.add_column("task", no_wrap=True)
    for column in ("episode", "status", "score", "chats", "tools", "tokens", "s"):
        table.add_column(column)
    with TraceStore(folder / "traces.sqlite") as store:
        for ep in store.episodes():
            res = results.get(ep.episode_id)
            table.add_row(ep.task_id or "", ep.episode_id[:12],
                          res.status if res else "(retried)",
                          f"{res.score:.2f}" if res else "", str(ep.chat_count),
                          str(ep.tool_count), f"{ep.input_tokens}/{ep.output_tokens}",
                          f"{ep.duration_s:.1f}")
    out.print(table)


@traces_app.command("show")
def traces_show(
    run: Annotated[str, typer.Argument(help="Run folder, run id, or latest.")],
    task_id: Annotated[str | None, typer.Argument(
        help="Task id (its last episode is shown); default: the run's first episode.")] = None,
    episode: Annotated[str | None, typer.Option(help="A specific episode id (prefix).")] = None,
    offset: Annotated[int, typer.Option(help="First line to show.")] = 0,
    limit: Annotated[int, typer.Option(help="Lines per page.")] = 200,
) -> None:
    """Print an episode as a readable transcript, paged with explicit continuation markers."""
    from traces.render import render_episode, render_page
    from traces.store import TraceStore

    folder = resolve_run(run)
    with TraceStore(folder / "traces.sqlite") as store:
        episodes = [e for e in store.episodes(task_id)
                    if episode is None or e.episode_id.startswith(episode)]
        if not episodes:
            raise ConfigError("TASK_ID", f"no episode of '{task_id or 'any task'}' in {folder}")
        pick = max if task_id else min
        chosen = pick(episodes, key=lambda e: e.start_ns)
        lines = render_episode(store, chosen.episode_id)
    out.print(render_page(lines, offset, limit), markup=False, highlight=False, soft_wrap=True)


def _results_by_episode(folder: Path) -> dict[str, EpisodeResult]:
    path = folder / "results.json"
    if not path.is_file():
        return {}
    return {e.episode_id: e for e in RunResult.load(path).episodes}

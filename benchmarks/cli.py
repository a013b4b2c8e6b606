"""`harness benchmarks` (list, with task counts per split) and `harness benchmarks show`.

Sealed tasks are never printed without `--i-know-this-is-sealed`. Bad input is one line on
stderr and exit code 2.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from benchmarks.base import SPLITS, BaseBenchmark, Task
from benchmarks.registry import get_benchmark, list_benchmarks
from benchmarks.splits import DEFAULT_SEED, Split, parse_ratios
from harness.errors import ConfigError

app = typer.Typer(
    help="List benchmarks and show tasks as the agent sees them.",
    invoke_without_command=True,
    no_args_is_help=False,
)
SealedFlag = Annotated[
    bool, typer.Option("--i-know-this-is-sealed", help="Allow printing a sealed test task.")
]
SeedOpt = Annotated[str, typer.Option("--seed", help="Split seed.")]
RatiosOpt = Annotated[str, typer.Option("--ratios", help="train,held_out,sealed weights.")]
DEFAULT_RATIOS_TEXT = "50,30,20"


def _fail(message: str) -> SystemExit:
    """Print one line; the caller raises the result. A SystemExit, not `typer.Exit`: the
    `harness` entry point runs the app with `standalone_mode=False`, where click turns
    `Exit(2)` into a return value that nobody passes on, and the process exited 0."""
    Console(stderr=True).print(f"error: {message}", markup=False, highlight=False,
                               soft_wrap=True)
    return SystemExit(2)


def _load(spec: str, seed: str, ratios: str) -> BaseBenchmark:
    try:
        return get_benchmark(spec, seed=seed, ratios=parse_ratios(ratios))
    except ValueError as exc:
        raise ConfigError("--ratios", str(exc)) from None


@app.callback()
def benchmarks(
    ctx: typer.Context,
    spec: Annotated[
        list[str] | None,
        typer.Option("--bench", "-b", help="List these specs (e.g. jsonl:tasks.jsonl) instead."),
    ] = None,
    seed: SeedOpt = DEFAULT_SEED,
    ratios: RatiosOpt = "50,30,20",
) -> None:
    """List benchmarks with their task counts per split."""
    if ctx.invoked_subcommand is not None:
        return
    table = Table(title=f"Benchmarks (split seed {seed!r}, ratios {ratios})")
    for column in ("benchmark", "categories", *SPLITS, "total"):
        table.add_column(column, justify="right" if column in (*SPLITS, "total") else "left")
    try:
        for name in spec or list_benchmarks():
            bench = _load(name, seed, ratios)
            counts = bench.split_counts()
            cats = sorted({ref.category for ref in bench.index()})
            shown = ", ".join(cats) if len(cats) <= 6 else f"{len(cats)} categories"
            table.add_row(bench.id, shown,
                          *(str(counts[s]) for s in SPLITS), str(sum(counts.values())))
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    Console().print(table)


def _render(task: Task, split: Split) -> None:
    console = Console()
    title = Text(f"{task.benchmark} / {task.task_id} (category {task.category}, split {split})")
    console.print(Panel(Text(task.prompt), title=title, expand=False))
    if len(task.turns) > 1:
        for i, turn in enumerate(task.turns[1:], 2):
            text = "\n".join(f"{m['role']}: {m['content']}" for m in turn) or "(no message)"
            console.print(Panel(Text(text), title=f"turn {i}", expand=False))
    if task.tools:
        console.print(f"tools ({len(task.tools)}):", markup=False)
        console.print_json(json.dumps(task.tools))
    if task.metadata:
        console.print("metadata:", markup=False)
        console.print_json(json.dumps(task.metadata))
    console.print(f"answer format: {task.answer_format}", markup=False)


@app.command()
def show(
    name: Annotated[str, typer.Argument(help="Benchmark spec, e.g. humaneval or jsonl:f.jsonl")],
    split: Annotated[
        str, typer.Option("--split", "-s", help="train | held_out | sealed")
    ] = "train",
    task_id: Annotated[str | None, typer.Option("--task", "-t", help="Task id.")] = None,
    sealed_ok: SealedFlag = False,
    seed: SeedOpt = DEFAULT_SEED,
    ratios: RatiosOpt = DEFAULT_RATIOS_TEXT,
) -> None:
    """Print one task as the agent would see it (default: the first task of --split)."""
    try:
        bench = _load(name, seed, ratios)
        if task_id is not None:
            try:
                chosen: Split = bench.split_of(task_id)
            except KeyError:
                raise ConfigError("--task", f"no task {task_id!r} in {bench.id}") from None
        elif split in SPLITS:
            chosen = split
        else:
            raise ConfigError("--split", f"must be one of {', '.join(SPLITS)}, got {split!r}")
        if chosen == "sealed" and not sealed_ok:
            raise ConfigError("split", "refusing to print a sealed test task; pass "
                              "--i-know-this-is-sealed if you really mean to")
        if task_id is None:
            ids = [r.task_id for r in bench.index() if bench.split_of(r.task_id) == chosen]
            if not ids:
                raise ConfigError("--split", f"{bench.id} has no {chosen} tasks")
            task_id = ids[0]
        # Another --seed or --ratios must not unseal a task that the default split seals.
        if not sealed_ok and _load(name, DEFAULT_SEED, DEFAULT_RATIOS_TEXT).split_of(
                task_id) == "sealed":
            raise ConfigError("--task", f"{task_id} is sealed under the default split; pass "
                              "--i-know-this-is-sealed if you really mean to")
        task = bench.task(task_id)
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    _render(task, chosen)

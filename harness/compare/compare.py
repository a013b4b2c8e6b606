"""`harness compare A B`: the paired comparison of two agents on one benchmark split.

Steps: find each side's stored episodes of the wanted tasks and trials (sides.py); evaluate
the sides that have none, concurrently, against one model server; pair the per-task trial
scores and run the gate's tests on them (stats.py). The sealed split is compared only between
candidates of a finalized workspace (or from sealed run folders that already exist): before
`finalize` nobody may look at it.
"""

from __future__ import annotations

import asyncio
import difflib
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from benchmarks.registry import get_benchmark
from harness.compare.sides import (
    Episodes,
    Side,
    matching_runs,
    reuse,
    stored_trials,
)
from harness.compare.stats import (
    CategoryShift,
    Flips,
    PairedStats,
    SideTotals,
    TaskRow,
    category_shifts,
    flips,
    paired_stats,
    side_totals,
    task_rows,
    verdict,
)
from harness.config import HarnessConfig
from harness.errors import ConfigError
from harness.runner.results import RunResult
from harness.runner.run import EvalRequest, run_eval
from harness.servers import running_model

SCHEMA_VERSION = 1
SPLITS = ("train", "held_out", "sealed")
MAX_DIFF_CHARS = 200_000


@dataclass
class CompareRequest:
    benchmark: str
    split: str = "held_out"
    trials: int | None = None
    limit: int | None = None
    cluster_by: str | None = None
    alpha: float = 0.05
    diff: bool = False
    out_dir: Path = Path("runs")


class SideReport(BaseModel):
    label: str
    spec: str
    agent_sha256: str
    run_dir: str | None
    reused: bool  # stored episodes were used; nothing was evaluated for this side
    totals: SideTotals


class Comparison(BaseModel):
    """Everything `harness compare` prints, as one versioned document (`--json`)."""

    schema_version: int = SCHEMA_VERSION
    benchmark: str
    split: str
    model: str
    a: SideReport
    b: SideReport
    tasks: list[TaskRow]
    dropped_tasks: list[str]  # no counted trial on one side (infrastructure errors)
    stats: PairedStats
    flips: Flips
    categories: list[CategoryShift]
    token_delta: int  # B − A, over all counted episodes
    cost_delta_usd: float
    latency_delta_s: float  # mean per episode
    verdict: str
    diff: str | None = None


def suggested_model(sides: list[Side]) -> str | None:
    """The model a comparison defaults to: the workspace's, else the run folder's."""
    for side in sides:
        if side.workspace is not None:
            return side.workspace.info().model
    return next((side.run.model for side in sides if side.run is not None), None)


def check_split(split: str, sides: list[Side]) -> None:
    if split not in SPLITS:
        raise ConfigError("--split", f"'{split}' is not one of train, held_out, sealed")
    if split != "sealed":
        return
    for side in sides:
        ws = side.workspace
        stored_sealed = side.run is not None and side.run.split == "sealed"
        if not stored_sealed and (ws is None or ws.info().finalized_at is None):
            raise ConfigError("--split", f"the sealed split is compared only between candidates "
                                         f"of a finalized workspace ({side.label} = {side.spec} "
                                         "is not); run `harness finalize` first")


async def compare(config: HarnessConfig, sides: list[Side], request: CompareRequest) -> Comparison:
    check_split(request.split, sides)
    bench = get_benchmark(request.benchmark)
    runs = [matching_runs(s, benchmark=bench.id, split=request.split, model=config.model)
            for s in sides]
    for side, found in zip(sides, runs, strict=True):
        if side.run is not None and not found:
            raise ConfigError(side.label, f"{side.spec} holds {side.run.benchmark} "
                              f"{side.run.split} with {side.run.model}, not {bench.id} "
                              f"{request.split} with {config.model}")
    tasks = _wanted_tasks(bench, sides, runs, request)
    stored = [stored_trials(found, tasks) for found in runs if found]
    trials = request.trials or (min(stored) if stored and min(stored) > 0 else 1)
    episodes = await _episodes(config, sides, runs, tasks, trials, request)
    return _build(config, bench, sides, episodes, trials, request)


def _wanted_tasks(bench: object, sides: list[Side], runs: list[list[RunResult]],
                  request: CompareRequest) -> list[str]:
    every = [t.task_id for t in bench.tasks(request.split)]  # type: ignore[attr-defined]
    if request.limit:
        return every[: request.limit]
    for side in sides:
        if side.run is not None:
            return sorted({e.task_id for e in side.run.episodes})
    for found in runs:
        if found:
            return sorted({e.task_id for e in found[0].episodes})
    return every


async def _episodes(config: HarnessConfig, sides: list[Side], runs: list[list[RunResult]],
                    tasks: list[str], trials: int, request: CompareRequest) -> list[Episodes]:
    tables: list[Episodes | None] = []
    for side, found in zip(sides, runs, strict=True):
        hit = reuse(side, found, tasks, trials)
        tables.append(hit)
        if hit is None and side.folder is None:
            raise ConfigError(side.label, f"{side.spec} has no stored episodes for these "
                              f"{len(tasks)} tasks × {trials} trials, and its code is gone; "
                              "pass its agent folder or a workspace candidate instead")
    missing = [s for s, t in zip(sides, tables, strict=True) if t is None]
    if missing:
        async with running_model(config):  # one server for both sides
            done = await asyncio.gather(*(_evaluate(config, s, tasks, trials, request)
                                          for s in missing))
        fresh = iter(done)
        tables = [t if t is not None else next(fresh) for t in tables]
    return [t for t in tables if t is not None]


async def _evaluate(config: HarnessConfig, side: Side, tasks: list[str], trials: int,
                    request: CompareRequest) -> Episodes:
    assert side.folder is not None
    hidden = [side.workspace.root] if side.workspace is not None else []
    result = await run_eval(config, EvalRequest(
        agent_dir=side.folder, benchmark=request.benchmark, split=request.split, trials=trials,
        out_dir=request.out_dir, task_ids=tasks, hidden=hidden))
    side.run_dir = request.out_dir / result.run_id
    table: Episodes = {}
    for e in sorted(result.episodes, key=lambda e: (e.task_id, e.trial)):
        if e.status != "error":
            table.setdefault(e.task_id, []).append(e)
    return table


def _build(config: HarnessConfig, bench: object, sides: list[Side], episodes: list[Episodes],
           trials: int, request: CompareRequest) -> Comparison:
    a, b = episodes
    common = sorted(set(a) & set(b))
    kept = [t for t in common if len(a[t]) >= trials and len(b[t]) >= trials]
    dropped = sorted((set(a) | set(b)) - set(kept))
    pairs_a = {t: a[t][:trials] for t in kept}
    pairs_b = {t: b[t][:trials] for t in kept}
    rows = task_rows(pairs_a, pairs_b)
    if not rows:
        raise ConfigError("--benchmark", "no task was scored on both sides")
    clusters = _clusters(bench, rows, request) if request.cluster_by else None
    stats = paired_stats(rows, clusters=clusters, cluster_by=request.cluster_by)
    flat = [[e for t in kept for e in side[t]] for side in (pairs_a, pairs_b)]
    totals = [side_totals(items, trials) for items in flat]
    reports = [SideReport(label=s.label, spec=s.spec, agent_sha256=s.digest,
                          run_dir=str(s.run_dir) if s.run_dir else None, reused=s.reused,
                          totals=t) for s, t in zip(sides, totals, strict=True)]
    return Comparison(
        benchmark=bench.id, split=request.split, model=config.model,  # type: ignore[attr-defined]
        a=reports[0], b=reports[1], tasks=rows, dropped_tasks=dropped, stats=stats,
        flips=flips(rows), categories=category_shifts(rows),
        token_delta=totals[1].tokens - totals[0].tokens,
        cost_delta_usd=totals[1].cost_usd - totals[0].cost_usd,
        latency_delta_s=totals[1].mean_latency_s - totals[0].mean_latency_s,
        verdict=verdict(stats, request.alpha),
        diff=code_diff(sides[0], sides[1]) if request.diff else None)


def _clusters(bench: object, rows: list[TaskRow], request: CompareRequest) -> dict[str, str]:
    field = request.cluster_by or ""
    if field == "category":
        return {r.task_id: r.category for r in rows}
    meta = {t.task_id: t.metadata for t in bench.tasks(request.split)}  # type: ignore[attr-defined]
    clusters = {}
    for row in rows:
        value = meta.get(row.task_id, {}).get(field)
        if value is None:
            raise ConfigError("--cluster-by", f"task {row.task_id!r} has no field '{field}' "
                                              "(use category or a key of the task's metadata)")
        clusters[row.task_id] = str(value)
    return clusters


def code_diff(a: Side, b: Side) -> str:
    """Unified diff of the two sides' text files (A → B), or why there is none."""
    if a.folder is None or b.folder is None:
        gone = a if a.folder is None else b
        return f"(no code diff: {gone.label} = {gone.spec} is a run folder whose code is gone)"
    names = sorted({p.relative_to(f).as_posix() for f in (a.folder, b.folder)
                    for p in f.rglob("*") if p.is_file() and "__pycache__" not in p.parts})
    chunks: list[str] = []
    for name in names:
        old, new = _text(a.folder / name), _text(b.folder / name)
        chunks += difflib.unified_diff(old, new, f"A/{name}", f"B/{name}")
    text = "".join(chunks)
    if len(text) > MAX_DIFF_CHARS:
        return text[:MAX_DIFF_CHARS] + f"\n… {len(text) - MAX_DIFF_CHARS} more characters cut\n"
    return text or "(the two folders hold identical files)\n"


def _text(path: Path) -> list[str]:
    if not path.is_file():
        return []
    data = path.read_bytes()
    if b"\0" in data:
        return [f"(binary file, {len(data)} bytes)\n"]
    return data.decode(errors="replace").splitlines(keepends=True)

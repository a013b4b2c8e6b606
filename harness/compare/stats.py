"""The paired comparison of two agents on the same tasks and trials: B − A.

The tests are the gate's (`harness.stats.paired`): exact McNemar with one pass/fail trial,
Cochran–Mantel–Haenszel with several, a paired bootstrap for graded scores, and a cluster
bootstrap when tasks are grouped (`--cluster-by`). The gate asks a one-sided question ("is the
candidate better?"); `compare` asks "do they differ?", so the headline p-value is two-sided:
twice the smaller of the two one-sided p-values (the exact two-sided McNemar for one trial),
capped at 1. Identical inputs give p = 1 and a CI of [0, 0].
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel

from harness.optimize.gate import choose_method
from harness.runner.results import EpisodeResult
from harness.stats.paired import (
    DEFAULT_RESAMPLES,
    BootstrapResult,
    cluster_bootstrap,
    cmh_test,
    paired_bootstrap,
    sign_test,
)

Method = Literal["mcnemar", "cmh", "bootstrap", "cluster_bootstrap"]
Outcome = Literal["win", "loss", "tie"]  # from B's side
_EQUAL = 1e-9


class TaskRow(BaseModel):
    task_id: str
    category: str
    a_trials: list[float]
    b_trials: list[float]
    a_score: float  # trial mean
    b_score: float
    a_tokens: int  # over its trials
    b_tokens: int
    a_latency_s: float  # mean over its trials
    b_latency_s: float
    outcome: Outcome


class PairedStats(BaseModel):
    method: Method
    n_tasks: int
    trials: int
    wins: int  # tasks where B's trial mean is higher
    losses: int
    ties: int
    delta: float  # mean over tasks of (B − A) trial means
    ci_low: float  # 95 % bootstrap CI of delta (cluster bootstrap with --cluster-by)
    ci_high: float
    statistic: float | None
    p_two_sided: float
    p_b_better: float  # the gate's one-sided p, H1: B better
    cluster_by: str | None = None
    clusters: int | None = None


class SideTotals(BaseModel):
    tokens: int
    cost_usd: float
    mean_latency_s: float
    pass_at_k: float | None = None  # share of tasks where some trial passed (trials > 1)
    pass_hat_k: float | None = None  # share of tasks where every trial passed


class CategoryShift(BaseModel):
    category: str
    tasks: int
    delta: float
    wins: int
    losses: int


class Flips(BaseModel):
    fixed: list[str]  # A mostly failed, B mostly passes
    broken: list[str]


def task_rows(a: Mapping[str, Sequence[EpisodeResult]],
              b: Mapping[str, Sequence[EpisodeResult]]) -> list[TaskRow]:
    """One row per task (both sides hold the same tasks with the same trial count)."""
    rows = []
    for task in sorted(a):
        ea, eb = list(a[task]), list(b[task])
        sa, sb = [e.score for e in ea], [e.score for e in eb]
        diff = float(np.mean(sb)) - float(np.mean(sa))
        rows.append(TaskRow(
            task_id=task, category=ea[0].category or eb[0].category, a_trials=sa, b_trials=sb,
            a_score=float(np.mean(sa)), b_score=float(np.mean(sb)),
            a_tokens=sum(e.input_tokens + e.output_tokens for e in ea),
            b_tokens=sum(e.input_tokens + e.output_tokens for e in eb),
            a_latency_s=float(np.mean([e.latency_s for e in ea])),
            b_latency_s=float(np.mean([e.latency_s for e in eb])),
            outcome="win" if diff > _EQUAL else "loss" if diff < -_EQUAL else "tie"))
    return rows


def paired_stats(rows: Sequence[TaskRow], *, clusters: Mapping[str, str] | None = None,
                 cluster_by: str | None = None, seed: int = 0,
                 resamples: int = DEFAULT_RESAMPLES) -> PairedStats:
    """The paired test and CI of B − A over `rows` (see the module docstring)."""
    if not rows:
        raise ValueError("nothing to compare: no task was scored on both sides")
    par = np.array([r.a_trials for r in rows], dtype=np.float64)
    cand = np.array([r.b_trials for r in rows], dtype=np.float64)
    diffs = cand.mean(axis=1) - par.mean(axis=1)
    wins, losses = int(np.sum(diffs > _EQUAL)), int(np.sum(diffs < -_EQUAL))
    if clusters is not None:
        by_task = {r.task_id: float(d) for r, d in zip(rows, diffs, strict=True)}
        up = cluster_bootstrap(by_task, clusters, resamples=resamples, seed=seed)
        down = cluster_bootstrap({t: -d for t, d in by_task.items()}, clusters,
                                 resamples=resamples, seed=seed)
        method: Method = "cluster_bootstrap"
        statistic, p_up, p_down = _z(up), up.p_value, down.p_value
        interval = up
    else:
        interval = paired_bootstrap(diffs, resamples=resamples, seed=seed)
        method, statistic, p_up, p_down = _test(par, cand, wins, losses, diffs, interval,
                                                seed, resamples)
    equal = wins == losses == 0
    return PairedStats(
        method=method, n_tasks=len(rows), trials=par.shape[1], wins=wins, losses=losses,
        ties=len(rows) - wins - losses, delta=0.0 if equal else float(diffs.mean()),
        ci_low=interval.ci_low, ci_high=interval.ci_high, statistic=statistic,
        p_two_sided=1.0 if equal else min(1.0, 2.0 * min(p_up, p_down)), p_b_better=p_up,
        cluster_by=cluster_by,
        clusters=len({clusters[r.task_id] for r in rows}) if clusters is not None else None)


def _test(par: np.ndarray, cand: np.ndarray, wins: int, losses: int, diffs: np.ndarray,
          interval: BootstrapResult, seed: int,
          resamples: int) -> tuple[Method, float | None, float, float]:
    """(method, statistic, p for B better, p for A better)."""
    chosen = choose_method(par, cand)
    if chosen == "mcnemar":
        return chosen, float(wins), sign_test(wins, losses).p_value, \
            sign_test(losses, wins).p_value
    if chosen == "cmh":
        trials = par.shape[1]
        up = cmh_test(cand.sum(axis=1), par.sum(axis=1), trials)
        down = cmh_test(par.sum(axis=1), cand.sum(axis=1), trials)
        return chosen, up.statistic, up.p_value, down.p_value
    other_way = paired_bootstrap(-diffs, resamples=resamples, seed=seed)
    return "bootstrap", _z(interval), interval.p_value, other_way.p_value


def _z(result: BootstrapResult) -> float | None:
    return result.delta / result.std_error if result.std_error > 0 else None


def side_totals(episodes: Sequence[EpisodeResult], trials: int) -> SideTotals:
    by_task: dict[str, list[bool]] = {}
    for e in episodes:
        by_task.setdefault(e.task_id, []).append(e.passed)
    totals = SideTotals(
        tokens=sum(e.input_tokens + e.output_tokens for e in episodes),
        cost_usd=sum(e.cost_usd for e in episodes),
        mean_latency_s=float(np.mean([e.latency_s for e in episodes])) if episodes else 0.0)
    if trials > 1 and by_task:
        totals.pass_at_k = sum(any(p) for p in by_task.values()) / len(by_task)
        totals.pass_hat_k = sum(all(p) for p in by_task.values()) / len(by_task)
    return totals


def category_shifts(rows: Sequence[TaskRow]) -> list[CategoryShift]:
    """Categories where some task moved, largest |delta| first."""
    groups: dict[str, list[TaskRow]] = {}
    for row in rows:
        groups.setdefault(row.category or "(none)", []).append(row)
    shifts = [CategoryShift(category=name, tasks=len(items),
                            delta=float(np.mean([r.b_score - r.a_score for r in items])),
                            wins=sum(r.outcome == "win" for r in items),
                            losses=sum(r.outcome == "loss" for r in items))
              for name, items in groups.items()]
    moved = [s for s in shifts if s.wins or s.losses]
    return sorted(moved, key=lambda s: (-abs(s.delta), s.category))


def flips(rows: Sequence[TaskRow]) -> Flips:
    """Tasks whose majority verdict changed (a score of 1 passes; graded: >= 0.5)."""
    def passes(mean: float) -> bool:
        return mean >= 0.5

    return Flips(fixed=[r.task_id for r in rows if passes(r.b_score) and not passes(r.a_score)],
                 broken=[r.task_id for r in rows if passes(r.a_score) and not passes(r.b_score)])


def verdict(stats: PairedStats, alpha: float) -> str:
    """One plain sentence: the difference, its CI, and whether it is decisive at alpha."""
    shift = (f"difference {100 * stats.delta:+.1f} points (B − A), 95 % CI "
             f"[{100 * stats.ci_low:+.1f}, {100 * stats.ci_high:+.1f}], "
             f"{stats.method} p = {_p(stats.p_two_sided)} two-sided "
             f"over {stats.n_tasks} tasks × {stats.trials} trials")
    if stats.wins == stats.losses == 0:
        return f"{shift}: no difference on any task."
    if stats.p_two_sided <= alpha:
        better = "B" if stats.delta > 0 else "A"
        return f"{shift}: decisive at α = {alpha:g}, {better} is better."
    return f"{shift}: not decisive at α = {alpha:g}."


def _p(p: float) -> str:
    return f"{p:.2g}" if p < 0.001 else f"{p:.3f}"

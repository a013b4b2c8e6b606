"""The keep/revert gate: is the candidate really better than its parent on held-out?

Keep only when the mean per-task difference is positive AND a one-sided paired test rejects
"no better" at `alpha`. The test is chosen by the data ("auto"):
- pass/fail scores, 1 trial per task: exact McNemar (sign test on the discordant tasks);
- pass/fail scores, several trials: Cochran–Mantel–Haenszel over the trials, one stratum
  per task (a task both sides always or never solve carries no information);
- graded scores: paired bootstrap over tasks of the trial means.
`method="mean"` is the naive rule (keep on any positive delta), for comparison only.
Equal scores on every task keep the candidate only when it is simpler (its size measure,
e.g. compressed code, is smaller), as autoresearch does. The 95 % CI of the delta is
always a seeded paired bootstrap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from harness.stats.paired import (
    DEFAULT_RESAMPLES,
    BootstrapResult,
    TestResult,
    cmh_test,
    paired_bootstrap,
    sign_test,
)
from harness.stats.power import smallest_detectable_gain

__all__ = ["GATE_SCHEMA_VERSION", "GateDecision", "PerTask", "decide", "smallest_detectable_gain"]

GATE_SCHEMA_VERSION = 1
PerTask = dict[str, list[float]]  # task_id -> per-trial scores in [0, 1]
Method = Literal["mcnemar", "cmh", "bootstrap", "mean"]
_EQUAL = 1e-9  # trial means closer than this are equal (float sums of graded scores)


class GateDecision(BaseModel):
    """The gate's verdict with its statistics, as stored in the ledger."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = GATE_SCHEMA_VERSION
    keep: bool
    method: Method
    delta: float  # mean over tasks of (candidate trial-mean − parent trial-mean)
    ci_low: float  # 95 % CI of delta: paired bootstrap over tasks, seeded
    ci_high: float
    statistic: float | None  # wins (mcnemar), signed z (cmh), delta / bootstrap SE (bootstrap)
    p_value: float | None  # one-sided, H1: candidate better; None for "mean"
    alpha: float
    n_tasks: int
    trials: int
    wins: int  # tasks where the candidate's trial mean is higher
    losses: int
    ties: int
    simpler: bool  # kept (or would be) by the simplicity rule
    reason: str


def decide(
    parent: Mapping[str, Sequence[float]],
    candidate: Mapping[str, Sequence[float]],
    *,
    alpha: float = 0.10,
    method: Literal["auto", "mean"] = "auto",
    parent_lines: int | None = None,
    candidate_lines: int | None = None,
    seed: int = 0,
    resamples: int = DEFAULT_RESAMPLES,
) -> GateDecision:
    """Compare `candidate` with `parent` on the same tasks and trials; see the module doc."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    if method not in ("auto", "mean"):
        raise ValueError(f"gate method must be 'auto' or 'mean', got {method!r}")
    tasks, par, cand = _paired_arrays(parent, candidate)
    diffs = cand.mean(axis=1) - par.mean(axis=1)
    wins = int(np.sum(diffs > _EQUAL))
    losses = int(np.sum(diffs < -_EQUAL))
    ties = len(tasks) - wins - losses
    equal = wins == 0 and losses == 0
    simpler = equal and _is_simpler(parent_lines, candidate_lines)
    interval = paired_bootstrap(diffs, resamples=resamples, seed=seed)
    delta = 0.0 if equal else float(diffs.mean())
    chosen, test = _run_test(method, par, cand, wins, losses, interval)
    significant = test is None or test.p_value <= alpha
    keep = simpler or (delta > _EQUAL and significant)
    decision = GateDecision(
        keep=keep,
        method=chosen,
        delta=delta,
        ci_low=interval.ci_low,
        ci_high=interval.ci_high,
        statistic=None if test is None else test.statistic,
        p_value=None if test is None else test.p_value,
        alpha=alpha,
        n_tasks=len(tasks),
        trials=par.shape[1],
        wins=wins,
        losses=losses,
        ties=ties,
        simpler=simpler,
        reason="",
    )
    reason = _reason(decision, parent_lines, candidate_lines)
    return decision.model_copy(update={"reason": reason})


def choose_method(parent: np.ndarray, candidate: np.ndarray) -> Method:
    """The automatic test for these scores (tasks × trials arrays)."""
    binary = bool(
        np.all((parent == 0) | (parent == 1)) and np.all((candidate == 0) | (candidate == 1))
    )
    if not binary:
        return "bootstrap"
    return "mcnemar" if parent.shape[1] == 1 else "cmh"


def _run_test(
    method: Literal["auto", "mean"],
    par: np.ndarray,
    cand: np.ndarray,
    wins: int,
    losses: int,
    interval: BootstrapResult,
) -> tuple[Method, TestResult | None]:
    if method == "mean":
        return "mean", None
    chosen = choose_method(par, cand)
    if chosen == "mcnemar":
        return chosen, sign_test(wins, losses)
    if chosen == "cmh":
        trials = par.shape[1]
        return chosen, cmh_test(cand.sum(axis=1), par.sum(axis=1), trials)
    statistic = interval.delta / interval.std_error if interval.std_error > 0 else None
    return chosen, TestResult(statistic=statistic, p_value=interval.p_value)


def _paired_arrays(
    parent: Mapping[str, Sequence[float]], candidate: Mapping[str, Sequence[float]]
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Validate and align: same tasks, same trial count everywhere, finite scores in [0, 1]."""
    if not parent:
        raise ValueError("the gate needs at least one held-out task; the parent has none")
    only_parent = sorted(set(parent) - set(candidate))
    only_candidate = sorted(set(candidate) - set(parent))
    if only_parent or only_candidate:
        raise ValueError(
            "parent and candidate were scored on different tasks: "
            f"only the parent has {_names(only_parent)}, "
            f"only the candidate has {_names(only_candidate)}"
        )
    tasks = sorted(parent)
    trials = len(parent[tasks[0]])
    for side, scores in (("parent", parent), ("candidate", candidate)):
        for task in tasks:
            if len(scores[task]) != trials:
                raise ValueError(
                    f"every task needs the same number of trials on both sides: {side} task "
                    f"{task!r} has {len(scores[task])}, task {tasks[0]!r} has {trials}"
                )
    if trials == 0:
        raise ValueError(f"task {tasks[0]!r} has no trials")
    par = np.array([[float(s) for s in parent[t]] for t in tasks], dtype=np.float64)
    cand = np.array([[float(s) for s in candidate[t]] for t in tasks], dtype=np.float64)
    for side, arr in (("parent", par), ("candidate", cand)):
        bad = ~(np.isfinite(arr) & (arr >= 0.0) & (arr <= 1.0))
        if bad.any():
            task = tasks[int(np.argwhere(bad)[0][0])]
            raise ValueError(f"{side} task {task!r} has a score outside [0, 1] or not a number")
    return tasks, par, cand


def _names(tasks: list[str]) -> str:
    if not tasks:
        return "none"
    shown = ", ".join(repr(t) for t in tasks[:5])
    return shown + (f" and {len(tasks) - 5} more" if len(tasks) > 5 else "")


def _is_simpler(parent_lines: int | None, candidate_lines: int | None) -> bool:
    return (
        parent_lines is not None and candidate_lines is not None and candidate_lines < parent_lines
    )


def _points(value: float) -> str:
    return f"{100.0 * value:+.1f}"


def _reason(decision: GateDecision, parent_lines: int | None, candidate_lines: int | None) -> str:
    """One plain sentence a human reads in the ledger and the progress output."""
    if decision.wins == decision.losses == 0:
        if decision.simpler:
            return (
                f"Kept: equal scores on every task and simpler code "
                f"({candidate_lines} vs {parent_lines} bytes of compressed code)."
            )
        return "Discarded: equal scores on every task and not simpler code."
    ci = f"95 % CI {_points(decision.ci_low)} to {_points(decision.ci_high)}"
    shift = f"held-out {_points(decision.delta)} points ({ci})"
    verdict = "Kept" if decision.keep else "Discarded"
    if decision.p_value is None:
        return f"{verdict} by the naive mean rule: {shift}."
    test = f"{decision.method} one-sided p = {_format_p(decision.p_value)}"
    if decision.keep:
        return f"Kept: {shift}, {test} <= alpha {decision.alpha:g}."
    if decision.delta <= _EQUAL:
        return f"Discarded: not better, {shift}."
    return f"Discarded: {shift} is within noise, {test} > alpha {decision.alpha:g}."


def _format_p(p: float) -> str:
    return f"{p:.2g}" if p < 0.001 else f"{p:.3f}"

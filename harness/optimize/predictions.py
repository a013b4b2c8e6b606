"""Checking a proposal's predictions against the train tasks that really flipped.

A task is *fixed* when the candidate's trial-mean score on it is above the parent's, *broken*
when below. The verdict (after AHE): `effective` (every predicted fix happened, nothing
broke), `partial` (some predicted fixes happened), `ineffective` (none happened, nothing
broke), `harmful` (more broke than got fixed), `mixed` (otherwise), `none` (no prediction).
Regressions nobody listed as a risk are named separately: they are the expensive surprises.
"""

from __future__ import annotations

from typing import Any

PerTask = dict[str, list[float]]


def _mean(scores: list[float]) -> float:
    return sum(scores) / len(scores) if scores else 0.0


def flips(parent: PerTask, candidate: PerTask) -> tuple[list[str], list[str]]:
    """(fixed, broken) train task ids, sorted."""
    common = sorted(set(parent) & set(candidate))
    fixed = [t for t in common if _mean(candidate[t]) > _mean(parent[t])]
    broken = [t for t in common if _mean(candidate[t]) < _mean(parent[t])]
    return fixed, broken


def check_predictions(predicted_fixes: list[str], risk_tasks: list[str], parent: PerTask,
                      candidate: PerTask) -> dict[str, Any]:
    fixed, broken = flips(parent, candidate)
    known = set(parent) & set(candidate)
    predicted = [t for t in dict.fromkeys(predicted_fixes) if t in known]
    hits = [t for t in predicted if t in fixed]
    unforeseen = [t for t in broken if t not in set(risk_tasks)]
    return {
        "verdict": _verdict(predicted, hits, fixed, broken),
        "predicted": len(predicted), "predicted_fixed": hits,
        "ignored_predictions": len(set(predicted_fixes) - known),  # not train tasks evaluated
        "fixed": fixed, "broken": broken, "unpredicted_regressions": unforeseen,
        "risks_realised": [t for t in broken if t in set(risk_tasks)],
    }


def _verdict(predicted: list[str], hits: list[str], fixed: list[str], broken: list[str]) -> str:
    if not predicted:
        return "none"
    if len(broken) > len(fixed):
        return "harmful"
    if len(hits) == len(predicted) and not broken:
        return "effective"
    if hits:
        return "partial" if not broken else "mixed"
    return "ineffective" if not broken else "mixed"

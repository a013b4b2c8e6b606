"""Pareto (GEPA / DGM): branch from a candidate on the per-task train frontier.

A candidate is on the frontier when it has the best train score of the pool on at least one
task. Among those, a parent is drawn with weight (tasks it is best on) / (1 + children it
already has), so specialists stay alive and well-explored parents give way to others.
"""

from __future__ import annotations

import random

from harness.optimize.strategies import Candidate


def task_wins(pool: list[Candidate]) -> dict[str, int]:
    """Tag -> number of tasks on which that candidate has the pool's best score (ties count
    for every candidate tied at the top, when the top is above 0)."""
    wins = {c.tag: 0 for c in pool}
    tasks = sorted({task for c in pool for task in c.train})
    for task in tasks:
        best = max(c.train.get(task, 0.0) for c in pool)
        if best <= 0:
            continue
        for c in pool:
            if c.train.get(task, 0.0) == best:
                wins[c.tag] += 1
    return wins


class Pareto:
    def choose(self, pool: list[Candidate], rng: random.Random) -> Candidate:
        wins = task_wins(pool)
        frontier = [c for c in pool if wins[c.tag] > 0]
        if not frontier:
            return max(pool, key=lambda c: c.experiment)
        weights = [wins[c.tag] / (1 + c.children) for c in frontier]
        return rng.choices(frontier, weights=weights, k=1)[0]

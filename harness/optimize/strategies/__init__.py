"""Which candidate the next experiment branches from.

A strategy sees the pool of candidates that may be parents (the baseline and every kept
candidate) with their train scores per task and how many children each already has, and
returns one of them. Each strategy is one small class in its own module.
"""

from __future__ import annotations

import random
from typing import Protocol

from pydantic import BaseModel, Field

from harness.errors import ConfigError


class Candidate(BaseModel):
    tag: str
    experiment: int
    held_out: float | None = None
    train: dict[str, float] = Field(default_factory=dict)  # task id -> trial-mean score
    children: int = 0


class Strategy(Protocol):
    """`choose(pool, rng) -> Candidate`. The pool is never empty (the baseline is always in
    it); the result must be a member of the pool. Deterministic given the rng."""

    def choose(self, pool: list[Candidate], rng: random.Random) -> Candidate: ...


def make_strategy(name: str) -> Strategy:
    from harness.optimize.strategies.greedy import Greedy
    from harness.optimize.strategies.pareto import Pareto

    known: dict[str, type[Greedy] | type[Pareto]] = {"greedy": Greedy, "pareto": Pareto}
    if name not in known:
        raise ConfigError("--strategy", f"unknown strategy {name!r}; use greedy or pareto")
    return known[name]()

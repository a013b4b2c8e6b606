"""Greedy (autoresearch): always branch from the best candidate so far."""

from __future__ import annotations

import random

from harness.optimize.strategies import Candidate


class Greedy:
    def choose(self, pool: list[Candidate], rng: random.Random) -> Candidate:
        # Best held-out score; among equals the latest, since a keep at equal score means
        # the simpler candidate won.
        return max(pool, key=lambda c: (c.held_out or 0.0, c.experiment))

"""How big a gain can the gate see? Seeded simulation of the pass/fail gate.

`smallest_detectable_gain` answers, before the first experiment, "with these held-out tasks,
this many trials and this alpha, which uniform gain (in points, added to every task's
baseline pass rate and capped at 1) does the gate keep with probability `power`?". It runs
the same rule as `harness.optimize.gate.decide` on pass/fail scores (McNemar for one trial,
CMH for several), vectorised over thousands of simulated experiments at once; a test checks
that the two agree run by run.

Common random numbers: every candidate gain is evaluated on the same uniform draws, so the
estimated keep rate grows smoothly with the gain and bisection on it is stable.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from harness.stats.paired import cmh_p, cmh_z, sign_test_p

DEFAULT_RUNS = 2_000
_BISECTION_STEPS = 12  # 1 / 2**12 of a point-range: well below the simulation's own error


def binary_gate_keeps(
    candidate_passes: ArrayLike, parent_passes: ArrayLike, trials: int, alpha: float
) -> NDArray[np.bool_]:
    """The gate's keep rule on pass counts (last axis: tasks; leading axes: runs)."""
    cand = np.asarray(candidate_passes)
    par = np.asarray(parent_passes)
    better = (cand - par).sum(axis=-1) > 0  # positive delta: equal trials on every task
    if trials == 1:
        wins = (cand > par).sum(axis=-1)
        losses = (cand < par).sum(axis=-1)
        p = sign_test_p(wins, losses)
    else:
        p = cmh_p(cmh_z(cand, par, trials))
    return np.asarray(better & (p <= alpha))


def keep_rate(
    parent_rates: ArrayLike,
    candidate_rates: ArrayLike,
    trials: int,
    *,
    alpha: float = 0.10,
    runs: int = DEFAULT_RUNS,
    seed: int = 0,
) -> float:
    """Share of `runs` simulated experiments the gate keeps, each task's trials drawn as
    Bernoulli(rate) for parent and candidate independently."""
    parent = _check_inputs(parent_rates, trials, alpha, 0.5)
    candidate = _check_inputs(candidate_rates, trials, alpha, 0.5)
    if parent.shape != candidate.shape:
        raise ValueError("parent and candidate need one pass rate per task each")
    return _Draws(parent, trials, runs, seed).keep_rate(candidate, alpha)


def smallest_detectable_gain(
    pass_rates: ArrayLike,
    trials: int,
    *,
    alpha: float = 0.10,
    power: float = 0.80,
    seed: int = 0,
    runs: int = DEFAULT_RUNS,
) -> float:
    """Smallest uniform gain in [0, 1] that the gate keeps with probability >= `power`.

    1.0 means "not even a jump to 100 % on every task would be kept reliably" (too few
    tasks, or the baseline already solves nearly everything)."""
    rates = _check_inputs(pass_rates, trials, alpha, power)
    draws = _Draws(rates, trials, runs, seed)

    def enough(gain: float) -> bool:
        return draws.keep_rate(np.minimum(rates + gain, 1.0), alpha) >= power

    if not enough(1.0):
        return 1.0
    low, high = 0.0, 1.0
    for _ in range(_BISECTION_STEPS):
        middle = (low + high) / 2.0
        low, high = (low, middle) if enough(middle) else (middle, high)
    return high


def expected_score_gain(pass_rates: ArrayLike, gain: float) -> float:
    """What a uniform per-task `gain` (capped at 1 per task) adds to the mean score: less
    than `gain` when some tasks are already always solved."""
    rates = np.asarray(pass_rates, dtype=np.float64)
    return float(np.mean(np.minimum(rates + gain, 1.0) - rates))


class _Draws:
    """Uniforms shared by every candidate rate tried, and the parent's fixed pass counts."""

    def __init__(self, parent_rates: NDArray[np.float64], trials: int, runs: int, seed: int):
        if runs < 1:
            raise ValueError(f"runs must be >= 1, got {runs}")
        rng = np.random.default_rng(seed)
        shape = (runs, parent_rates.size, trials)
        self.trials = trials
        self.parent_passes = (rng.random(shape) < parent_rates[None, :, None]).sum(axis=-1)
        self.candidate_uniforms = rng.random(shape)

    def keep_rate(self, candidate_rates: NDArray[np.float64], alpha: float) -> float:
        passes = (self.candidate_uniforms < candidate_rates[None, :, None]).sum(axis=-1)
        return float(binary_gate_keeps(passes, self.parent_passes, self.trials, alpha).mean())


def _check_inputs(
    pass_rates: ArrayLike, trials: int, alpha: float, power: float
) -> NDArray[np.float64]:
    rates = np.asarray(pass_rates, dtype=np.float64)
    if rates.ndim != 1 or rates.size == 0:
        raise ValueError("the power simulation needs one pass rate per task, at least one task")
    if not np.all(np.isfinite(rates) & (rates >= 0.0) & (rates <= 1.0)):
        raise ValueError("pass rates must lie in [0, 1]")
    if trials < 1:
        raise ValueError(f"trials must be >= 1, got {trials}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    if not 0.0 < power < 1.0:
        raise ValueError(f"power must lie in (0, 1), got {power}")
    return rates

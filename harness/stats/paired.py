"""Paired tests of "the candidate is better than its parent" on the same tasks.

Every test here is one-sided (H1: candidate better) and works on per-task numbers, so the
task-to-task spread (some tasks always solved, some never) never counts as noise:
- `sign_test`: exact McNemar, one trial per task, pass/fail;
- `cmh_test`: Cochran–Mantel–Haenszel over the trials, one 2×2 table per task (stratum);
- `paired_bootstrap`: graded scores, resampling tasks; `cluster_bootstrap` resamples whole
  clusters of tasks (items generated from one template are not independent: a task-level
  bootstrap on clustered items rejects a true null far too often).

The CMH pieces are vectorised over leading axes so that the power simulation
(`harness.stats.power`) runs thousands of gates in one numpy call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

DEFAULT_RESAMPLES = 10_000
_CHUNK_CELLS = 2_000_000  # resample this many task draws at a time: bounded memory


@dataclass(frozen=True)
class TestResult:
    """A one-sided test: `statistic` (None when the data carry no information) and p."""

    statistic: float | None
    p_value: float


@dataclass(frozen=True)
class BootstrapResult:
    """Observed mean difference, its (expanded) percentile CI and one-sided bootstrap p."""

    delta: float
    ci_low: float
    ci_high: float
    p_value: float  # H1: delta > 0; from the share of resampled deltas <= 0, see `_bootstrap_p`
    std_error: float  # standard deviation of the resampled deltas


def sign_test(wins: int, losses: int) -> TestResult:
    """Exact McNemar test: P(at least `wins` of the discordant tasks go the candidate's way
    when each is a fair coin). No discordant task: p = 1, nothing to test."""
    if wins < 0 or losses < 0:
        raise ValueError(f"wins and losses must be >= 0, got {wins} and {losses}")
    discordant = wins + losses
    if discordant == 0:
        return TestResult(statistic=None, p_value=1.0)
    result = stats.binomtest(wins, discordant, 0.5, alternative="greater")
    return TestResult(statistic=float(wins), p_value=float(result.pvalue))


def sign_test_p(wins: ArrayLike, losses: ArrayLike) -> NDArray[np.float64]:
    """Vectorised `sign_test` p-values (1 where there is no discordant task)."""
    wins_a = np.asarray(wins, dtype=np.int64)
    discordant = wins_a + np.asarray(losses, dtype=np.int64)
    # sf(k - 1) = P(X >= k); with n = 0 and k = 0 this is P(X >= 0) = 1.
    return np.asarray(stats.binom.sf(wins_a - 1, discordant, 0.5), dtype=np.float64)


def cmh_components(
    candidate_passes: ArrayLike,
    parent_passes: ArrayLike,
    trials: ArrayLike,
    parent_trials: ArrayLike | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Sum over the last axis (tasks) of observed-minus-expected candidate passes, and of
    their hypergeometric variances.

    Per task the table is rows candidate/parent (`trials` and `parent_trials` long, the same
    when `parent_trials` is None), columns pass/fail. Given its margins the candidate's pass
    count is hypergeometric with mean n1·m/N and variance n1·n2·m·(N−m) / (N²·(N−1)),
    where m counts the passes of both rows and N = n1 + n2. A task where both sides all pass
    or all fail (m = 0 or m = N) adds 0 to both sums: it says nothing about the difference.
    """
    cand = np.asarray(candidate_passes, dtype=np.float64)
    par = np.asarray(parent_passes, dtype=np.float64)
    n1 = np.broadcast_to(np.asarray(trials, dtype=np.float64), cand.shape)
    n2 = (
        n1
        if parent_trials is None
        else np.broadcast_to(np.asarray(parent_trials, dtype=np.float64), par.shape)
    )
    if np.any(n1 < 1) or np.any(n2 < 1):
        raise ValueError("every task needs at least one trial on each side")
    if np.any((cand < 0) | (cand > n1) | (par < 0) | (par > n2)):
        raise ValueError("pass counts must lie between 0 and the number of trials")
    total = n1 + n2  # >= 2, so total - 1 >= 1
    passes = cand + par
    excess = cand - n1 * passes / total
    variance = n1 * n2 * passes * (total - passes) / (total**2 * (total - 1.0))
    return excess.sum(axis=-1), variance.sum(axis=-1)


def cmh_z(
    candidate_passes: ArrayLike,
    parent_passes: ArrayLike,
    trials: ArrayLike,
    parent_trials: ArrayLike | None = None,
) -> NDArray[np.float64]:
    """Signed CMH statistic over the last axis (NaN where no task varies): positive when the
    candidate passes more often than the margins predict. Its square is the usual
    CMH chi-square without continuity correction."""
    excess, variance = cmh_components(candidate_passes, parent_passes, trials, parent_trials)
    safe = np.where(variance > 0, variance, 1.0)
    return np.asarray(np.where(variance > 0, excess / np.sqrt(safe), np.nan), dtype=np.float64)


def cmh_p(z: ArrayLike) -> NDArray[np.float64]:
    """One-sided p-values of signed CMH statistics (1 where the statistic is undefined)."""
    z_a = np.asarray(z, dtype=np.float64)
    return np.asarray(np.where(np.isnan(z_a), 1.0, stats.norm.sf(np.nan_to_num(z_a))))


def cmh_test(
    candidate_passes: ArrayLike,
    parent_passes: ArrayLike,
    trials: ArrayLike,
    parent_trials: ArrayLike | None = None,
) -> TestResult:
    """One-sided CMH test over tasks (1-D arrays of per-task pass counts; `trials` a number
    or one count per task, `parent_trials` likewise when the parent ran a different number)."""
    cand = np.asarray(candidate_passes)
    if cand.ndim != 1 or cand.shape != np.shape(parent_passes) or cand.size == 0:
        raise ValueError("cmh_test needs two equally long, non-empty 1-D arrays of pass counts")
    z = float(cmh_z(cand, parent_passes, trials, parent_trials))
    if np.isnan(z):
        return TestResult(statistic=None, p_value=1.0)
    return TestResult(statistic=z, p_value=float(cmh_p(z)))


def paired_bootstrap(
    differences: ArrayLike,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    confidence: float = 0.95,
) -> BootstrapResult:
    """Bootstrap over tasks of per-task differences (candidate − parent trial means)."""
    diffs = np.asarray(differences, dtype=np.float64)
    if diffs.ndim != 1 or diffs.size == 0:
        raise ValueError("paired_bootstrap needs a non-empty 1-D array of differences")
    return _bootstrap(diffs, np.ones_like(diffs), resamples, seed, confidence)


def cluster_bootstrap(
    differences: Mapping[str, float],
    clusters: Mapping[str, str],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    confidence: float = 0.95,
) -> BootstrapResult:
    """Bootstrap that resamples whole clusters (task_id -> cluster) with replacement; a
    resample's delta is the mean over all the tasks of the drawn clusters."""
    if not differences:
        raise ValueError("cluster_bootstrap needs at least one task")
    missing = sorted(set(differences) - set(clusters))
    if missing:
        raise ValueError(f"no cluster given for task(s): {', '.join(missing[:5])}")
    names = sorted({clusters[task] for task in differences})
    index = {name: i for i, name in enumerate(names)}
    sums = np.zeros(len(names))
    counts = np.zeros(len(names))
    for task, diff in differences.items():
        sums[index[clusters[task]]] += float(diff)
        counts[index[clusters[task]]] += 1.0
    return _bootstrap(sums, counts, resamples, seed, confidence)


def _bootstrap(
    sums: NDArray[np.float64],
    counts: NDArray[np.float64],
    resamples: int,
    seed: int,
    confidence: float,
) -> BootstrapResult:
    """Resample units (a task, or a cluster carrying `counts` tasks whose differences add to
    `sums`); each resample's delta is total difference / total tasks drawn."""
    if resamples < 1:
        raise ValueError(f"resamples must be >= 1, got {resamples}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    if not np.all(np.isfinite(sums)):
        raise ValueError("differences must be finite numbers")
    deltas = _resampled_deltas(sums, counts, resamples, np.random.default_rng(seed))
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(deltas, _expanded_levels(sums.size, np.array([tail, 1.0 - tail])))
    return BootstrapResult(
        delta=float(sums.sum() / counts.sum()),
        ci_low=float(low),
        ci_high=float(high),
        p_value=_bootstrap_p(deltas, sums),
        std_error=float(deltas.std()),
    )


def _expanded_levels(units: int, levels: NDArray[np.float64]) -> NDArray[np.float64]:
    """Hesterberg's expanded percentile levels: a plain percentile interval is too narrow
    with few units (it uses the normal, not Student's t, and a variance shrunk by
    (n−1)/n); measured false keeps at alpha 0.10 were 0.12 with 10 tasks. Moving each level
    to Φ(sqrt(n/(n−1)) · t_{n−1}(level)) fixes both and fades away for large n."""
    if units < 2:
        return levels
    widened = np.sqrt(units / (units - 1.0)) * stats.t.ppf(levels, units - 1)
    return np.asarray(stats.norm.cdf(widened), dtype=np.float64)


def _bootstrap_p(deltas: NDArray[np.float64], sums: NDArray[np.float64]) -> float:
    """One-sided p from the share of resampled deltas <= 0 (up to rounding): the level at
    which the expanded lower percentile bound reaches 0, i.e. the inverse of
    `_expanded_levels`. Floored at 2**-m, m the units with a non-zero difference: no paired
    test on m units can be surer than that, while the share is 0 as soon as every unit
    improved (3 tasks out of 3 would "prove" a gain)."""
    share = float(np.mean(deltas <= 1e-12))
    units = sums.size
    if units >= 2 and 0.0 < share < 1.0:
        shrunk = np.sqrt((units - 1.0) / units) * stats.norm.ppf(share)
        share = float(stats.t.cdf(shrunk, units - 1))
    informative = int(np.count_nonzero(np.abs(sums) > 1e-12))
    return max(share, 0.5**informative)


def _resampled_deltas(
    sums: NDArray[np.float64], counts: NDArray[np.float64], resamples: int, rng: np.random.Generator
) -> NDArray[np.float64]:
    units = sums.size
    rows_per_chunk = max(1, _CHUNK_CELLS // units)
    out = np.empty(resamples)
    for start in range(0, resamples, rows_per_chunk):
        rows = min(rows_per_chunk, resamples - start)
        draw = rng.integers(0, units, size=(rows, units))
        out[start : start + rows] = sums[draw].sum(axis=1) / counts[draw].sum(axis=1)
    return out

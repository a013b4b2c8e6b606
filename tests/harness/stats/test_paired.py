"""The paired tests against hand-computed values and an independent CMH implementation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from harness.stats.paired import (
    cluster_bootstrap,
    cmh_test,
    cmh_z,
    paired_bootstrap,
    sign_test,
    sign_test_p,
)

# --- exact McNemar (sign test) ---------------------------------------------------------


def test_sign_test_eight_wins_two_losses_is_56_over_1024() -> None:
    # P(X >= 8), X ~ Bin(10, 1/2) = (C(10,8) + C(10,9) + C(10,10)) / 2**10 = 56 / 1024.
    result = sign_test(8, 2)
    assert result.p_value == pytest.approx(56 / 1024, abs=1e-12)
    assert result.p_value == pytest.approx(0.0547, abs=1e-4)
    assert result.statistic == 8.0


def test_sign_test_is_one_sided() -> None:
    assert sign_test(3, 0).p_value == pytest.approx(1 / 8)
    assert sign_test(0, 3).p_value == pytest.approx(1.0)  # all discordant tasks went against
    assert sign_test(2, 8).p_value > 0.95


def test_sign_test_without_discordant_tasks_has_nothing_to_say() -> None:
    result = sign_test(0, 0)
    assert result.p_value == 1.0
    assert result.statistic is None


def test_vectorised_sign_test_matches_the_scalar_one() -> None:
    wins, losses = np.meshgrid(np.arange(12), np.arange(12))
    expected = [
        [sign_test(int(w), int(lo)).p_value for w, lo in zip(rw, rl, strict=True)]
        for rw, rl in zip(wins, losses, strict=True)
    ]
    np.testing.assert_allclose(sign_test_p(wins, losses), expected, rtol=1e-12)


def test_sign_test_rejects_negative_counts() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        sign_test(-1, 2)


# --- Cochran–Mantel–Haenszel ----------------------------------------------------------


def test_cmh_on_hand_worked_tables() -> None:
    # Four tasks, 2 trials per side. Per task: m = passes of both rows, N = 4,
    # E = m / 2, V = 2·2·m·(4−m) / (16·3).
    #   A: candidate 2/2, parent 0/2: m=2, excess +1,   V = 1/3
    #   B: candidate 1/2, parent 1/2: m=2, excess 0,    V = 1/3
    #   C: candidate 2/2, parent 2/2: m=4, no variation: nothing
    #   D: candidate 1/2, parent 0/2: m=1, excess +1/2, V = 1/4
    # Z = 1.5 / sqrt(11/12) = 1.5667; one-sided p = 1 − Φ(Z) = 0.0586.
    result = cmh_test([2, 1, 2, 1], [0, 1, 2, 0], 2)
    assert result.statistic == pytest.approx(1.5 / math.sqrt(11 / 12), rel=1e-12)
    assert result.statistic == pytest.approx(1.5667, abs=1e-4)
    assert result.p_value == pytest.approx(0.0586, abs=1e-4)


def test_cmh_matches_an_independent_implementation_with_unequal_rows() -> None:
    # The worked example of the PyPI package `CMH` (a port of R's mantelhaen.test, without
    # continuity correction): stratum 1 is 6/6 vs 6/6 (no variation), stratum 2 is 5/5 vs
    # 4/8; it prints M^2 = 3.33333, two-sided p = 0.0679.
    result = cmh_test([6, 5], [6, 4], [6, 5], [6, 8])
    assert result.statistic is not None
    assert result.statistic**2 == pytest.approx(10 / 3, rel=1e-12)
    assert 2 * result.p_value == pytest.approx(0.0679, abs=1e-4)


def test_cmh_is_signed_and_antisymmetric() -> None:
    cand, par = [2, 1, 3, 0, 2], [1, 1, 0, 1, 3]
    forward = cmh_test(cand, par, 3)
    backward = cmh_test(par, cand, 3)
    assert forward.statistic is not None and backward.statistic is not None
    assert forward.statistic == pytest.approx(-backward.statistic)
    assert forward.p_value + backward.p_value == pytest.approx(1.0)


def test_cmh_tasks_without_variation_contribute_nothing() -> None:
    base = cmh_test([2, 1], [0, 1], 2)
    padded = cmh_test([2, 1, 2, 0, 2, 0], [0, 1, 2, 0, 2, 0], 2)
    assert padded.statistic == pytest.approx(base.statistic)
    nothing = cmh_test([2, 0, 2], [2, 0, 2], 2)
    assert nothing.statistic is None
    assert nothing.p_value == 1.0


def test_cmh_is_vectorised_over_runs() -> None:
    rng = np.random.default_rng(5)
    cand = rng.integers(0, 4, size=(50, 7))
    par = rng.integers(0, 4, size=(50, 7))
    batch = cmh_z(cand, par, 3)
    for run in range(50):
        single = cmh_test(cand[run], par[run], 3).statistic
        assert (single is None and np.isnan(batch[run])) or batch[run] == pytest.approx(single)


def test_cmh_with_one_trial_is_the_normal_approximation_of_mcnemar() -> None:
    # With one trial per side the CMH statistic reduces to (b − c) / sqrt(b + c).
    cand = [1] * 8 + [0] * 2 + [1] * 5
    par = [0] * 8 + [1] * 2 + [1] * 5
    result = cmh_test(cand, par, 1)
    assert result.statistic == pytest.approx((8 - 2) / math.sqrt(10))


@pytest.mark.parametrize(
    ("cand", "par", "trials", "match"),
    [
        ([3], [1], 2, "between 0 and"),
        ([1], [-1], 2, "between 0 and"),
        ([0], [0], 0, "one trial"),
        ([1, 2], [1], 2, "equally long"),
        ([], [], 2, "non-empty"),
    ],
)
def test_cmh_rejects_bad_counts(cand: list[int], par: list[int], trials: int, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        cmh_test(cand, par, trials)


# --- bootstrap ------------------------------------------------------------------------


def test_bootstrap_ci_covers_a_known_difference() -> None:
    diffs = np.random.default_rng(3).normal(0.10, 0.15, size=80)
    result = paired_bootstrap(diffs, seed=1)
    assert result.ci_low < 0.10 < result.ci_high
    assert result.delta == pytest.approx(diffs.mean())
    # The interval's width matches the textbook 2 · 1.96 · s / sqrt(n) within 10 %.
    textbook = 2 * 1.96 * diffs.std(ddof=1) / math.sqrt(diffs.size)
    assert result.ci_high - result.ci_low == pytest.approx(textbook, rel=0.10)
    assert result.p_value < 0.01


def test_bootstrap_ci_coverage_is_close_to_95_percent() -> None:
    rng = np.random.default_rng(8)
    covered = 0
    for _ in range(300):
        diffs = rng.normal(0.05, 0.2, size=40)
        result = paired_bootstrap(diffs, resamples=1_000, seed=int(rng.integers(1 << 30)))
        covered += result.ci_low <= 0.05 <= result.ci_high
    # 300 intervals: binomial SE of a 95 % coverage is 1.3 points; the percentile interval
    # runs a little narrow at n = 40, so ask for >= 89 %.
    assert covered / 300 >= 0.89


def test_bootstrap_of_no_difference_gives_p_one_and_a_zero_ci() -> None:
    result = paired_bootstrap(np.zeros(30))
    assert result.p_value == 1.0
    assert result.ci_low == result.ci_high == result.delta == 0.0


def test_bootstrap_p_is_floored_when_every_task_improved() -> None:
    # Three improved tasks: every resample is positive, but three coin flips all landing
    # heads happen one time in eight; the p-value must not claim more.
    assert paired_bootstrap([0.1, 0.2, 0.05]).p_value == pytest.approx(1 / 8)
    assert paired_bootstrap([0.1, 0.0, 0.0]).p_value == pytest.approx(1 / 2)


def test_bootstrap_is_seeded() -> None:
    diffs = np.random.default_rng(0).normal(0.0, 0.3, size=25)
    assert paired_bootstrap(diffs, seed=4) == paired_bootstrap(diffs, seed=4)
    assert paired_bootstrap(diffs, seed=4) != paired_bootstrap(diffs, seed=5)


def test_bootstrap_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        paired_bootstrap([])
    with pytest.raises(ValueError, match="finite"):
        paired_bootstrap([0.1, float("nan")])
    with pytest.raises(ValueError, match="resamples"):
        paired_bootstrap([0.1], resamples=0)


def test_cluster_bootstrap_with_singleton_clusters_is_the_paired_bootstrap() -> None:
    diffs = {
        f"t{i:02d}": float(d)
        for i, d in enumerate(np.random.default_rng(2).normal(0.05, 0.2, size=30))
    }
    clustered = cluster_bootstrap(diffs, {task: task for task in diffs}, seed=9)
    plain = paired_bootstrap([diffs[task] for task in sorted(diffs)], seed=9)
    assert clustered.delta == pytest.approx(plain.delta)
    assert clustered.ci_low == pytest.approx(plain.ci_low)
    assert clustered.ci_high == pytest.approx(plain.ci_high)
    assert clustered.p_value == plain.p_value


def _clustered_null(rng: np.random.Generator) -> tuple[dict[str, float], dict[str, str]]:
    """20 templates of 10 items each: items of a template share most of their difference."""
    diffs: dict[str, float] = {}
    clusters: dict[str, str] = {}
    for cluster in range(20):
        shared = rng.normal(0.0, 0.2)
        for item in range(10):
            task = f"c{cluster}-i{item}"
            diffs[task] = shared + rng.normal(0.0, 0.05)
            clusters[task] = f"c{cluster}"
    return diffs, clusters


def test_cluster_bootstrap_holds_alpha_where_the_task_bootstrap_does_not() -> None:
    rng = np.random.default_rng(21)
    naive_rejections = cluster_rejections = 0
    runs = 200
    for run in range(runs):
        diffs, clusters = _clustered_null(rng)
        naive = paired_bootstrap(list(diffs.values()), resamples=500, seed=run)
        cluster = cluster_bootstrap(diffs, clusters, resamples=500, seed=run)
        naive_rejections += naive.p_value <= 0.05
        cluster_rejections += cluster.p_value <= 0.05
    # Measured with this seed: naive 0.285, cluster 0.06 (one-sided, alpha 0.05, 20 clusters).
    # SE of a rate near 0.06 over 200 runs is 0.017.
    assert cluster_rejections / runs <= 0.05 + 3 * 0.017
    assert naive_rejections / runs >= 0.20


def test_cluster_bootstrap_needs_a_cluster_for_every_task() -> None:
    with pytest.raises(ValueError, match="no cluster given for task"):
        cluster_bootstrap({"a": 0.1, "b": 0.2}, {"a": "x"})
    with pytest.raises(ValueError, match="at least one task"):
        cluster_bootstrap({}, {})


def test_scipy_binomtest_agrees_with_the_hand_formula() -> None:
    # Guards the scipy API we rely on (alternative="greater" is P(X >= k)).
    k, n = 7, 9
    by_hand = sum(math.comb(n, i) for i in range(k, n + 1)) / 2**n
    assert stats.binomtest(k, n, 0.5, alternative="greater").pvalue == pytest.approx(by_hand)


def test_bootstrap_holds_alpha_with_only_eight_tasks() -> None:
    # A plain percentile bootstrap keeps noise 13 % of the time at alpha 0.10 with 8 tasks
    # (normal instead of t, variance shrunk by 7/8); the expanded levels: 9.3 % (measured).
    rng = np.random.default_rng(8)
    quality = rng.uniform(0.2, 0.8, size=8)
    runs = 3_000
    rejections = 0
    for run in range(runs):
        parent = rng.binomial(4, np.broadcast_to(quality, (2, 8))).mean(axis=0) / 4
        candidate = rng.binomial(4, np.broadcast_to(quality, (2, 8))).mean(axis=0) / 4
        diffs = candidate - parent
        result = paired_bootstrap(diffs, resamples=500, seed=run)
        rejections += diffs.mean() > 0 and result.p_value <= 0.10
    # SE of a rate near 0.10 over 3,000 runs: 0.0055.
    assert rejections / runs <= 0.10 + 3 * 0.0055

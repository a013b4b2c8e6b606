"""Smallest detectable gain: monotone in tasks and trials, honest about hopeless cases, and
consistent with an independent keep-rate simulation."""

from __future__ import annotations

import numpy as np
import pytest

from harness.stats.power import (
    binary_gate_keeps,
    expected_score_gain,
    keep_rate,
    smallest_detectable_gain,
)


def realistic_profile(tasks: int) -> np.ndarray:
    """5/12 always solved, 1/3 flaky (15–85 %), the rest never solved."""
    always = tasks * 5 // 12
    flaky = tasks // 3
    never = tasks - always - flaky
    return np.concatenate([np.ones(always), np.linspace(0.15, 0.85, flaky), np.zeros(never)])


def test_gain_shrinks_with_more_trials_and_more_tasks() -> None:
    gains = {
        (tasks, trials): smallest_detectable_gain(realistic_profile(tasks), trials)
        for tasks in (30, 60)
        for trials in (1, 2, 3)
    }
    for tasks in (30, 60):
        assert gains[tasks, 1] > gains[tasks, 2] > gains[tasks, 3]
    for trials in (1, 2, 3):
        assert gains[30, trials] > gains[60, trials]
    # Measured: 60 tasks x 2 trials needs about 13 points per task, 30 x 3 about 15.
    assert 0.10 <= gains[60, 2] <= 0.16
    assert 0.12 <= gains[30, 3] <= 0.18


def test_the_returned_gain_reaches_the_power_on_fresh_draws() -> None:
    rates = realistic_profile(60)
    gain = smallest_detectable_gain(rates, 2, seed=1)
    boosted = np.minimum(rates + gain, 1.0)
    # An independent seed and more runs: the keep rate at the answer is 80 % up to the
    # simulation error (SE of 2,000 runs near 0.8 is 0.009) ...
    assert keep_rate(rates, boosted, 2, runs=8_000, seed=99) == pytest.approx(0.80, abs=0.03)
    # ... and three points less is clearly not enough.
    weaker = np.minimum(rates + gain - 0.03, 1.0)
    assert keep_rate(rates, weaker, 2, runs=8_000, seed=99) < 0.75


def test_alpha_and_power_move_the_gain_the_right_way() -> None:
    rates = realistic_profile(60)
    base = smallest_detectable_gain(rates, 2)
    assert smallest_detectable_gain(rates, 2, alpha=0.05) > base
    assert smallest_detectable_gain(rates, 2, power=0.5) < base


def test_a_saturated_or_tiny_baseline_cannot_detect_anything() -> None:
    assert smallest_detectable_gain([1.0] * 40, 3) == 1.0  # nothing left to gain
    # One task, one trial: the best possible McNemar p is 0.5.
    assert smallest_detectable_gain([0.0], 1) == 1.0


def test_the_answer_is_seeded_and_in_range() -> None:
    rates = realistic_profile(30)
    first = smallest_detectable_gain(rates, 2, seed=3)
    assert first == smallest_detectable_gain(rates, 2, seed=3)
    assert 0.0 < first < 1.0
    # Another seed moves it by simulation error only.
    assert smallest_detectable_gain(rates, 2, seed=4) == pytest.approx(first, abs=0.01)


def test_expected_score_gain_counts_the_cap() -> None:
    rates = [1.0, 0.95, 0.5, 0.0]
    # +10 points: 0, +5, +10, +10 -> mean 6.25 points.
    assert expected_score_gain(rates, 0.10) == pytest.approx(0.0625)


def test_binary_gate_rule_uses_mcnemar_for_one_trial_and_cmh_for_more() -> None:
    # 8 wins, 2 losses with one trial: p = 0.0547 -> kept at 0.10, not at 0.05.
    cand = np.array([1] * 8 + [0] * 2)
    par = np.array([0] * 8 + [1] * 2)
    assert binary_gate_keeps(cand, par, 1, 0.10)
    assert not binary_gate_keeps(cand, par, 1, 0.05)
    # The same counts read as 2 trials go through CMH; no positive delta is never kept.
    assert not binary_gate_keeps(par, cand, 2, 0.10)


def test_null_keep_rate_is_near_alpha() -> None:
    rates = realistic_profile(60)
    rate = keep_rate(rates, rates, 3, alpha=0.10, runs=10_000, seed=2)
    assert rate == pytest.approx(0.10, abs=0.01)  # SE of 10,000 runs near 0.1: 0.003


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"pass_rates": []}, "one pass rate per task"),
        ({"pass_rates": [0.5, 1.2]}, r"\[0, 1\]"),
        ({"pass_rates": [0.5, float("nan")]}, r"\[0, 1\]"),
        ({"pass_rates": [0.5], "trials": 0}, "trials"),
        ({"pass_rates": [0.5], "alpha": 0.0}, "alpha"),
        ({"pass_rates": [0.5], "power": 1.0}, "power"),
    ],
)
def test_bad_inputs_are_refused(kwargs: dict[str, object], match: str) -> None:
    arguments: dict[str, object] = {"trials": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        smallest_detectable_gain(**arguments)  # type: ignore[arg-type]


def test_keep_rate_needs_matching_rates() -> None:
    with pytest.raises(ValueError, match="one pass rate per task each"):
        keep_rate([0.5, 0.5], [0.5], 2)

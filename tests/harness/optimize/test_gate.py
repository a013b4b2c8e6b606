"""The keep/revert gate on hand-built held-out results."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from harness.optimize.gate import GateDecision, PerTask, decide, smallest_detectable_gain


def one_trial(
    wins: int, losses: int, both_pass: int = 0, both_fail: int = 0
) -> tuple[PerTask, PerTask]:
    """Parent and candidate with one pass/fail trial per task."""
    parent: PerTask = {}
    candidate: PerTask = {}
    rows = [(0.0, 1.0)] * wins + [(1.0, 0.0)] * losses + [(1.0, 1.0)] * both_pass
    rows += [(0.0, 0.0)] * both_fail
    for i, (par, cand) in enumerate(rows):
        parent[f"task-{i:03d}"] = [par]
        candidate[f"task-{i:03d}"] = [cand]
    return parent, candidate


# --- McNemar --------------------------------------------------------------------------


def test_eight_wins_two_losses_is_kept_at_alpha_010_not_at_005() -> None:
    parent, candidate = one_trial(wins=8, losses=2, both_pass=15, both_fail=5)
    loose = decide(parent, candidate, alpha=0.10)
    assert loose.method == "mcnemar"
    assert loose.p_value == pytest.approx(56 / 1024)
    assert (loose.wins, loose.losses, loose.ties) == (8, 2, 20)
    assert loose.delta == pytest.approx(6 / 30)
    assert loose.keep
    assert loose.reason.startswith("Kept")
    strict = decide(parent, candidate, alpha=0.05)
    assert not strict.keep
    assert "within noise" in strict.reason


def test_a_worse_candidate_is_discarded_with_a_large_p() -> None:
    parent, candidate = one_trial(wins=2, losses=8, both_pass=10)
    decision = decide(parent, candidate)
    assert not decision.keep
    assert decision.delta < 0
    assert decision.p_value is not None and decision.p_value > 0.95
    assert decision.reason.startswith("Discarded: not better")


# --- CMH ------------------------------------------------------------------------------


def test_several_pass_fail_trials_use_cmh_with_the_hand_worked_statistic() -> None:
    # Same four tables as test_paired: Z = 1.5 / sqrt(11/12), one-sided p = 0.0586.
    parent = {"A": [0.0, 0.0], "B": [1.0, 0.0], "C": [1.0, 1.0], "D": [0.0, 0.0]}
    candidate = {"A": [1.0, 1.0], "B": [0.0, 1.0], "C": [1.0, 1.0], "D": [0.0, 1.0]}
    decision = decide(parent, candidate)
    assert decision.method == "cmh"
    assert decision.trials == 2
    assert decision.statistic == pytest.approx(1.5 / math.sqrt(11 / 12))
    assert decision.p_value == pytest.approx(0.0586, abs=1e-4)
    assert decision.delta == pytest.approx((1.0 + 0.0 + 0.0 + 0.5) / 4)
    assert (decision.wins, decision.losses, decision.ties) == (2, 0, 2)
    assert decision.keep
    assert not decide(parent, candidate, alpha=0.05).keep


def test_trial_order_inside_a_task_does_not_matter() -> None:
    parent = {"A": [0.0, 1.0, 0.0], "B": [1.0, 0.0, 0.0]}
    candidate = {"A": [1.0, 1.0, 0.0], "B": [1.0, 1.0, 1.0]}
    shuffled = {"A": [0.0, 1.0, 1.0], "B": [1.0, 1.0, 1.0]}
    assert decide(parent, candidate) == decide(parent, shuffled)


# --- bootstrap ------------------------------------------------------------------------


def graded(seed: int, shift: float, tasks: int = 60) -> tuple[PerTask, PerTask]:
    rng = np.random.default_rng(seed)
    quality = rng.uniform(0.1, 0.9, size=tasks)
    parent = {
        f"t{i}": list(np.clip(q + rng.normal(0, 0.05, 2), 0, 1)) for i, q in enumerate(quality)
    }
    candidate = {
        f"t{i}": list(np.clip(q + shift + rng.normal(0, 0.05, 2), 0, 1))
        for i, q in enumerate(quality)
    }
    return parent, candidate


def test_graded_scores_use_the_bootstrap_and_its_ci_covers_the_shift() -> None:
    parent, candidate = graded(seed=4, shift=0.05)
    decision = decide(parent, candidate)
    assert decision.method == "bootstrap"
    assert decision.ci_low < 0.05 < decision.ci_high
    assert decision.ci_low > 0  # 60 tasks with small trial noise: clearly better
    assert decision.p_value is not None and decision.p_value < 0.01
    assert decision.statistic is not None and decision.statistic > 3
    assert decision.keep


def test_one_graded_score_among_pass_fail_switches_to_the_bootstrap() -> None:
    parent, candidate = one_trial(wins=8, losses=2)
    candidate["task-000"] = [0.5]
    assert decide(parent, candidate).method == "bootstrap"


# --- identical inputs, simplicity, the naive rule --------------------------------------


@pytest.mark.parametrize("trials", [1, 3])
def test_identical_results_are_not_better(trials: int) -> None:
    rng = np.random.default_rng(trials)
    scores = {f"t{i}": [float(x) for x in rng.integers(0, 2, trials)] for i in range(40)}
    decision = decide(scores, dict(scores))
    assert not decision.keep
    # McNemar: no discordant task, p = 1. CMH: the signed statistic is exactly 0, p = 0.5.
    assert decision.p_value == (1.0 if trials == 1 else 0.5)
    assert decision.delta == 0.0
    assert decision.ci_low == decision.ci_high == 0.0
    assert decision.ties == 40
    assert not decision.simpler


def test_identical_graded_results_are_not_better() -> None:
    rng = np.random.default_rng(1)
    parent = {f"t{i}": [float(x) for x in rng.uniform(0, 1, 3)] for i in range(30)}
    # The same scores in another order: float sums may differ in the last bit.
    candidate = {task: [s[2], s[0], s[1]] for task, s in parent.items()}
    decision = decide(parent, candidate)
    assert decision.method == "bootstrap"
    assert decision.p_value == 1.0
    assert decision.delta == 0.0
    assert decision.ties == 30
    assert not decision.keep


def test_equal_scores_keep_only_a_simpler_candidate() -> None:
    parent, _ = one_trial(wins=0, losses=0, both_pass=5, both_fail=5)
    simpler = decide(parent, dict(parent), parent_lines=120, candidate_lines=100)
    assert simpler.keep and simpler.simpler
    assert "100 vs 120" in simpler.reason
    longer = decide(parent, dict(parent), parent_lines=100, candidate_lines=120)
    assert not longer.keep and not longer.simpler
    unknown = decide(parent, dict(parent), parent_lines=100)
    assert not unknown.keep


def test_a_zero_mean_with_wins_and_losses_is_not_equal_scores() -> None:
    # Delta 0 but the candidate broke one task and fixed another: not the simplicity rule.
    parent, candidate = one_trial(wins=1, losses=1, both_pass=4)
    decision = decide(parent, candidate, parent_lines=200, candidate_lines=10)
    assert decision.delta == 0.0
    assert not decision.simpler
    assert not decision.keep


def test_the_mean_rule_keeps_any_positive_delta() -> None:
    parent, candidate = one_trial(wins=2, losses=1, both_pass=20)
    naive = decide(parent, candidate, method="mean")
    assert naive.method == "mean"
    assert naive.keep
    assert naive.p_value is None and naive.statistic is None
    assert naive.ci_low <= naive.delta <= naive.ci_high
    assert not decide(parent, candidate).keep  # the real gate: p = 0.5
    worse = decide(candidate, parent, method="mean")
    assert not worse.keep


# --- the stored record ----------------------------------------------------------------


def test_decision_is_seeded_and_round_trips_through_json() -> None:
    parent, candidate = graded(seed=2, shift=0.01)
    first = decide(parent, candidate, seed=7)
    assert decide(parent, candidate, seed=7) == first
    assert GateDecision.model_validate_json(first.model_dump_json()) == first
    assert first.schema_version == 1
    assert first.n_tasks == 60 and first.trials == 2 and first.alpha == 0.10


def test_the_record_refuses_unknown_fields() -> None:
    parent, candidate = one_trial(wins=3, losses=0)
    data = decide(parent, candidate).model_dump()
    data["surprise"] = 1
    with pytest.raises(ValidationError):
        GateDecision.model_validate(data)


def test_power_is_reexported_for_the_loop() -> None:
    assert 0.0 < smallest_detectable_gain([0.5] * 60, 2) < 1.0


# --- refusals -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parent", "candidate", "match"),
    [
        ({}, {}, "at least one held-out task"),
        ({"a": [1.0]}, {"b": [1.0]}, "different tasks: only the parent has 'a'"),
        ({"a": [1.0], "b": [0.0]}, {"a": [1.0]}, "only the parent has 'b'"),
        ({"a": [1.0, 0.0]}, {"a": [1.0]}, "same number of trials"),
        ({"a": [1.0], "b": [1.0, 0.0]}, {"a": [1.0], "b": [1.0, 0.0]}, "same number of trials"),
        ({"a": []}, {"a": []}, "no trials"),
        ({"a": [1.5]}, {"a": [1.0]}, "parent task 'a' has a score outside"),
        ({"a": [1.0]}, {"a": [float("nan")]}, "candidate task 'a' has a score outside"),
    ],
)
def test_mismatched_or_invalid_results_are_refused(
    parent: PerTask, candidate: PerTask, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        decide(parent, candidate)


@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.1])
def test_alpha_must_be_a_probability(alpha: float) -> None:
    parent, candidate = one_trial(wins=3, losses=0)
    with pytest.raises(ValueError, match="alpha"):
        decide(parent, candidate, alpha=alpha)

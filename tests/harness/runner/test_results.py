"""The aggregate's 95 % CI: Wilson for pass/fail scores, Student t for fractional ones."""

from __future__ import annotations

import pytest

from harness.runner.results import EpisodeResult, aggregate, mean_ci


def test_wilson_interval_for_binary_scores() -> None:
    mean, low, high = mean_ci([1.0, 0.0])
    assert mean == 0.5
    assert low == pytest.approx(0.0945, abs=1e-4) and high == pytest.approx(0.9055, abs=1e-4)
    assert mean_ci([1.0] * 10)[1:] == (pytest.approx(0.7225, abs=1e-4), pytest.approx(1.0))


def test_t_interval_for_fractional_scores() -> None:
    mean, low, high = mean_ci([0.2, 0.4, 0.6])
    assert mean == pytest.approx(0.4)
    # half-width = sem 0.1155 x t(0.975, 2) 4.303 = 0.497; the low end is clipped at 0
    assert (low, high) == (0.0, pytest.approx(0.8968, abs=1e-3))


def test_errors_are_reported_but_not_counted() -> None:
    def episode(status: str, score: float) -> EpisodeResult:
        return EpisodeResult(task_id="t", episode_id=status + str(score), status=status,
                             score=score, passed=score == 1.0)

    agg = aggregate([episode("scored", 1.0), episode("failed", 0.0), episode("error", 0.0)],
                    max_error_share=0.5)
    assert (agg.episodes, agg.counted, agg.errors) == (3, 2, 1)
    assert agg.mean_score == 0.5 and agg.pass_rate == 0.5


def test_trials_of_one_task_do_not_narrow_the_interval() -> None:
    def episodes(trials: int) -> list[EpisodeResult]:
        return [EpisodeResult(task_id=f"t{task}", trial=trial, episode_id=f"{task}-{trial}",
                              status="scored", score=float(task % 2), passed=task % 2 == 1)
                for task in range(10) for trial in range(trials)]

    once, ten_times = aggregate(episodes(1)), aggregate(episodes(10))
    assert once.mean_score == ten_times.mean_score == 0.5
    assert (once.ci_low, once.ci_high) == (ten_times.ci_low, ten_times.ci_high)
    assert ten_times.ci_low == pytest.approx(0.2366, abs=1e-3)

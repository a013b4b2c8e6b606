"""Parent selection: greedy takes the best; pareto keeps specialists on the frontier alive."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from harness.errors import ConfigError
from harness.optimize.strategies import Candidate, make_strategy
from harness.optimize.strategies.pareto import task_wins

BASELINE = Candidate(tag="exp-0000", experiment=0, held_out=0.40,
                     train={"a": 1.0, "b": 0.0, "c": 0.0, "d": 0.5})
BEST = Candidate(tag="exp-0003", experiment=3, held_out=0.60,
                 train={"a": 0.0, "b": 1.0, "c": 1.0, "d": 0.5})
DOMINATED = Candidate(tag="exp-0005", experiment=5, held_out=0.50,
                      train={"a": 0.0, "b": 1.0, "c": 0.5, "d": 0.0})


def test_greedy_branches_from_the_best_held_out() -> None:
    pool = [BASELINE, BEST, DOMINATED]
    assert make_strategy("greedy").choose(pool, random.Random(0)).tag == "exp-0003"


def test_task_wins_count_ties_at_the_top_and_ignore_unsolved() -> None:
    assert task_wins([BASELINE, BEST, DOMINATED]) == {"exp-0000": 2, "exp-0003": 3,
                                                      "exp-0005": 1}
    assert task_wins([Candidate(tag="x", experiment=0, train={"a": 0.0})]) == {"x": 0}


def test_pareto_picks_a_non_best_parent_that_wins_tasks_the_best_loses() -> None:
    pool = [BASELINE, BEST]  # the baseline alone solves task "a"
    rng = random.Random(7)
    picks = Counter(make_strategy("pareto").choose(pool, rng).tag for _ in range(2000))
    assert set(picks) == {"exp-0000", "exp-0003"}
    # weights 2 (baseline wins a and ties d) vs 3 (best wins b, c and ties d)
    assert picks["exp-0000"] / 2000 == pytest.approx(2 / 5, abs=0.04)


def test_pareto_penalises_parents_with_many_children() -> None:
    tired = BEST.model_copy(update={"children": 5})
    rng = random.Random(3)
    picks = Counter(make_strategy("pareto").choose([BASELINE, tired], rng).tag
                    for _ in range(2000))
    assert picks["exp-0000"] / 2000 == pytest.approx(2 / (2 + 3 / 6), abs=0.04)


def test_pareto_never_picks_a_candidate_that_wins_nothing() -> None:
    loser = Candidate(tag="exp-0009", experiment=9, held_out=0.1, train={"a": 0.0, "b": 0.0})
    rng = random.Random(1)
    assert all(make_strategy("pareto").choose([BASELINE, BEST, loser], rng).tag != "exp-0009"
               for _ in range(300))


def test_unknown_strategy_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="random"):
        make_strategy("random")

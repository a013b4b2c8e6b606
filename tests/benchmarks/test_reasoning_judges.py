"""Our copies of reasoning-gym's pass rules agree with the library on fixed, harmless inputs."""

from __future__ import annotations

import pytest

from benchmarks import get_benchmark
from benchmarks.reasoning import ReasoningGym
from benchmarks.reasoning_judges import JUDGES

SPECS = ("gsm-symbolic", "countdown", "knights-knaves", "arithmetic")


def _variants(gold: str) -> list[str]:
    return [gold, f" {gold} ", gold + ".", gold.upper(), gold.replace(" ", ""), "-" + gold,
            gold + " + 0", gold + " * 1", f"({gold})", gold[::-1], "0", "1.0", "", "no idea",
            gold.replace("knight", "knave"), gold.replace("and", ","), gold + " and Bob is a knave"]


@pytest.mark.parametrize("spec", SPECS)
def test_same_verdict_as_the_library(spec: str) -> None:
    bench = get_benchmark(spec)
    assert isinstance(bench, ReasoningGym)
    dataset = bench._dataset  # the library's scorer, fed only the strings below
    judge = JUDGES[bench.rg_name]
    for ref in bench.index()[:25]:
        entry = bench._entry(ref.task_id)
        for answer in _variants(str(entry["answer"])):
            ours = judge(answer, entry)[0]
            theirs = dataset.score_answer(answer, entry) >= 1.0
            assert ours == theirs, (spec, answer, ours, theirs)

"""reasoning-gym adapters: gold passes, empty fails, the final answer is extracted first."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from benchmarks import SPLITS, get_benchmark
from benchmarks.reasoning import extract_final_answer
from harness.errors import ConfigError

SPECS = ("gsm-symbolic", "countdown", "knights-knaves", "arithmetic")


@pytest.mark.parametrize("spec", SPECS)
async def test_gold_scores_full_and_empty_zero(spec: str) -> None:
    bench = get_benchmark(spec)
    tasks = [t for s in SPLITS for t in bench.tasks(s)]
    assert len(tasks) == len(bench.index())
    for task in tasks:
        gold = bench.reference_answer(task.task_id)
        assert (await bench.score(task, gold)).passed, task.task_id
        assert (await bench.score(task, f"Let me think.\nAnswer: {gold}")).passed
        empty = await bench.score(task, "")
        assert not empty.passed and empty.value == 0


async def test_gsm_reads_the_final_answer_not_the_first_number() -> None:
    bench = get_benchmark("gsm-symbolic")
    task = bench.tasks("train")[0]
    gold = bench.reference_answer(task.task_id)
    reply = f"First 3 apples, then 12 more, so 7 * 2 = 14 ...\nAnswer: {gold}"
    assert (await bench.score(task, reply)).passed
    wrong = await bench.score(task, f"{gold} is tempting, but the answer is {int(gold) + 1}")
    assert not wrong.passed and wrong.value == 0 and "wrong" in wrong.detail


def test_extraction() -> None:
    assert extract_final_answer("so 1,234 apples.", numeric=True) == "1234"
    assert extract_final_answer("x <answer>42</answer> 7", numeric=True) == "42"
    assert extract_final_answer("\\boxed{-3.5} and 9", numeric=True) == "-3.5"
    assert extract_final_answer("blah\nAnswer: 3 + 4 * 5", numeric=False) == "3 + 4 * 5"


def test_parameters_and_bad_parameters() -> None:
    bench = get_benchmark("arithmetic:size=10,min_terms=3,max_terms=3")
    assert len(bench.index()) == 10
    assert bench.task(bench.index()[0].task_id).prompt != ""
    with pytest.raises(ConfigError):
        get_benchmark("arithmetic:no_such_knob=1")
    with pytest.raises(ConfigError):
        get_benchmark("countdown:size")


def test_same_tasks_in_another_process(run_python_subprocess: Callable[..., str]) -> None:
    bench = get_benchmark("countdown")
    first = bench.tasks("train")[0]
    code = ("from benchmarks import get_benchmark\n"
            f"print(get_benchmark('countdown').task({first.task_id!r}).prompt)\n")
    assert run_python_subprocess(code, {"PYTHONHASHSEED": "7"}).strip() == first.prompt.strip()


@pytest.mark.parametrize(("text", "number"), [
    ("Answer: 42 (6 * 7)", "42"), ("Answer: 42 apples, from 6 boxes of 7", "42"),
    ("**Answer:** 17", "17"), ("Answer: 3 + 4 = 7", "7"), ("#### 1,234", "1234"),
    ("Answering this needs care.\nWe get 12 total", "12"),
])
def test_scorer_takes_the_number_the_answer_gives(text: str, number: str) -> None:
    from benchmarks.reasoning import extract_final_answer

    assert extract_final_answer(text, numeric=True) == number


@pytest.mark.parametrize("text", ["\n" * 40_000 + "x", "Answer: 4" + " " * 40_000 + "2"])
def test_scorer_extraction_is_linear(text: str) -> None:
    import time

    from benchmarks.reasoning import extract_final_answer

    started = time.monotonic()
    extract_final_answer(text, numeric=True)
    assert time.monotonic() - started < 0.5


def test_other_generator_settings_get_other_task_ids() -> None:
    from benchmarks.registry import get_benchmark

    plain = get_benchmark("arithmetic").index()[0].task_id
    assert get_benchmark("arithmetic:size=300").index()[0].task_id == plain  # size only counts
    harder = get_benchmark("arithmetic:min_terms=3,max_terms=3").index()[0].task_id
    assert harder != plain and harder.startswith("basic_arithmetic-20250104-p")

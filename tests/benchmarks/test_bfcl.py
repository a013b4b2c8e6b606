"""BFCL: gold answers score 100 % through our answer form; wrong and empty ones score 0."""

from __future__ import annotations

import json

import pytest

from benchmarks import get_benchmark
from benchmarks.bfcl import (
    ALL_CATEGORIES,
    DEFAULT_CATEGORIES,
    KNOWN_UNSCORABLE,
    MULTI_TURN_CATEGORIES,
)


async def _score_all(spec: str) -> tuple[int, list[str], list[str]]:
    bench = get_benchmark(spec)
    failed, empty_passed = [], []
    refs = bench.index()
    for ref in refs:
        task = bench.task(ref.task_id)
        gold = json.dumps(bench.reference_answer(ref.task_id))  # through JSON, as an agent sends
        if not (await bench.score(task, gold)).passed:
            failed.append(ref.task_id)
        if (await bench.score(task, "")).passed:
            empty_passed.append(ref.task_id)
    return len(refs), failed, empty_passed


@pytest.mark.parametrize("category", ALL_CATEGORIES)
async def test_gold_scores_full_and_empty_scores_zero(category: str) -> None:
    n, failed, empty_passed = await _score_all(f"bfcl:{category}")
    assert n > 0
    assert failed == []
    assert empty_passed == []


def test_known_unscorable_are_excluded_explicitly() -> None:
    bench = get_benchmark("bfcl:live_simple,live_multiple")
    ids = {r.task_id for r in bench.index()}
    assert KNOWN_UNSCORABLE and not ids & set(KNOWN_UNSCORABLE)
    assert all(reason for reason in KNOWN_UNSCORABLE.values())


def test_default_set() -> None:
    bench = get_benchmark("bfcl")
    assert {r.category for r in bench.index()} == set(DEFAULT_CATEGORIES)
    assert len(bench.index()) == 400 + 200 + 200 + 200 + 240 + 200


async def test_wrong_answers_score_zero_with_reason() -> None:
    bench = get_benchmark("bfcl:simple_python,irrelevance,multi_turn_base")
    simple = bench.task("simple_python_0")
    wrong = [{"name": "calculate_triangle_area", "arguments": {"base": 11, "height": 5}}]
    score = await bench.score(simple, json.dumps(wrong))
    assert not score.passed and score.value == 0 and "base" in score.detail
    assert not (await bench.score(simple, "I think the area is 25")).passed
    irrelevant = bench.task("irrelevance_0")
    call = [{"name": "determine_body_mass_index", "arguments": {"weight": 1, "height": 2}}]
    assert not (await bench.score(irrelevant, json.dumps(call))).passed
    assert (await bench.score(irrelevant, "Sorry, no tool computes a triangle's area.")).passed
    multi = bench.task("multi_turn_base_0")
    gold = bench.reference_answer("multi_turn_base_0")
    truncated = [gold[0], [], [], []]
    assert not (await bench.score(multi, truncated)).passed


async def test_underscored_names_are_accepted() -> None:
    bench = get_benchmark("bfcl:simple_python")
    task = bench.task("simple_python_1")
    answer = [{"name": "math_factorial", "arguments": {"number": 5}}]
    assert (await bench.score(task, answer)).passed


async def test_multi_turn_code_injection_is_refused(tmp_path) -> None:
    bench = get_benchmark("bfcl:multi_turn_base")
    task = bench.task("multi_turn_base_0")
    target = tmp_path / "victim"
    target.write_text("x")
    evil = [[{"name": f"__import__('os').remove('{target}') or cd", "arguments": {}}]]
    score = await bench.score(task, evil)
    assert not score.passed and "unknown function" in score.detail
    evil_key = [[{"name": "cd", "arguments": {f"folder=__import__('os').remove('{target}'),x": 1}}]]
    assert not (await bench.score(task, evil_key)).passed
    assert target.exists()


async def test_multi_turn_scorings_are_independent_and_leave_no_state() -> None:
    from benchmarks._bfcl_checker import multi_turn_utils

    bench = get_benchmark("bfcl:multi_turn_base")
    task = bench.task("multi_turn_base_1")
    gold = bench.reference_answer("multi_turn_base_1")
    before = len(vars(multi_turn_utils))
    results = [await bench.score(task, gold) for _ in range(3)]
    assert all(r.passed for r in results)
    assert len(vars(multi_turn_utils)) == before


def test_checker_import_needs_no_sdk_and_leaves_no_stub(run_python_subprocess) -> None:
    out = run_python_subprocess(
        "import sys, benchmarks._bfcl_checker as c\n"
        "print('bfcl_eval.constants.model_config' in sys.modules,"
        " any(m in sys.modules for m in ('openai', 'anthropic', 'google.genai', 'torch')),"
        " c.ast_checker.__module__)\n"
    )
    assert out.split() == ["False", "False", "bfcl_eval.eval_checker.ast_eval.ast_checker"]


def test_task_view_has_tools_and_no_gold() -> None:
    bench = get_benchmark("bfcl:multi_turn_miss_func")
    task = bench.task("multi_turn_miss_func_3")
    assert task.tools and all(t["parameters"]["type"] == "object" for t in task.tools)
    assert task.metadata["tools_added_at_turn"]
    assert task.category in MULTI_TURN_CATEGORIES
    dumped = task.model_dump_json()
    assert "ground_truth" not in dumped and "initial_config" not in dumped

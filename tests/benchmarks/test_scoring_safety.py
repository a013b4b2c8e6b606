"""Scorers treat the answer as hostile: nothing in it runs, it cannot stall the event loop,
and it cannot be larger than scorers accept."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable
from pathlib import Path

import pytest

from benchmarks import get_benchmark
from benchmarks.answers import MAX_ANSWER_BYTES, ScorerTimeout
from benchmarks.arith_expr import ExpressionError, evaluate, judge_countdown

SPECS = ("gsm-symbolic", "countdown", "knights-knaves", "arithmetic")


def _payloads(marker: Path) -> list[str]:
    command = f"touch {marker}"
    return [
        f'<answer>__import__("os").system("{command}")</answer>',
        f'Answer: __import__("os").system("{command}")',
        f"<answer>(lambda: __import__('os').system('{command}'))()</answer>",
        f"<answer>1 + __import__('subprocess').call(['touch', '{marker}'])</answer>",
    ]


@pytest.mark.parametrize("spec", SPECS)
async def test_answer_text_never_runs(spec: str, tmp_path: Path) -> None:
    bench = get_benchmark(spec)
    task = bench.tasks("train")[0]
    marker = tmp_path / "pwned"
    for payload in _payloads(marker):
        score = await bench.score(task, payload)
        assert not marker.exists(), f"{spec} ran the answer: {payload}"
        assert not score.passed and score.value == 0


def test_arithmetic_parser_is_exact_and_closed() -> None:
    assert evaluate("(100 - 4) / 3 * 2") == (64, [100, 4, 3, 2])
    assert evaluate("-(2 - 5) × 4 ÷ 6") == (2, [2, 5, 4, 6])
    for bad in ("2 ** 10", "7 // 2", "1e3", "1_000", "2.5 * 2", "(1", "1)", "x + 1",
                "(" * 60 + "1" + ")" * 60, "1 +" * 400, "1/0", "[1]", "", "9" * 1001):
        with pytest.raises(ExpressionError):
            evaluate(bad)
    with contextlib.suppress(ExpressionError):  # a long chain of signs: never a crash
        assert evaluate("-" * 900 + "1")[0] == 1


def test_countdown_rule_matches_reasoning_gym() -> None:
    assert judge_countdown("25 * 4 - 3 + 1", [25, 4, 3, 1], 98)[0]
    assert not judge_countdown("25 * 4 - 3", [25, 4, 3, 1], 97)[0]  # a number left out
    assert not judge_countdown("25 * 4 - 3 + 1 + 1", [25, 4, 3, 1], 99)[0]  # one used twice
    assert not judge_countdown("25 * 4 - 3 + 1 = 98", [25, 4, 3, 1], 98)[0]
    assert judge_countdown("(25 * 4 - 2) / 2", [25, 4, 2, 2], 49)[0]
    assert not judge_countdown("7 / 2", [7, 2], 3)[0]  # exact: 3.5 is not 3


async def _max_gap_while(work: Awaitable[object]) -> float:
    """The longest the event loop went without running a 10 ms ticker during `work`."""
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.monotonic()
        while not done.is_set():
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    tick = asyncio.create_task(ticker())
    await asyncio.sleep(0.02)
    try:
        await work
    finally:
        done.set()
        await tick
    return max(gaps)


@pytest.mark.parametrize("pathological", [
    "<answer>" * 8_000,  # lazy <answer>(.*?)</answer> retried from every open tag
    "\n" * 60_000 + "x",
    "answer" + " " * 100_000 + "x\n" * 1000,
])
async def test_pathological_answers_do_not_stall_the_loop(pathological: str) -> None:
    bench = get_benchmark("countdown")
    task = bench.tasks("train")[0]
    gap = await _max_gap_while(bench.score(task, pathological))
    assert gap < 0.5, f"event loop stalled {gap:.2f} s"


async def test_code_extraction_does_not_stall_the_loop() -> None:
    """The `def` search ran `^\\s*` from every line start: quadratic in blank lines."""
    bench = get_benchmark("humaneval")
    task = bench.tasks("train")[0]
    gap = await _max_gap_while(bench.score(task, "\n" * 60_000 + "pass"))
    assert gap < 0.5, f"event loop stalled {gap:.2f} s"


@pytest.mark.parametrize("spec", [*SPECS, "humaneval", "bfcl:simple_python"])
async def test_oversized_answers_are_refused_unscored(spec: str) -> None:
    bench = get_benchmark(spec)
    task = bench.tasks("train")[0]
    gold = bench.reference_answer(task.task_id)
    if isinstance(gold, str):
        huge: object = gold + " " * MAX_ANSWER_BYTES
    else:
        huge = [*gold, *[{"name": "x", "arguments": {}}] * (MAX_ANSWER_BYTES // 20)]
    score = await bench.score(task, huge)
    assert not score.passed and "too large" in score.detail
    assert (await bench.score(task, gold)).passed


async def test_a_backtracking_user_regex_is_killed(tmp_path: Path) -> None:
    """A jsonl `regex` pattern is the user's, but it runs on the candidate's answer."""
    path = tmp_path / "tasks.jsonl"
    path.write_text('{"task_id": "t", "prompt": "p", "answer": "(a+)+$", "match": "regex"}\n')
    bench = get_benchmark(f"jsonl:{path}")
    bench.score_timeout_s = 0.5
    task = bench.tasks("train")[0] if bench.tasks("train") else bench.task("t")
    started = time.monotonic()
    with pytest.raises(ScorerTimeout):
        await bench.score(task, "Answer: " + "a" * 25 + "!")  # seconds of backtracking
    assert time.monotonic() - started < 10
    assert (await bench.score(task, "Answer: aaa")).passed  # a fresh child took over

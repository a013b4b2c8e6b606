"""reasoning-gym (0.1.25) generators as fixed task sets: gsm-symbolic, countdown,
knights-knaves, arithmetic.

Instances come from a fixed seed, so the same spec gives the same tasks everywhere; nothing is
downloaded. Spec: `NAME` or `NAME:key=value,...` where keys are `size`, `seed` and any field of
the generator's config, e.g. `arithmetic:min_terms=3,max_terms=3`. One category per benchmark.
Tasks are generated on first use (countdown takes ~20 ms a task), ids and splits need none.

Scoring: the final answer is extracted first (see `extract_final_answer`), then judged by
reasoning-gym's full-score rule, applied by our own code (`reasoning_judges`; the library's
countdown scorer runs the answer as Python). A task passes only when the rule gives full
marks; anything else is 0. (gsm_symbolic's rule reads the *first* number of what it is given,
so handing it a whole chain of thought would score the wrong number.) Answers over
`answers.MAX_ANSWER_BYTES` are not scored; the work runs in a thread, off the event loop, and
every pattern here is linear in the answer's length.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import re
from typing import Any

from benchmarks.answers import oversize
from benchmarks.base import BaseBenchmark, Score, Task
from benchmarks.reasoning_judges import JUDGES
from benchmarks.splits import TaskRef

# Our id -> (reasoning-gym name, default config, numeric answer?, description)
GENERATORS: dict[str, tuple[str, dict[str, Any], bool, str]] = {
    "gsm-symbolic": (
        "gsm_symbolic", {"size": 200, "seed": 20250101}, True,
        "GSM-Symbolic (GSM8K-derived templates): grade-school maths word problems",
    ),
    "countdown": (
        "countdown", {"size": 100, "seed": 20250102}, False,
        "Countdown: reach a target number with the given numbers and + - * /",
    ),
    "knights-knaves": (
        "knights_knaves", {"size": 100, "seed": 20250103}, False,
        "Knights and knaves logic puzzles",
    ),
    "arithmetic": (
        "basic_arithmetic",
        {"size": 100, "seed": 20250104, "min_terms": 2, "max_terms": 2,
         "min_digits": 1, "max_digits": 1},
        True,
        "Basic arithmetic (default: two one-digit terms)",
    ),
}
ANSWER_FORMAT = (
    "Think as needed, then give the final answer alone on the last line as `Answer: <answer>` "
    "(or inside <answer></answer>)."
)
# Only literal tags: the pairing is done in `_tagged` (a lazy `<answer>(.*?)</answer>` retries
# from every unclosed tag to the end of the text: quadratic).
_TAG = re.compile(r"<(/?)answer>", re.IGNORECASE)
_BOXED = re.compile(r"\\boxed\{([^{}]*)\}")
# Line-local and linear: `[ \t]*` never crosses a newline, the capture is greedy and stripped
# afterwards (a lazy capture before `\s*$` is quadratic on long runs of blanks).
_LABELLED = re.compile(
    r"^[ \t*]*(?:(?:final[ \t]+)?answer[ \t*]*[:=]|####)[ \t]*([^\n]*)$", re.I | re.M)
_NUMBER = re.compile(r"-?(?:\d[\d,]*(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?")


def extract_final_answer(text: str, numeric: bool) -> str:
    """The final answer in a reply: <answer> tag, \\boxed{}, an `Answer:` line, else (numeric)
    the last number, else the last non-empty line."""
    labelled = False
    for finder in (_tagged, _BOXED.findall, _LABELLED.findall):
        found = [f.strip().strip("*`").strip() for f in finder(text)]
        found = [f for f in found if f]
        if found:
            text, labelled = found[-1], True
            break
    if numeric:
        return _number_in(text, labelled) or text.strip()
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def _tagged(text: str) -> list[str]:
    """What `<answer>(.*?)</answer>` (case-insensitive, across lines) finds, in one pass: each
    open tag pairs with the first close tag after it; tags in between are content."""
    found, start = [], None
    for tag in _TAG.finditer(text):
        if not tag.group(1):
            start = tag.end() if start is None else start
        elif start is not None:
            found.append(text[start:tag.start()])
            start = None
    return found


def _number_in(text: str, labelled: bool) -> str | None:
    """In a marked answer the result is after the last "=", else its first number
    ("42 (6 * 7)", "42 apples from 6 boxes of 7"); in free text, the last number."""
    if labelled and "=" in text:
        text = text.rsplit("=", 1)[1]
    numbers = _NUMBER.findall(text)
    if not numbers:
        return None
    return (numbers[0] if labelled else numbers[-1]).replace(",", "")


def _coerce(value: str) -> Any:
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


def parse_params(text: str) -> dict[str, Any]:
    """`"size=50,min_terms=3"` -> {"size": 50, "min_terms": 3}."""
    params: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"expected key=value, got {part!r}")
        params[key.strip()] = _coerce(value.strip())
    return params


class ReasoningGym(BaseBenchmark):
    def __init__(self, name: str, params: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rg_name, defaults, self.numeric, self.description = GENERATORS[name]
        self._defaults = defaults
        self.params = {**defaults, **(params or {})}
        extra = {k: v for k, v in (params or {}).items() if defaults.get(k) != v}
        self.id = name + (":" + ",".join(f"{k}={v}" for k, v in extra.items()) if extra else "")
        self.size = int(self.params["size"])
        if params:  # defaults are known good; skip importing reasoning-gym just to list
            self._check_params()

    def _check_params(self) -> None:
        """Build the generator once so a bad parameter fails now, as a ValueError."""
        if self.size < 1:
            raise ValueError("size must be at least 1")
        try:
            self._dataset  # noqa: B018
        except (TypeError, ValueError, AssertionError) as exc:
            raise ValueError(f"{self.rg_name}: {exc}") from None

    @functools.cached_property
    def _dataset(self) -> Any:
        import reasoning_gym

        return reasoning_gym.create_dataset(self.rg_name, **self.params)

    def _refs(self) -> list[TaskRef]:
        seed = self.params["seed"]
        return [TaskRef(f"{self.rg_name}-{seed}{self._variant}-{i}", self.rg_name)
                for i in range(self.size)]

    @functools.cached_property
    def _variant(self) -> str:
        """"" with the default generator settings, else a short digest of them: other
        settings make other questions, which must not share task ids (size only counts)."""
        changed = {k: v for k, v in self.params.items()
                   if k not in ("size", "seed") and self._defaults.get(k) != v}
        if not changed:
            return ""
        digest = hashlib.sha256(json.dumps(changed, sort_keys=True).encode()).hexdigest()
        return f"-p{digest[:8]}"

    @functools.cache  # noqa: B019 - benchmarks live for the whole process
    def _entry(self, task_id: str) -> dict[str, Any]:
        index = int(task_id.rsplit("-", 1)[1])
        entry: dict[str, Any] = self._dataset[index]
        return entry

    def _build_task(self, ref: TaskRef) -> Task:
        entry = self._entry(ref.task_id)
        return Task(
            benchmark=self.id,
            task_id=ref.task_id,
            category=ref.category,
            prompt=entry["question"],
            answer_format=ANSWER_FORMAT,
            metadata={"generator": self.rg_name, "numeric_answer": self.numeric},
        )

    def reference_answer(self, task_id: str) -> str:
        return str(self._entry(task_id)["answer"])

    async def score(self, task: Task, answer: Any) -> Score:
        if task.task_id not in self._by_id:
            return Score.fail(f"unknown task {task.task_id!r}")
        if not isinstance(answer, str) or not answer.strip():
            return Score.fail("empty answer")
        too_large = oversize(answer)
        if too_large:
            return Score.fail(too_large)
        return await asyncio.to_thread(self._judge, task.task_id, answer)

    def _judge(self, task_id: str, answer: str) -> Score:
        final = extract_final_answer(answer, self.numeric)
        if not final:
            return Score.fail("no final answer found")
        ok, why = JUDGES[self.rg_name](final, self._entry(task_id))
        shown = f"final answer {final[:200]!r}"
        if ok:
            return Score.ok(f"{shown} is correct")
        return Score.fail(f"{shown} is wrong" + (f": {why}" if why else ""))

"""The `Benchmark` contract: tasks, scores, and the split each task belongs to.

Rules:
- Every task has a `task_id` that is stable across machines and releases of the adapter, and a
  `category` (the stratum for splitting).
- A `Task` is exactly what an agent may see. Gold answers never live on a `Task`: each
  benchmark keeps them privately and serves them only through `reference_answer(task_id)`
  (for tests and anti-gaming checks, never for agents).
- Tasks are served per split, and only through a call that names the split:
  `bench.tasks("train")`, `bench.tasks("held_out")`, `bench.tasks("sealed")`. There is no
  "all tasks" accessor that returns task texts.
- Scoring is async: `await bench.score(task, answer) -> Score`. Scorers that run code (unit
  tests) run it in the harness sandbox; cheap scorers return at once. A crashed or malformed
  answer is a `Score` of 0 with the reason in `detail`, never an exception.
- The answer is hostile input. No scorer evaluates it in the harness process: third-party
  code that reads it runs in the isolated child (`_isolated`); our own parsing is linear in its
  length and runs off the event loop (a thread); answers over `answers.MAX_ANSWER_BYTES` are
  refused. Scoring ends within `score_timeout_s` (the runner enforces it); a scorer whose own
  killable child ran over raises `answers.ScorerTimeout`.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, field_validator

from benchmarks.answers import DEFAULT_SCORE_TIMEOUT_S
from benchmarks.splits import DEFAULT_RATIOS, DEFAULT_SEED, Split, TaskRef, assign_splits

SCHEMA_VERSION = 1
SPLITS: tuple[Split, ...] = ("train", "held_out", "sealed")


class Task(BaseModel):
    """One task as the agent sees it (no gold answer in here)."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = SCHEMA_VERSION
    benchmark: str
    task_id: str
    category: str
    prompt: str
    # Conversation turns for multi-turn tasks (BFCL): turn i is a list of {"role", "content"}.
    # Single-turn tasks may leave it empty; `prompt` is then the whole user message.
    turns: list[list[dict[str, str]]] = Field(default_factory=list)
    # Tools offered to the agent: {"name", "description", "parameters": JSON Schema}.
    tools: list[dict[str, Any]] = Field(default_factory=list)
    # How the answer must be given (text the agent may be shown).
    answer_format: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)


class Score(BaseModel):
    """The result of scoring one answer: value in [0, 1], pass/fail, and why."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = SCHEMA_VERSION
    value: float
    passed: bool
    detail: str = ""

    @field_validator("value")
    @classmethod
    def _in_unit_interval(cls, v: float) -> float:
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"score value {v} is outside [0, 1]")
        return v

    @classmethod
    def ok(cls, detail: str = "") -> Score:
        return cls(value=1.0, passed=True, detail=detail)

    @classmethod
    def fail(cls, detail: str) -> Score:
        return cls(value=0.0, passed=False, detail=detail)


@runtime_checkable
class Benchmark(Protocol):
    """What the runner, the gate and the CLI rely on. See the module docstring for the rules."""

    id: str
    description: str

    def index(self) -> list[TaskRef]:
        """Ids, categories and official splits of every task (no task text); cheap."""
        ...

    def split_of(self, task_id: str) -> Split: ...

    def split_counts(self) -> dict[Split, int]: ...

    def tasks(self, split: Split) -> list[Task]:
        """The tasks of one named split, in a stable order."""
        ...

    def task(self, task_id: str) -> Task: ...

    def dataset(self, split: Split) -> Any:
        """The split's tasks as a `datasets.Dataset` (one row per `Task.model_dump()`)."""
        ...

    async def score(self, task: Task, answer: Any) -> Score: ...

    def reference_answer(self, task_id: str) -> Any:
        """A gold answer in the benchmark's answer form (tests and anti-gaming only)."""
        ...

    def environment(self, task: Task) -> Environment | None:
        """A live environment for one episode of `task`, or None when the task has none."""
        ...


@runtime_checkable
class Environment(Protocol):
    """Functions an agent can run during an episode (BFCL multi-turn's simulated APIs).

    Rules: one instance per episode, created fresh from the task's starting state; `call`
    never raises for a bad call (it returns ok=False and the reason); `close` releases it.
    The runner offers it to the agent as the harness tool `env`, each call a traced span.
    """

    async def call(self, name: str, arguments: dict[str, Any]) -> tuple[bool, str]: ...

    def close(self) -> None: ...


class BaseBenchmark(ABC):
    """Shared plumbing: split assignment, per-split task lists and caching.

    Subclasses implement `_refs()` (cheap), `_build_task(ref)` and `score`/`reference_answer`.
    """

    id: str = ""
    description: str = ""
    score_timeout_s: float = DEFAULT_SCORE_TIMEOUT_S

    def __init__(self, *, seed: str = DEFAULT_SEED, ratios: tuple[int, ...] = DEFAULT_RATIOS):
        self.seed = seed
        self.ratios = ratios

    @abstractmethod
    def _refs(self) -> list[TaskRef]: ...

    @abstractmethod
    def _build_task(self, ref: TaskRef) -> Task: ...

    @abstractmethod
    async def score(self, task: Task, answer: Any) -> Score: ...

    @abstractmethod
    def reference_answer(self, task_id: str) -> Any: ...

    def environment(self, task: Task) -> Environment | None:
        return None

    @functools.cached_property
    def _index(self) -> list[TaskRef]:
        return self._refs()

    @functools.cached_property
    def _by_id(self) -> dict[str, TaskRef]:
        return {ref.task_id: ref for ref in self._index}

    @functools.cached_property
    def _assignment(self) -> dict[str, Split]:
        return assign_splits(self._index, seed=self.seed, ratios=self.ratios)

    def index(self) -> list[TaskRef]:
        return list(self._index)

    def split_of(self, task_id: str) -> Split:
        if task_id not in self._by_id:
            raise KeyError(f"{self.id}: no task {task_id!r}")
        return self._assignment[task_id]

    def split_counts(self) -> dict[Split, int]:
        counts: dict[Split, int] = dict.fromkeys(SPLITS, 0)
        for split in self._assignment.values():
            counts[split] += 1
        return counts

    def tasks(self, split: Split) -> list[Task]:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
        ids = [ref.task_id for ref in self._index if self._assignment[ref.task_id] == split]
        return [self.task(tid) for tid in ids]

    def task(self, task_id: str) -> Task:
        return self._task_cached(task_id)

    @functools.cache  # noqa: B019 - benchmarks live for the whole process
    def _task_cached(self, task_id: str) -> Task:
        if task_id not in self._by_id:
            raise KeyError(f"{self.id}: no task {task_id!r}")
        return self._build_task(self._by_id[task_id])

    def dataset(self, split: Split) -> Any:
        from benchmarks._hf import tasks_to_dataset

        return tasks_to_dataset(self.tasks(split))

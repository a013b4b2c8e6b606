"""Failure modes and signatures of train episodes, and the attention ranking of tasks.

A failure's signature is its mode plus its key line with the specifics masked (quoted text and
numbers), so "'5' is wrong" and "'7' is wrong" group together while a crash's exception line
stays apart from a wrong answer. Modes, in the order they are decided:
infrastructure error (status `error`, not the agent's failure) · budget · timeout · format
(no final answer found) · scorer error · model error · crash · tool error (a tool call failed
and the answer was wrong) · partial credit · wrong answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from harness.runner.results import EpisodeResult
from meta_agent.tools.runs import key_line

FORMAT_HINTS = ("empty answer", "no final answer", "answer format", "no function call decoded",
                "expected a call, got none", "not valid utf-8")
TIMEOUT_KINDS = frozenset({"wall_time", "model_timeout", "scorer_timeout"})
_QUOTED = re.compile(r"'[^'\n]{0,200}'|\"[^\"\n]{0,200}\"")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def failure_mode(e: EpisodeResult, tool_errors: int = 0) -> str:
    kind = e.error_kind or ""
    detail = e.detail.lower()
    if e.status == "error":
        return "infrastructure error"
    if kind == "budget":
        return "budget"
    if kind in TIMEOUT_KINDS or "timed out" in detail:
        return "timeout"
    if kind == "answer_too_large" or any(hint in detail for hint in FORMAT_HINTS):
        return "format (no final answer found)"
    if kind == "scorer":
        return "scorer error"
    if kind == "model_error":
        return "model error"
    if e.status == "failed":
        return "crash"
    if tool_errors:
        return "tool error"
    return "partial credit" if 0 < e.score < 1 else "wrong answer"


def error_line(e: EpisodeResult, tool_errors: list[str] | None = None) -> str:
    """The one line that says what went wrong: the error's key line, a tool's error, or the
    scorer's detail."""
    if e.error:
        return key_line(e.error)
    if tool_errors:
        return tool_errors[0]
    return key_line(e.detail)


def signature(mode: str, line: str) -> tuple[str, str]:
    masked = _NUMBER.sub("N", _QUOTED.sub("'…'", line))
    return mode, masked[:160]


@dataclass
class TaskRecord:
    """A task's trials in one run (infrastructure errors left out) and in its parent's."""

    task_id: str
    passed: int
    trials: int
    parent_passed: int | None = None
    parent_trials: int | None = None

    @property
    def flaky(self) -> bool:
        return 0 < self.passed < self.trials

    @property
    def failing(self) -> bool:
        return self.trials > 0 and self.passed == 0

    @property
    def regressed(self) -> bool:
        """Fails every trial now, but passed at least one in the parent."""
        return self.failing and bool(self.parent_passed)

    @property
    def fixed(self) -> bool:
        """Passes every trial now, but failed at least one in the parent."""
        return (self.trials > 0 and self.passed == self.trials and self.parent_trials is not None
                and (self.parent_passed or 0) < self.parent_trials)

    def rate(self) -> str:
        text = f"{self.passed}/{self.trials} passed"
        if self.parent_trials:
            text += f" (parent {self.parent_passed}/{self.parent_trials})"
        return text


def task_records(episodes: list[EpisodeResult],
                 parent: list[EpisodeResult] | None) -> dict[str, TaskRecord]:
    records: dict[str, TaskRecord] = {}
    for e in episodes:
        record = records.setdefault(e.task_id, TaskRecord(e.task_id, 0, 0))
        if e.status != "error":
            record.trials += 1
            record.passed += e.passed
    for e in parent or []:
        mine = records.get(e.task_id)
        if mine is None or e.status == "error":
            continue
        mine.parent_trials = (mine.parent_trials or 0) + 1
        mine.parent_passed = (mine.parent_passed or 0) + e.passed
    return records


def attention_order(records: dict[str, TaskRecord]) -> list[TaskRecord]:
    """Flaky first (most passing first: closest to solved), then regressed, then stable
    failures; tasks that always pass are left out."""
    def rank(r: TaskRecord) -> tuple[int, float, str]:
        group = 0 if r.flaky else 1 if r.regressed else 2
        return group, -(r.passed / r.trials if r.trials else 0.0), r.task_id
    return sorted((r for r in records.values() if r.flaky or r.failing), key=rank)


def group_name(record: TaskRecord) -> str:
    return ("flaky (some trials pass)" if record.flaky else
            "regressed against the parent (passed there, fails every trial here)"
            if record.regressed else "stable failures (no trial passes)")

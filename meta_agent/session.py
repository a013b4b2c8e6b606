"""Tools that act for the meta-agent's session: tests, smoke runs, notes and the submission.

Each returns the text the model reads, or raises `ToolError` whose message is the result.
They are confined like the file tools: tests are written inside the candidate, run in the
sandbox; smoke runs take TRAIN task ids only (an unknown or non-train id gets the same
answer, so the tool is no oracle for which ids exist); the note is appended, one paragraph.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from harness.config import HarnessConfig
from harness.optimize.evaluate import evaluate
from harness.optimize.proposal import Proposal
from harness.optimize.unit_tests import run_unit_tests
from harness.runner.results import RunResult
from meta_agent.tools import FileTools, ToolError

MAX_SMOKE_TASKS = 3
MAX_NOTE_CHARS = 1_000


@dataclass
class Session:
    """One meta-agent session: where it writes, what it may run, what it submitted."""

    config: HarnessConfig
    benchmark: str
    workspace: Path
    candidate: Path
    out: Path  # experiments/NNNN/meta
    files: FileTools
    train_ids: set[str]
    hidden: list[Path]
    start_digest: str
    proposal: Proposal | None = None
    smoke: RunResult | None = None
    smoke_dir: Path | None = None
    smoke_runs: int = 0
    smoke_tokens: int = 0
    notes_written: list[str] = field(default_factory=list)

    async def write_test(self, name: str, code: str) -> str:
        safe = re.sub(r"[^A-Za-z0-9_]", "_", name.removeprefix("test_"))[:60] or "change"
        return self.files.write_file(f"candidate/tests/test_{safe}.py", code)

    async def run_tests(self) -> str:
        report = await run_unit_tests(self.candidate, hidden=self.hidden)
        if report.problem:
            return f"tests did not finish: {report.problem}"
        if not report.ran:
            return "no tests found (write one with write_test)"
        lines = [f"{report.ran - len(report.failed)} of {report.ran} passed"]
        lines += [f"FAILED {n}: {e}" for n, e in zip(report.failed, report.errors, strict=True)]
        return "\n".join(lines)

    async def smoke_run(self, task_ids: list[str]) -> str:
        ids = list(dict.fromkeys(str(t) for t in task_ids))[:MAX_SMOKE_TASKS + 1]
        if not ids or len(ids) > MAX_SMOKE_TASKS:
            raise ToolError(f"give 1 to {MAX_SMOKE_TASKS} train task ids")
        refused = [t for t in ids if t not in self.train_ids]
        if refused:
            raise ToolError(f"unknown or not a train task: {refused[0][:80]!r}; smoke runs "
                            "take train task ids (see the failures tool)")
        self.smoke_runs += 1
        into = self.out / f"smoke-{self.smoke_runs}"
        result = await evaluate(self.config, folder=self.candidate, benchmark=self.benchmark,
                                split="train", limit=None, trials=1, into=into,
                                workspace=self.workspace, task_ids=ids)
        self.smoke, self.smoke_dir = result, into / result.run_id
        self.smoke_tokens += sum(e.input_tokens + e.output_tokens for e in result.episodes)
        return "\n".join(_episode_line(e) for e in result.episodes) + \
            "\n(read one with smoke_trace(task_id))"

    async def smoke_trace(self, task_id: str, offset: int = 0) -> str:
        from traces.render import render_episode, render_page
        from traces.store import TraceStore

        if self.smoke is None or self.smoke_dir is None:
            raise ToolError("no smoke run yet: call smoke_run first")
        episode = next((e for e in self.smoke.episodes if e.task_id == task_id), None)
        if episode is None:
            raise ToolError(f"the last smoke run has no task {task_id[:80]!r}")
        with TraceStore(self.smoke_dir / "traces.sqlite") as store:
            lines = render_episode(store, episode.episode_id)
        return render_page(lines, offset=int(offset), limit=150)

    async def append_note(self, text: str) -> str:
        note = " ".join(str(text).split())[:MAX_NOTE_CHARS]
        if not note:
            raise ToolError("the note is empty")
        self.notes_written.append(note)
        return "noted (it is added to notes.md when this experiment is recorded)"

    async def submit(self, description: str, hypothesis: str, mechanism: str,
                     component: str = "other", predicted_fixes: list[str] | None = None,
                     risk_tasks: list[str] | None = None) -> str:
        from harness.runner.staging import candidate_digest

        if candidate_digest(self.candidate) == self.start_digest:
            raise ToolError("the candidate is unchanged: make one edit or move first, then "
                            "submit")
        try:
            self.proposal = Proposal(
                description=description, hypothesis=hypothesis, mechanism=mechanism,
                component=component,  # type: ignore[arg-type]
                predicted_fixes=[str(t) for t in predicted_fixes or []],
                risk_tasks=[str(t) for t in risk_tasks or []])
        except ValidationError as error:
            first = error.errors()[0]
            raise ToolError(f"submit: {'.'.join(map(str, first['loc']))}: {first['msg']}") \
                from None
        return "submitted"


def _episode_line(e: Any) -> str:
    first = (e.error or "").strip().splitlines()
    error = f" · error: {first[-1][:200]}" if first else ""
    return (f"{e.task_id}: {e.status} score {e.score:g} · {e.model_calls} model calls · "
            f"{e.detail[:200]}{error}")

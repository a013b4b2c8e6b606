"""A workspace view built by hand, laid out as `harness.optimize.view` lays it out.

Each train run is real: its spans are written by the real tracing setup (an agent span per
episode, a traced chat whose reply is the episode's answer, a traced tool that may fail), its
`results.json` is a `RunResult`, and its transcripts are rendered by the loop's own copier.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.models.types import ChatResult, Usage
from harness.optimize.view import _copy_train_run
from harness.runner.results import EpisodeResult, RunResult, aggregate
from traces import setup_tracing


class FixedReply:
    """Test data: a model client that answers one fixed text."""

    model = "fixed-model"
    provider = "test"

    def __init__(self, text: str) -> None:
        self.text = text

    async def chat(self, messages: Any, tools: Any = None, **params: Any) -> ChatResult:
        return ChatResult(text=self.text, usage=Usage(input_tokens=12, output_tokens=3),
                          model=self.model, provider=self.provider)

    async def aclose(self) -> None:
        return None


@dataclass
class Ep:
    """One episode to plant: its outcome and what its trace shows."""

    task: str
    trial: int = 0
    passed: bool = False
    answer: str = "wrong"
    status: str = "scored"
    detail: str = ""
    error: str | None = None
    error_kind: str | None = None
    tool_error: str | None = None
    category: str = "arith"


async def add_run(view: Path, scratch: Path, number: int, episodes: list[Ep], *,
                  parent: str = "exp-0000", status: str = "keep",
                  code: dict[str, str] | None = None) -> None:
    """Experiment `number` in the view: summary, candidate code and its train run."""
    folder = view / "experiments" / f"{number:04d}"
    folder.mkdir(parents=True)
    summary = {"experiment": number, "status": status, "parent": parent if number else "",
               "description": f"change {number}", "held_out": 0.5}
    (folder / "summary.json").write_text(json.dumps(summary))
    candidate = view / "candidates" / f"exp-{number:04d}"
    candidate.mkdir(parents=True)
    for name, text in (code or {"agent.py": f"MODE = {number}\n"}).items():
        (candidate / name).parent.mkdir(parents=True, exist_ok=True)
        (candidate / name).write_text(text)
    run_dir = scratch / f"run-{number}"
    results = await _traced_episodes(run_dir, episodes)
    run = RunResult(run_id=f"r{number}", agent="echo", agent_sha256="0" * 64, benchmark="b",
                    split="train", model="fixed-model",
                    trials=max(e.trial for e in episodes) + 1,
                    started_at=datetime.now(UTC), episodes=results,
                    aggregate=aggregate(results))
    _copy_train_run(run, run_dir, folder / "train")
    (view / "program.md").write_text("Improve the agent.\n")


async def _traced_episodes(run_dir: Path, episodes: list[Ep]) -> list[EpisodeResult]:
    tracing = setup_tracing(run_dir / "traces.sqlite", synchronous=True)
    results = []
    try:
        for ep in episodes:
            episode_id = uuid.uuid4().hex
            with tracing.agent_span("echo", task_id=ep.task, episode_id=episode_id):
                client = tracing.wrap_client(FixedReply(ep.answer))
                await client.chat([{"role": "user", "content": f"solve {ep.task}"}])
                if ep.tool_error:
                    _failing_tool(tracing, ep.tool_error)
            results.append(EpisodeResult(
                task_id=ep.task, category=ep.category, trial=ep.trial, episode_id=episode_id,
                status=ep.status, score=1.0 if ep.passed else 0.0, passed=ep.passed,  # type: ignore[arg-type]
                detail=ep.detail or (f"{ep.answer!r} is correct" if ep.passed
                                     else f"{ep.answer!r} is wrong"),
                error=ep.error, error_kind=ep.error_kind, input_tokens=12, output_tokens=3,
                model_calls=1))
    finally:
        tracing.shutdown()
    return results


def _failing_tool(tracing: Any, message: str) -> None:
    def run_python(code: str) -> str:
        raise ValueError(message)

    with contextlib.suppress(ValueError):  # the span records the error; the agent goes on
        tracing.tool("run_python", run_python)(code="1/0")

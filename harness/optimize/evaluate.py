"""Evaluations the loop runs: a candidate on one split, through the same runner as `eval`.

The whole workspace is hidden from candidate code (earlier experiments' held-out results live
there), on top of what `harness eval` hides. Evaluation code and data are fingerprinted when
the run starts and checked before every evaluation: a change means the scores of the run are
no longer comparable, which is fatal.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

from benchmarks.registry import protected_paths
from harness.config import HarnessConfig
from harness.errors import HarnessError
from harness.runner.results import EpisodeResult, RunResult
from harness.runner.run import EvalRequest, run_eval
from harness.runner.scheduler import Listener

PerTask = dict[str, list[float]]
_CODE_SUFFIXES = (".py", ".json", ".jsonl", ".gz", ".csv", ".txt", ".yaml", ".yml")


async def evaluate(config: HarnessConfig, *, folder: Path, benchmark: str, split: str,
                   limit: int | None, trials: int, into: Path, workspace: Path,
                   task_ids: list[str] | None = None,
                   listener: Listener | None = None) -> RunResult:
    """Run `folder` on `split` (first `limit` tasks, or `task_ids`), results under `into`."""
    await asyncio.to_thread(into.mkdir, parents=True, exist_ok=True)
    request = EvalRequest(agent_dir=folder, benchmark=benchmark, split=split, limit=limit,
                          trials=trials, out_dir=into, task_ids=task_ids, hidden=[workspace])
    return await run_eval(config, request, listener)


def run_dir_of(into: Path, result: RunResult) -> Path:
    return into / result.run_id


def per_task(episodes: Iterable[EpisodeResult]) -> PerTask:
    """task id -> scores of its counted trials (infrastructure errors are not scores)."""
    table: PerTask = {}
    for episode in sorted(episodes, key=lambda e: (e.task_id, e.trial)):
        if episode.status != "error":
            table.setdefault(episode.task_id, []).append(episode.score)
    return table


def mean_of(table: PerTask) -> float | None:
    """Mean over tasks of the per-task trial means."""
    means = [sum(scores) / len(scores) for scores in table.values() if scores]
    return sum(means) / len(means) if means else None


def tokens_of(result: RunResult) -> int:
    return sum(e.input_tokens + e.output_tokens for e in result.episodes)


def check_usable(result: RunResult, split: str) -> None:
    """An evaluation the infrastructure spoiled is no verdict on the candidate: stop the run
    (nothing is recorded, so `--resume` redoes the experiment once the server is back)."""
    errors = sum(e.status == "error" for e in result.episodes)
    if result.episodes and errors * 10 > len(result.episodes):
        raise HarnessError(f"{errors} of {len(result.episodes)} {split} episodes ended in "
                           "infrastructure errors (model server or sandbox); the run stops "
                           "here and `--resume` continues it")


def fingerprint_evaluation(benchmark: str) -> str:
    """SHA-256 over the benchmark's code and data (names, sizes and contents, streamed)."""
    digest = hashlib.sha256()
    for root in protected_paths([benchmark]):
        for path in _files_under(root):
            digest.update(str(path).encode() + b"\0")
            with open(path, "rb") as handle:
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
    return digest.hexdigest()


def _files_under(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    found: list[Path] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        found += [Path(folder) / f for f in sorted(files) if f.endswith(_CODE_SUFFIXES)]
    return found

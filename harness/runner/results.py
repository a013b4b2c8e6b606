"""Versioned result models of an evaluation run, and their aggregate with a 95 % CI.

Statuses of an episode:
- `scored`: the agent answered and the benchmark scored the answer (possibly 0);
- `failed`: the agent's own failure (crash, wall time, memory, output, token budget) —
  counted as a score of 0, with the reason;
- `error`: the infrastructure failed (model server down, 5xx after retries, sandbox could not
  start) — never counted as a wrong answer, reported separately.
"""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

SCHEMA_VERSION = 1
EpisodeStatus = Literal["scored", "failed", "error"]


class EpisodeResult(BaseModel):
    schema_version: int = SCHEMA_VERSION
    task_id: str
    category: str = ""
    trial: int = 0
    episode_id: str
    status: EpisodeStatus
    score: float = 0.0
    passed: bool = False
    detail: str = ""
    error_kind: str | None = None
    error: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    model_calls: int = 0
    tool_calls: int = 0
    cost_usd: float = 0.0
    latency_s: float = 0.0
    attempts: int = 1
    isolated: bool = True


class Aggregate(BaseModel):
    schema_version: int = SCHEMA_VERSION
    episodes: int
    counted: int  # scored + failed
    errors: int
    mean_score: float
    ci_low: float
    ci_high: float
    pass_rate: float
    input_tokens: int
    output_tokens: int
    cost_usd: float
    mean_latency_s: float


class RunResult(BaseModel):
    schema_version: int = SCHEMA_VERSION
    run_id: str
    agent: str
    agent_sha256: str
    benchmark: str
    split: str
    model: str
    trials: int
    started_at: datetime
    finished_at: datetime | None = None
    isolation: str = ""
    forked_workers: bool = False  # workers forked from a preloaded sandboxed server
    episodes: list[EpisodeResult] = Field(default_factory=list)
    aggregate: Aggregate | None = None

    def save(self, path: Path) -> None:
        """Write atomically: a reader never sees half a file."""
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(self.model_dump_json(indent=2))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> RunResult:
        return cls.model_validate_json(path.read_text())


def mean_ci(values: list[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and a confidence interval: Wilson for 0/1 scores, Student t otherwise."""
    from scipy import stats  # imported here: it costs a second, and only this needs it

    n = len(values)
    if n == 0:
        return 0.0, 0.0, 0.0
    mean = sum(values) / n
    if all(v in (0.0, 1.0) for v in values):
        return (mean, *_wilson(mean, n, confidence))
    if n == 1:
        return mean, 0.0, 1.0
    half = float(stats.sem(values)) * float(stats.t.ppf((1 + confidence) / 2, n - 1))
    return mean, max(0.0, mean - half), min(1.0, mean + half)


def _wilson(p: float, n: int, confidence: float) -> tuple[float, float]:
    from scipy import stats

    z = float(stats.norm.ppf((1 + confidence) / 2))
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def per_task_scores(episodes: list[EpisodeResult]) -> list[float]:
    """One score per task: the mean over its trials.

    Trials of one task are not independent samples of the benchmark; the CI is taken over
    tasks, so repeating trials narrows it only as far as it really reduces the noise.
    """
    by_task: dict[str, list[float]] = {}
    for episode in episodes:
        by_task.setdefault(episode.task_id, []).append(episode.score)
    return [sum(scores) / len(scores) for scores in by_task.values()]


def aggregate(episodes: list[EpisodeResult]) -> Aggregate:
    counted = [e for e in episodes if e.status != "error"]
    mean, low, high = mean_ci(per_task_scores(counted))
    return Aggregate(
        episodes=len(episodes), counted=len(counted),
        errors=len(episodes) - len(counted), mean_score=mean, ci_low=low, ci_high=high,
        pass_rate=sum(e.passed for e in counted) / len(counted) if counted else 0.0,
        input_tokens=sum(e.input_tokens for e in episodes),
        output_tokens=sum(e.output_tokens for e in episodes),
        cost_usd=sum(e.cost_usd for e in episodes),
        mean_latency_s=sum(e.latency_s for e in counted) / len(counted) if counted else 0.0,
    )

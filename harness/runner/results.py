"""Versioned result models of an evaluation run, and their aggregate with a 95 % CI.

Statuses of an episode:
- `scored`: the agent answered and the benchmark scored the answer (possibly 0);
- `failed`: the agent's own failure (crash, wall time, memory, output, token budget) —
  counted as a score of 0, with the reason;
- `error`: the infrastructure failed (model server down, 5xx after retries, sandbox could not
  start) — never counted as a wrong answer, reported separately.

A run whose errors exceed `max_error_share` of its episodes publishes no mean: the episodes
left out could be exactly the ones the candidate would have failed, so the aggregate's mean,
CI and pass rate are null and `withheld` says why.

Schema history: 2 added `error_share`, `max_error_share` and `withheld` to the aggregate
(mean, CI and pass rate may be null); version 1 files load unchanged.
"""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, computed_field

SCHEMA_VERSION = 2
DEFAULT_MAX_ERROR_SHARE = 0.1
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
    error_share: float = 0.0  # errors / episodes
    max_error_share: float = DEFAULT_MAX_ERROR_SHARE
    withheld: str | None = None  # why no mean is published; None when it is
    mean_score: float | None  # None: withheld
    ci_low: float | None
    ci_high: float | None
    pass_rate: float | None
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

    @computed_field  # type: ignore[prop-decorator]
    @property
    def error_count(self) -> int:
        """Episodes that ended as `error` (infrastructure), so far."""
        return sum(e.status == "error" for e in self.episodes)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def error_share(self) -> float:
        return self.error_count / len(self.episodes) if self.episodes else 0.0

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


def aggregate(episodes: list[EpisodeResult],
              max_error_share: float = DEFAULT_MAX_ERROR_SHARE) -> Aggregate:
    counted = [e for e in episodes if e.status != "error"]
    errors = len(episodes) - len(counted)
    share = errors / len(episodes) if episodes else 0.0
    withheld = withheld_reason(errors, len(episodes), max_error_share) \
        if share > max_error_share else None
    mean: float | None = None
    low: float | None = None
    high: float | None = None
    pass_rate: float | None = None
    if withheld is None:
        mean, low, high = mean_ci(per_task_scores(counted))
        pass_rate = sum(e.passed for e in counted) / len(counted) if counted else 0.0
    return Aggregate(
        episodes=len(episodes), counted=len(counted), errors=errors, error_share=share,
        max_error_share=max_error_share, withheld=withheld, mean_score=mean, ci_low=low,
        ci_high=high, pass_rate=pass_rate,
        input_tokens=sum(e.input_tokens for e in episodes),
        output_tokens=sum(e.output_tokens for e in episodes),
        cost_usd=sum(e.cost_usd for e in episodes),
        mean_latency_s=sum(e.latency_s for e in counted) / len(counted) if counted else 0.0,
    )


def withheld_reason(errors: int, episodes: int, max_error_share: float) -> str:
    return (f"{errors} of {episodes} episodes ({errors / episodes:.0%}) ended as infrastructure "
            f"errors, more than the {max_error_share:.0%} allowed (max_error_share): the "
            f"episodes left out could be the ones the candidate would fail, so no mean is "
            f"published")

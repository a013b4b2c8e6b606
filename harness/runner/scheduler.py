"""Schedule a run's episodes: bounded concurrency, retries after infrastructure failures.

Rules:
- Every (task, trial) ends as exactly one `EpisodeResult`; no single episode can raise out
  of the run. A bug of ours in one episode is recorded as status `error`, kind `harness`,
  with its traceback.
- An episode the infrastructure failed is retried (up to `error_retries`) once the model
  server answers again; its tokens from every attempt are counted.
- A fatal model error (bad key, no permission, unknown model) stops the whole run: every
  further episode would fail the same way. Episodes already done are kept.
"""

from __future__ import annotations

import asyncio
import time
import traceback
import uuid
from collections.abc import Callable
from pathlib import Path

from benchmarks.answers import DEFAULT_SCORE_TIMEOUT_S, oversize
from benchmarks.base import Benchmark, Task
from harness.config import HarnessConfig
from harness.errors import HarnessError
from harness.models.types import ModelClient, Usage
from harness.runner.episode import EpisodeOutcome, EpisodeSetup, reachable, run_episode
from harness.runner.results import EpisodeResult, RunResult
from task_agents.lib.context import TaskView

Listener = Callable[[EpisodeResult], None]


class RunAborted(HarnessError):
    """The run cannot go on (the model rejects the harness's own settings)."""


def default_concurrency(config: HarnessConfig) -> int:
    if config.concurrency:
        return config.concurrency
    provider = config.spec.provider
    # llama.cpp's server decodes one request at a time; 2 overlaps worker start-up with it.
    return {"embedded": 2, "vllm": config.max_num_seqs, "anthropic": 4}.get(provider, 8)


class EpisodeScheduler:
    def __init__(self, config: HarnessConfig, bench: Benchmark, setup: EpisodeSetup,
                 result: RunResult, path: Path, listener: Listener | None) -> None:
        self.config, self.bench, self.setup = config, bench, setup
        self.result, self.path, self.listener = result, path, listener
        self.limit = asyncio.Semaphore(default_concurrency(config))

    async def run_all(self, tasks: list[Task], trials: int) -> None:
        # A TaskGroup cancels every episode (killing its worker) when one aborts the run.
        try:
            async with asyncio.TaskGroup() as group:
                for task in tasks:
                    for trial in range(trials):
                        group.create_task(self.one(task, trial))
        except* RunAborted as aborted:
            raise aborted.exceptions[0] from None

    async def one(self, task: Task, trial: int) -> None:
        async with self.limit:
            try:
                episode = await self.attempts(task, trial)
            except (RunAborted, asyncio.CancelledError):
                raise
            except Exception:
                episode = EpisodeResult(
                    task_id=task.task_id, category=task.category, trial=trial,
                    episode_id=uuid.uuid4().hex, status="error", error_kind="harness",
                    error=traceback.format_exc()[-8000:])
        self.result.episodes.append(episode)
        self.result.save(self.path)
        if self.listener:
            self.listener(episode)

    async def attempts(self, task: Task, trial: int) -> EpisodeResult:
        view = TaskView.model_validate(task.model_dump())
        attempts = self.config.error_retries + 1
        spent, calls = Usage(), [0, 0]
        for attempt in range(1, attempts + 1):
            episode_id = uuid.uuid4().hex
            started = time.monotonic()
            environment = self.bench.environment(task)  # fresh state for every attempt
            try:
                outcome = await run_episode(
                    self.setup, view, episode_id=episode_id, environment=environment,
                    attributes={"harness.trial": trial, "harness.attempt": attempt,
                                "harness.benchmark": self.bench.id})
            finally:
                if environment is not None:
                    environment.close()
            latency = time.monotonic() - started
            if outcome.host is not None:
                spent = spent + outcome.host.usage
                calls = [calls[0] + outcome.host.model_calls, calls[1] + outcome.host.tool_calls]
                if outcome.host.fatal_error is not None:
                    raise RunAborted(f"the model rejects the harness's settings, so the run "
                                     f"stops: {outcome.host.fatal_error}")
            if outcome.infra_error is None or attempt == attempts:
                episode = await self.finish(task, trial, episode_id, outcome, latency, attempt)
                return self.charge(episode, spent, calls)
            await wait_until_reachable(self.setup.model, self.config.error_wait_s)
        raise AssertionError("unreachable")

    def charge(self, episode: EpisodeResult, spent: Usage, calls: list[int]) -> EpisodeResult:
        """Tokens, calls and cost over every attempt (a retried attempt was paid for too)."""
        episode.input_tokens, episode.output_tokens = spent.input_tokens, spent.output_tokens
        episode.reasoning_tokens = spent.reasoning_tokens
        episode.model_calls, episode.tool_calls = calls
        episode.cost_usd = (spent.input_tokens * self.config.price_input_per_mtok
                            + spent.output_tokens * self.config.price_output_per_mtok) / 1e6
        return episode

    async def finish(self, task: Task, trial: int, episode_id: str, outcome: EpisodeOutcome,
                     latency: float, attempt: int) -> EpisodeResult:
        episode = EpisodeResult(
            task_id=task.task_id, category=task.category, trial=trial, episode_id=episode_id,
            status="error", latency_s=round(latency, 3), attempts=attempt,
            isolated=outcome.sandbox.isolated if outcome.sandbox else False)
        if outcome.infra_error:
            episode.error_kind, episode.error = outcome.error_kind, outcome.infra_error
        elif not outcome.answered:
            episode.status, episode.error_kind = "failed", outcome.error_kind
            episode.error, episode.detail = outcome.agent_error, f"no answer: {outcome.error_kind}"
        else:
            await self.score(task, outcome, episode)
        return episode

    async def score(self, task: Task, outcome: EpisodeOutcome, episode: EpisodeResult) -> None:
        """The answer is hostile input: one too large to score is the agent's failure, never a
        scored 0; the benchmark does its work off the loop (see benchmarks.base), bounded here
        in time, and an overrun is the agent's failure too, not a crash of the run."""
        too_large = oversize(outcome.answer)
        if too_large:
            episode.status, episode.error_kind = "failed", "answer_too_large"
            episode.error = episode.detail = too_large
            return
        timeout_s = float(getattr(self.bench, "score_timeout_s", DEFAULT_SCORE_TIMEOUT_S))
        try:
            score = await asyncio.wait_for(self.bench.score(task, outcome.answer), timeout_s)
        except TimeoutError as error:  # asyncio's, or the scorer's own child (ScorerTimeout)
            episode.status, episode.error_kind = "failed", "scorer_timeout"
            episode.error = episode.detail = f"scorer timeout: {error or f'over {timeout_s:g} s'}"
            return
        except Exception as error:  # a scorer bug must not sink the run; it is visible
            episode.status, episode.error_kind = "failed", "scorer"
            episode.error = f"scorer raised {type(error).__name__}: {error}"
            return
        episode.status, episode.score, episode.passed = "scored", score.value, score.passed
        episode.detail = score.detail


async def wait_until_reachable(model: ModelClient, timeout_s: float) -> bool:
    """Poll the model server until it answers (backing off), up to `timeout_s`."""
    if not hasattr(model, "alive"):  # nothing to ask (Anthropic): just back off
        await asyncio.sleep(min(5.0, timeout_s))
        return True
    deadline = time.monotonic() + timeout_s
    delay = 0.5
    while time.monotonic() < deadline:
        if await reachable(model, timeout_s=max(0.1, min(5.0, deadline - time.monotonic()))):
            return True
        await asyncio.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 2, 5.0)
    return False

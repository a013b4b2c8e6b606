"""`harness eval`: run a candidate agent over a benchmark split, sandboxed and traced.

Episodes run concurrently (bounded); each is retried when the infrastructure failed (the
model server went away), after waiting for it to come back, and is reported as `error` if it
never does — never as a wrong answer. Results are written to `RUN_DIR/results.json` after
every episode (atomically), traces to `RUN_DIR/traces.sqlite` (and OTLP when configured).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.base import Benchmark, Task
from benchmarks.registry import get_benchmark, protected_paths
from harness.config import HarnessConfig
from harness.errors import ConfigError
from harness.models.types import ModelClient
from harness.runner.episode import EpisodeOutcome, EpisodeSetup, run_episode
from harness.runner.policy import worker_policy
from harness.runner.results import EpisodeResult, RunResult, aggregate
from harness.runner.tools import HarnessTools
from harness.sandbox import detect_isolation
from harness.servers import running_model
from task_agents.lib.context import TaskView
from traces.setup import setup_tracing

Listener = Callable[[EpisodeResult], None]


@dataclass
class EvalRequest:
    agent_dir: Path
    benchmark: str
    split: str = "train"
    limit: int | None = None
    trials: int = 1
    out_dir: Path = Path("runs")
    task_ids: list[str] | None = None


def agent_digest(agent_dir: Path) -> str:
    """SHA-256 over the candidate's files (names and contents), for audit."""
    digest = hashlib.sha256()
    for path in sorted(p for p in agent_dir.rglob("*") if p.is_file()):
        if "__pycache__" in path.parts:
            continue
        digest.update(str(path.relative_to(agent_dir)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def select_tasks(bench: Benchmark, request: EvalRequest) -> list[Task]:
    tasks = bench.tasks(request.split)  # type: ignore[arg-type]
    if request.task_ids:
        wanted = set(request.task_ids)
        tasks = [t for t in tasks if t.task_id in wanted]
    return tasks[: request.limit] if request.limit else tasks


def default_concurrency(config: HarnessConfig) -> int:
    if config.concurrency:
        return config.concurrency
    provider = config.spec.provider
    # llama.cpp's server decodes one request at a time; 2 overlaps worker start-up with it.
    return {"embedded": 2, "vllm": config.max_num_seqs, "anthropic": 4}.get(provider, 8)


async def run_eval(config: HarnessConfig, request: EvalRequest,
                   listener: Listener | None = None) -> RunResult:
    agent_dir = request.agent_dir.resolve()
    if not (agent_dir / "agent.py").is_file():
        raise ConfigError("agent", f"{agent_dir} has no agent.py")
    bench = get_benchmark(request.benchmark)
    tasks = select_tasks(bench, request)
    isolation = detect_isolation(require=config.require_sandbox)
    run_id = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    run_dir = request.out_dir / run_id
    run_dir.mkdir(parents=True, exist_ok=False)
    result = RunResult(run_id=run_id, agent=str(agent_dir), agent_sha256=agent_digest(agent_dir),
                       benchmark=bench.id, split=request.split, model=config.model,
                       trials=request.trials, started_at=datetime.now(UTC),
                       isolation=isolation.kind)
    tracing = setup_tracing(run_dir / "traces.sqlite",
                            resource_attributes={"harness.run_id": run_id})
    hidden = [*protected_paths([request.benchmark]), request.out_dir.resolve()]
    try:
        async with running_model(config) as model:
            setup = EpisodeSetup(
                agent_dir=agent_dir, model=model, tracing=tracing, tools=HarnessTools(hidden),
                policy=worker_policy(agent_dir, hidden=hidden, wall_time_s=config.episode_time_s),
                token_budget=config.token_budget)
            runner = _Runner(config, bench, setup, result, run_dir / "results.json", listener)
            await runner.run_all(tasks, request.trials)
    finally:
        tracing.shutdown()
    result.finished_at = datetime.now(UTC)
    result.aggregate = aggregate(result.episodes)
    result.save(run_dir / "results.json")
    return result


class _Runner:
    def __init__(self, config: HarnessConfig, bench: Benchmark, setup: EpisodeSetup,
                 result: RunResult, path: Path, listener: Listener | None) -> None:
        self.config, self.bench, self.setup = config, bench, setup
        self.result, self.path, self.listener = result, path, listener
        self.limit = asyncio.Semaphore(default_concurrency(config))

    async def run_all(self, tasks: list[Task], trials: int) -> None:
        await asyncio.gather(*(self.one(task, trial) for task in tasks for trial in range(trials)))

    async def one(self, task: Task, trial: int) -> None:
        async with self.limit:
            episode = await self.attempts(task, trial)
        self.result.episodes.append(episode)
        self.result.save(self.path)
        if self.listener:
            self.listener(episode)

    async def attempts(self, task: Task, trial: int) -> EpisodeResult:
        view = TaskView.model_validate(task.model_dump())
        attempts = self.config.error_retries + 1
        for attempt in range(1, attempts + 1):
            episode_id = uuid.uuid4().hex
            started = time.monotonic()
            outcome = await run_episode(self.setup, view, episode_id=episode_id, attributes={
                "harness.trial": trial, "harness.attempt": attempt,
                "harness.benchmark": self.bench.id})
            latency = time.monotonic() - started
            if outcome.infra_error is None or attempt == attempts:
                return await self.finish(task, trial, episode_id, outcome, latency, attempt)
            await wait_until_reachable(self.setup.model, self.config.error_wait_s)
        raise AssertionError("unreachable")

    async def finish(self, task: Task, trial: int, episode_id: str, outcome: EpisodeOutcome,
                     latency: float, attempt: int) -> EpisodeResult:
        host = outcome.host
        usage = host.usage if host else None
        episode = EpisodeResult(
            task_id=task.task_id, category=task.category, trial=trial, episode_id=episode_id,
            status="error", latency_s=round(latency, 3), attempts=attempt,
            isolated=outcome.sandbox.isolated if outcome.sandbox else False,
            input_tokens=usage.input_tokens if usage else 0,
            output_tokens=usage.output_tokens if usage else 0,
            reasoning_tokens=usage.reasoning_tokens if usage else 0,
            model_calls=host.model_calls if host else 0,
            tool_calls=host.tool_calls if host else 0)
        episode.cost_usd = (episode.input_tokens * self.config.price_input_per_mtok
                            + episode.output_tokens * self.config.price_output_per_mtok) / 1e6
        if outcome.infra_error:
            episode.error_kind, episode.error = outcome.error_kind, outcome.infra_error
        elif not outcome.answered:
            episode.status, episode.error_kind = "failed", outcome.error_kind
            episode.error, episode.detail = outcome.agent_error, f"no answer: {outcome.error_kind}"
        else:
            await self.score(task, outcome, episode)
        return episode

    async def score(self, task: Task, outcome: EpisodeOutcome, episode: EpisodeResult) -> None:
        try:
            score = await self.bench.score(task, outcome.answer)
        except Exception as error:  # a scorer bug must not sink the run; it is visible
            episode.status, episode.error_kind = "failed", "scorer"
            episode.error = f"scorer raised {type(error).__name__}: {error}"
            return
        episode.status, episode.score, episode.passed = "scored", score.value, score.passed
        episode.detail = score.detail


async def wait_until_reachable(model: ModelClient, timeout_s: float) -> bool:
    """Poll the model server (its model list) until it answers, up to `timeout_s`."""
    list_models = getattr(model, "list_models", None)
    deadline = time.monotonic() + timeout_s
    delay = 0.5
    while time.monotonic() < deadline:
        if list_models is None:
            await asyncio.sleep(min(delay, deadline - time.monotonic()))
            return True
        try:
            await list_models()
            return True
        except Exception:
            await asyncio.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 5.0)
    return False

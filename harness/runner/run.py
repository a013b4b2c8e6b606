"""`harness eval`: run a candidate agent over a benchmark split, sandboxed and traced.

Episodes run concurrently (bounded); each is retried when the infrastructure failed (the
model server went away), after waiting for it to come back, and is reported as `error` if it
never does — never as a wrong answer. Results are written to `RUN_DIR/results.json` after
every episode (atomically), traces to `RUN_DIR/traces.sqlite` (and OTLP when configured).
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.base import Benchmark, Task
from benchmarks.registry import get_benchmark, protected_paths
from harness.config import HarnessConfig
from harness.errors import ConfigError
from harness.runner.episode import EpisodeSetup
from harness.runner.policy import worker_policy
from harness.runner.results import RunResult, aggregate
from harness.runner.scheduler import EpisodeScheduler, Listener
from harness.runner.staging import (
    CandidateLimits,
    candidate_digest,
    check_candidate_tree,
    stage_candidate,
)
from harness.runner.tools import HarnessTools
from harness.runner.workers import WorkerPool
from harness.sandbox import detect_isolation
from harness.servers import running_model
from traces.setup import setup_tracing


@dataclass
class EvalRequest:
    agent_dir: Path
    benchmark: str
    split: str = "train"
    limit: int | None = None
    trials: int = 1
    out_dir: Path = Path("runs")
    task_ids: list[str] | None = None
    hidden: list[Path] = field(default_factory=list)  # more folders candidates must not see


def agent_digest(agent_dir: Path, limits: CandidateLimits | None = None) -> str:
    """SHA-256 over the candidate's files (names, sizes and contents), streamed, for audit."""
    return candidate_digest(agent_dir, limits)


def select_tasks(bench: Benchmark, request: EvalRequest) -> list[Task]:
    tasks = bench.tasks(request.split)  # type: ignore[arg-type]
    if request.task_ids:
        wanted = set(request.task_ids)
        tasks = [t for t in tasks if t.task_id in wanted]
    return tasks[: request.limit] if request.limit else tasks


async def run_eval(config: HarnessConfig, request: EvalRequest,
                   listener: Listener | None = None) -> RunResult:
    agent_dir = request.agent_dir.resolve()
    if not (agent_dir / "agent.py").is_file():
        raise ConfigError("agent", f"{agent_dir} has no agent.py")
    limits = CandidateLimits.of(config.candidate_max_mb, config.candidate_max_files)
    check_candidate_tree(agent_dir, limits)  # refused before a run folder exists
    bench = get_benchmark(request.benchmark)
    tasks = select_tasks(bench, request)
    isolation = detect_isolation(require=config.require_sandbox)
    run_id = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    run_dir = request.out_dir / run_id
    run_dir.mkdir(parents=True, exist_ok=False)
    result = RunResult(run_id=run_id, agent=str(agent_dir), agent_sha256="",
                       benchmark=bench.id, split=request.split, model=config.model,
                       trials=request.trials, started_at=datetime.now(UTC),
                       isolation=isolation.kind)
    tracing = setup_tracing(run_dir / "traces.sqlite",
                            resource_attributes={"harness.run_id": run_id})
    hidden = [*protected_paths([request.benchmark]), request.out_dir.resolve(),
              *(path.resolve() for path in request.hidden)]
    staged: Path | None = None
    try:
        staged = stage_candidate(agent_dir, limits)  # checked again as it is copied
        result.agent_sha256 = agent_digest(staged, limits)  # exactly what the workers run
        policy = worker_policy(staged, hidden=hidden, wall_time_s=config.episode_time_s,
                               memory_mb=config.episode_memory_mb,
                               folder_mb=config.episode_folder_mb)
        async with (running_model(config) as model,
                    WorkerPool(policy, isolation, fork=config.fork_server) as workers):
            result.forked_workers = workers.fork
            setup = EpisodeSetup(
                agent_dir=staged, model=model, tracing=tracing, tools=HarnessTools(hidden),
                workers=workers, token_budget=config.token_budget)
            scheduler = EpisodeScheduler(config, bench, setup, result, run_dir / "results.json",
                                         listener)
            await scheduler.run_all(tasks, request.trials)
    finally:
        tracing.shutdown()
        if staged is not None:
            shutil.rmtree(staged.parent, ignore_errors=True)
        result.finished_at = datetime.now(UTC)
        result.aggregate = aggregate(result.episodes, max_error_share=config.max_error_share)
        result.save(run_dir / "results.json")  # also when aborted: nothing done is lost
    return result

"""`harness eval`: run a candidate agent over a benchmark split, sandboxed and traced.

Episodes run concurrently (bounded); each is retried when the infrastructure failed (the
model server went away), after waiting for it to come back, and is reported as `error` if it
never does — never as a wrong answer. Results are written to `RUN_DIR/results.json` after
every episode (atomically), traces to `RUN_DIR/traces.sqlite` (and OTLP when configured).
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import uuid
from dataclasses import dataclass
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
    staged = stage_candidate(agent_dir)
    try:
        policy = worker_policy(staged, hidden=hidden, wall_time_s=config.episode_time_s)
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
        shutil.rmtree(staged.parent, ignore_errors=True)
        result.finished_at = datetime.now(UTC)
        result.aggregate = aggregate(result.episodes)
        result.save(run_dir / "results.json")  # also when aborted: nothing done is lost
    return result


def stage_candidate(agent_dir: Path) -> Path:
    """A private copy of the candidate for the workers.

    Workers run as an unprivileged uid, which must be able to read the code; copying means the
    user's own folder is never re-permissioned, and the run is immune to edits made during it.
    """
    staged = Path(tempfile.mkdtemp(prefix="harness-candidate-")) / agent_dir.name
    shutil.copytree(agent_dir, staged, ignore=shutil.ignore_patterns("__pycache__", ".git"))
    return staged

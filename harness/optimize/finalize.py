"""`harness finalize`: score the baseline and the best candidate once on the SEALED split.

This is the only code path of the loop that evaluates the sealed split. The workspace is
locked before the sealed run starts (so an interrupted finalize can complete, but no further
`optimize --resume` can tune against what it saw); `final.json` holds both scores with CIs,
the paired test, and train / held-out / sealed side by side — the last is the one unbiased by
the selection the held-out gate made.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from harness.config import HarnessConfig
from harness.errors import ConfigError
from harness.optimize import memory
from harness.optimize.evaluate import evaluate, mean_of, per_task
from harness.optimize.gate import decide
from harness.optimize.ledger import Experiment
from harness.optimize.versions import tag_of
from harness.optimize.workspace import Workspace, write_atomic
from harness.runner.results import RunResult, mean_ci
from harness.servers import running_model

SCHEMA_VERSION = 1


class Side(BaseModel):
    tag: str
    experiment: int
    description: str
    train: float | None
    held_out: float | None
    sealed: float | None
    sealed_ci: tuple[float, float]
    held_out_rerun: float | None = None  # a fresh held-out run: the kept score's selection bias
    tokens: int


class Final(BaseModel):
    schema_version: int = SCHEMA_VERSION
    finished_at: datetime
    benchmark: str
    model: str
    trials: int
    sealed_tasks: int
    baseline: Side
    best: Side
    comparison: dict[str, Any] = Field(default_factory=dict)  # the gate's paired test


async def finalize(config: HarnessConfig, root: Path, trials: int) -> Final:
    ws = Workspace(root)
    if not ws.info_path.is_file():
        raise ConfigError("WORKSPACE", f"{root} is not a workspace (no workspace.json)")
    if ws.final.is_file():
        raise ConfigError("WORKSPACE", f"{root} is already finalized (see {ws.final})")
    base, best = ws.ledger.get(0), memory.best_experiment(ws)
    if base is None or best is None:
        raise ConfigError("WORKSPACE", f"{root} has no baseline yet; run `harness optimize`")
    info = ws.info()
    if info.finalized_at is None:
        ws.mark_finalized()  # first: no resume may follow a look at the sealed split
    async with running_model(config):
        runs = [await _sealed(config, ws, base, trials)]
        same = best.experiment == base.experiment  # nothing was kept: one candidate to score
        runs.append(runs[0] if same else await _sealed(config, ws, best, trials))
        rerun = await _held_out_again(config, ws, best)
    tables = [per_task(run.episodes) for run in runs]
    comparison = None if same else decide(tables[0], tables[1], alpha=config.alpha)
    final = Final(finished_at=datetime.now(UTC), benchmark=info.benchmark, model=info.model,
                  trials=trials, sealed_tasks=len(tables[0]),
                  baseline=_side(base, runs[0]),
                  best=_side(best, runs[1]).model_copy(update={"held_out_rerun": rerun}),
                  comparison=comparison.model_dump() if comparison else {})
    write_atomic(ws.final, final.model_dump_json(indent=2))
    ws.close()
    return final


async def _sealed(config: HarnessConfig, ws: Workspace, record: Experiment,
                  trials: int) -> RunResult:
    folder = ws.root / "final" / tag_of(record.experiment) / ws.info().agent_name
    if folder.parent.exists():  # an interrupted finalize is completed from its start
        shutil.rmtree(folder.parent)
    ws.versions.export(tag_of(record.experiment), folder)
    return await evaluate(config, folder=folder, benchmark=ws.info().benchmark, split="sealed",
                          limit=None, trials=trials, into=folder.parent / "sealed",
                          workspace=ws.root)


async def _held_out_again(config: HarnessConfig, ws: Workspace,
                          record: Experiment) -> float | None:
    """The best candidate on its own held-out tasks and trials once more: the score it was
    kept with was the maximum of many noisy draws (the winner's curse); a fresh draw is not."""
    stored = ws.ledger.episodes(record.experiment, "held_out")
    if record.experiment == 0 or not stored:
        return None
    trials = max(e.trial for e in stored) + 1
    folder = ws.root / "final" / "rerun" / ws.info().agent_name
    if folder.parent.exists():
        shutil.rmtree(folder.parent)
    ws.versions.export(tag_of(record.experiment), folder)
    run = await evaluate(config, folder=folder, benchmark=ws.info().benchmark,
                         split="held_out", limit=None, trials=trials,
                         into=folder.parent / "held_out", workspace=ws.root,
                         task_ids=sorted({e.task_id for e in stored}))
    return mean_of(per_task(run.episodes))


def _side(record: Experiment, run: RunResult) -> Side:
    table = per_task(run.episodes)
    _, low, high = mean_ci([sum(s) / len(s) for s in table.values() if s])
    return Side(tag=tag_of(record.experiment), experiment=record.experiment,
                description=record.description, train=record.train,
                held_out=record.held_out, sealed=mean_of(table), sealed_ci=(low, high),
                tokens=sum(e.input_tokens + e.output_tokens for e in run.episodes))

"""`harness runs`: the workspaces and eval runs under some folders, newest first.

Status, defined from what is on disk (no process table is consulted, so it works for runs of
other shells and machines):
- a workspace is `finalized` once `harness finalize` marked it; an eval run is `finished`
  once its results.json has `finished_at`;
- otherwise it is `running` when something of it was written in the last RECENT_S seconds
  (an eval run rewrites results.json after every episode; a workspace writes its ledger,
  its experiment folders and their run results as it goes), else `stopped` (killed or
  interrupted: `optimize --resume` continues a workspace).
A workspace that stopped at its own end (iterations, budget, plateau) also reads `stopped`
until finalized: on disk the two look alike.

Everything is read without writing: the ledger is opened read-only.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel
from rich.table import Table
from rich.text import Text

from harness.optimize.ledger import Experiment
from harness.optimize.workspace import WorkspaceInfo
from harness.runner.results import RunResult

RECENT_S = 900.0
Status = Literal["running", "stopped", "finished", "finalized"]


class Entry(BaseModel):
    kind: Literal["workspace", "run"]
    path: str
    agent: str
    benchmark: str
    model: str
    split: str  # runs; "" for workspaces
    score: float | None  # a workspace's best held-out; a run's mean
    experiments: int | None  # workspaces: experiments after the baseline
    status: Status
    started_at: datetime


def list_entries(folders: list[Path], now: float | None = None) -> list[Entry]:
    now = time.time() if now is None else now
    entries: list[Entry] = []
    for folder in folders:
        candidates = [folder] if _is_entry(folder) else sorted(folder.glob("*")) \
            if folder.is_dir() else []
        for path in candidates:
            entry = _entry(path, now)
            if entry is not None:
                entries.append(entry)
    return sorted(entries, key=lambda x: x.started_at, reverse=True)


def _is_entry(path: Path) -> bool:
    return (path / "workspace.json").is_file() or (path / "results.json").is_file()


def _entry(path: Path, now: float) -> Entry | None:
    try:
        if (path / "workspace.json").is_file():
            return _workspace(path, now)
        if (path / "results.json").is_file():
            return _run(path, now)
    except (OSError, ValueError, sqlite3.Error):
        return None  # half-written or foreign: not ours to list
    return None


def _run(path: Path, now: float) -> Entry:
    run = RunResult.load(path / "results.json")
    written = (path / "results.json").stat().st_mtime
    status: Status = "finished" if run.finished_at else \
        "running" if now - written < RECENT_S else "stopped"
    score = run.aggregate.mean_score if run.aggregate else None
    return Entry(kind="run", path=str(path), agent=Path(run.agent).name,
                 benchmark=run.benchmark, model=run.model, split=run.split, score=score,
                 experiments=None, status=status, started_at=run.started_at)


def _workspace(path: Path, now: float) -> Entry:
    info = WorkspaceInfo.model_validate_json((path / "workspace.json").read_text())
    rows = _ledger_rows(path / "ledger.sqlite")
    pool = [x.held_out for x in rows if x.status in ("baseline", "keep")
            and x.held_out is not None]
    status: Status = "finalized" if info.finalized_at else \
        "running" if now - _last_write(path) < RECENT_S else "stopped"
    return Entry(kind="workspace", path=str(path), agent=info.agent_name,
                 benchmark=info.benchmark, model=info.model, split="",
                 score=max(pool) if pool else None,
                 experiments=max(0, len(rows) - 1) if rows else 0, status=status,
                 started_at=info.created_at)


def _ledger_rows(path: Path) -> list[Experiment]:
    if not path.is_file():
        return []
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT record FROM experiments ORDER BY experiment").fetchall()
    except sqlite3.OperationalError:  # created but no table yet
        return []
    finally:
        db.close()
    return [Experiment.model_validate_json(row[0]) for row in rows]


def _last_write(root: Path) -> float:
    """Newest mtime of the ledger and of the newest experiment's files (bounded walk)."""
    times = [p.stat().st_mtime for p in (root / "ledger.sqlite", root / "ledger.sqlite-wal",
                                          root / "results.tsv", root / "notes.md")
             if p.exists()]
    for parent in (root / "experiments", root / "scratch", root / "final"):
        folders = sorted(parent.iterdir()) if parent.is_dir() else []
        if folders:
            newest = folders[-1]
            times.append(newest.stat().st_mtime)
            times += [p.stat().st_mtime for p in newest.glob("*/*/results.json")]
            times += [p.stat().st_mtime for p in newest.glob("*")]
    return max(times, default=0.0)


def runs_table(entries: list[Entry], now: datetime | None = None) -> Table:
    now = now or datetime.now(UTC)
    table = Table(title="workspaces and eval runs, newest first")
    for column in ("age", "kind", "status", "agent", "benchmark", "model", "score",
                   "experiments", "path"):
        table.add_column(column, no_wrap=column in ("age", "path"))
    for x in entries:
        score = "–" if x.score is None else f"{x.score:.3f}"
        label = "best held-out " if x.kind == "workspace" else f"mean {x.split} "
        table.add_row(_age(now - x.started_at), x.kind, x.status, Text(x.agent),
                      Text(x.benchmark), Text(x.model), label + score,
                      "" if x.experiments is None else str(x.experiments), Text(x.path))
    if not entries:
        table.caption = "nothing here yet: `harness eval` and `harness optimize` write here"
    return table


def _age(delta: object) -> str:
    seconds = max(0.0, delta.total_seconds())  # type: ignore[attr-defined]
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"

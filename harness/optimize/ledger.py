"""The ledger of an optimisation run: `ledger.sqlite` and its greppable `results.tsv`.

Rules:
- One `experiments` row per experiment, written once, complete, in one transaction together
  with that experiment's per-episode rows. There is no update path: a row that exists is final.
  A half-done experiment simply has no row, and `--resume` redoes it from its start.
- `results.tsv` is regenerated from the database after every write (atomic rename), so the
  two never disagree; it never holds per-task held-out detail.
- Statuses: keep, discard, invalid, crash, timeout, interrupted (and `baseline` for 0).
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from harness.runner.results import EpisodeResult

SCHEMA_VERSION = 1
Status = Literal["baseline", "keep", "discard", "invalid", "crash", "timeout", "interrupted"]
TSV_COLUMNS = ("experiment", "commit", "parent", "train", "held_out", "delta", "p_value",
               "tokens", "cost_usd", "seconds", "status", "description")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS experiments (
    experiment INTEGER PRIMARY KEY,
    status TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS episodes (
    experiment INTEGER NOT NULL,
    split TEXT NOT NULL,
    task_id TEXT NOT NULL,
    trial INTEGER NOT NULL,
    status TEXT NOT NULL,
    score REAL NOT NULL,
    model_calls INTEGER NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS episodes_by_experiment ON episodes (experiment, split);
"""


class Experiment(BaseModel):
    """One finished experiment, as the ledger stores it."""

    schema_version: int = SCHEMA_VERSION
    experiment: int
    status: Status
    commit: str = ""  # "" when nothing could be committed (a refused tree)
    parent: str = ""  # parent's tag
    description: str = ""
    hypothesis: str = ""
    mechanism: str = ""
    component: str = ""
    reason: str = ""  # why invalid / crash / discard, in one line (safe for the view)
    train: float | None = None
    held_out: float | None = None
    delta: float | None = None  # candidate − control, on the same tasks and trials
    control: float | None = None  # the parent's score on those trials (its first N)
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    gate: dict[str, Any] = Field(default_factory=dict)
    agent_sha256: str = ""
    task_tokens: int = 0  # every episode of the experiment: smoke, train, held-out
    held_out_tokens: int = 0  # of which held-out (never shown to a proposer: a channel)
    proposer_tokens: int = 0
    cost_usd: float = 0.0
    seconds: float = 0.0
    model_free: bool = False
    inert: bool = False  # the mechanism it added never fired in a train episode
    proposer: str = ""  # meta, moves, command, callable
    activity: dict[str, int] = Field(default_factory=dict)  # the proposer's, by kind
    quarantined: bool = False  # its code holds task material: kept out of the view
    predictions: dict[str, Any] = Field(default_factory=dict)
    lines: int = 0  # size of the candidate: its files compressed, in bytes (simplicity rule)
    reused_parent_trials: bool = False
    noise_floor: float | None = None  # baseline only: SD of the held-out mean between trials

    @property
    def tokens(self) -> int:
        return self.task_tokens + self.proposer_tokens


class Ledger:
    """The run's experiments and per-episode results in SQLite."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tsv = path.with_name("results.tsv")
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def record(self, experiment: Experiment,
               episodes: dict[str, list[EpisodeResult]] | None = None) -> None:
        """Write one experiment and its episodes in one transaction, then the TSV."""
        rows = [(experiment.experiment, split, e.task_id, e.trial, e.status, e.score,
                 e.model_calls, e.model_dump_json())
                for split, items in (episodes or {}).items() for e in items]
        with self._transaction():
            self._db.execute("INSERT INTO experiments VALUES (?, ?, ?)",
                             (experiment.experiment, experiment.status,
                              experiment.model_dump_json()))
            self._db.executemany("INSERT INTO episodes VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        self.write_tsv()

    def _transaction(self) -> Any:
        db = self._db

        class _Tx:
            def __enter__(self) -> None:
                db.execute("BEGIN IMMEDIATE")

            def __exit__(self, kind: object, *rest: object) -> None:
                db.execute("COMMIT" if kind is None else "ROLLBACK")

        return _Tx()

    def experiments(self) -> list[Experiment]:
        rows = self._db.execute("SELECT record FROM experiments ORDER BY experiment").fetchall()
        return [Experiment.model_validate_json(row[0]) for row in rows]

    def get(self, experiment: int) -> Experiment | None:
        row = self._db.execute("SELECT record FROM experiments WHERE experiment = ?",
                               (experiment,)).fetchone()
        return Experiment.model_validate_json(row[0]) if row else None

    def next_experiment(self) -> int:
        row = self._db.execute("SELECT MAX(experiment) FROM experiments").fetchone()
        return 0 if row[0] is None else int(row[0]) + 1

    def episodes(self, experiment: int, split: str) -> list[EpisodeResult]:
        rows = self._db.execute(
            "SELECT record FROM episodes WHERE experiment = ? AND split = ? "
            "ORDER BY task_id, trial", (experiment, split)).fetchall()
        return [EpisodeResult.model_validate_json(row[0]) for row in rows]

    def write_tsv(self, path: Path | None = None, for_view: bool = False) -> None:
        target = path or self.tsv
        lines = ["\t".join(TSV_COLUMNS)]
        lines += ["\t".join(_tsv_cell(v) for v in tsv_row(e, for_view))
                  for e in self.experiments()]
        tmp = target.with_suffix(".tsv.tmp")
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(target)


def tsv_row(e: Experiment, for_view: bool = False) -> tuple[Any, ...]:
    """One results.tsv row. The view's copy leaves out what held-out episodes spent (tokens,
    seconds): a candidate could encode what it saw on held-out tasks in either."""
    tokens = e.tokens - e.held_out_tokens if for_view else e.tokens
    seconds = "" if for_view else f"{e.seconds:.1f}"
    return (e.experiment, e.commit[:7], e.parent, _num(e.train), _num(e.held_out),
            _num(e.delta, signed=True), _num(e.p_value), tokens, f"{e.cost_usd:.4f}",
            seconds, e.status, e.description)


def _num(value: float | None, signed: bool = False) -> str:
    if value is None:
        return ""
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def _tsv_cell(value: Any) -> str:
    """One cell: tabs and newlines a proposer wrote cannot break the TSV's rows or columns."""
    text = value if isinstance(value, str) else json.dumps(value) if isinstance(
        value, dict | list) else str(value)
    return "".join(" " if ch in "\t\r\n" or ord(ch) < 32 else ch for ch in text)

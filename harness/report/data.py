"""What the report shows, read from a workspace: the ledger, per-episode train scores, the
experiment folders (diff, proposal, proposer output, meta-agent trace) and final.json.

Everything here is data; nothing is escaped yet (the page escapes every string it prints).
Big texts (diffs, logs, transcripts) are cut at a stated size with an explicit marker that
says how to read the rest, never silently.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.optimize.finalize import Final
from harness.optimize.ledger import Experiment
from harness.optimize.versions import tag_of
from harness.optimize.workspace import Workspace, WorkspaceInfo

MAX_TEXT = 60_000  # characters of one diff / log / transcript shown inline
MAX_TRANSCRIPT_LINES = 1_500
SCORED = ("baseline", "keep", "discard")


@dataclass
class ExperimentFiles:
    """The raw material of one experiment's folder, as text (cut with a marker)."""

    diff: str = ""
    proposal: str = ""  # proposal.json
    proposer_output: dict[str, str] = field(default_factory=dict)  # name -> text
    meta_transcript: str = ""  # the meta-agent's session, rendered
    proposer_kind: str = ""  # meta, moves, command, or "" (not recorded in the ledger)


@dataclass
class ReportData:
    root: Path
    info: WorkspaceInfo
    experiments: list[Experiment]
    raw: dict[int, dict[str, Any]]  # the ledger's JSON per experiment (fields newer than ours)
    train_tasks: dict[int, dict[str, float]]  # kept candidates: task -> train trial mean
    train_cost: dict[int, tuple[float, float]]  # scored: (tokens, $) per train episode
    files: dict[int, ExperimentFiles]
    final: Final | None

    @property
    def baseline(self) -> Experiment | None:
        return next((e for e in self.experiments if e.experiment == 0), None)

    def by_tag(self) -> dict[str, Experiment]:
        return {tag_of(e.experiment): e for e in self.experiments}


def load(root: Path) -> ReportData:
    ws = Workspace(root)
    try:
        experiments = ws.ledger.experiments()
        kept = [e for e in experiments if e.status in ("baseline", "keep")]
        train_tasks = {e.experiment: _task_means(ws, e.experiment) for e in kept}
        train_cost = {e.experiment: _cost_per_episode(ws, e.experiment)
                      for e in experiments if e.status in SCORED}
    finally:
        ws.close()
    return ReportData(
        root=root, info=ws.info(), experiments=experiments, raw=_raw_records(ws.ledger.path),
        train_tasks=train_tasks, train_cost=train_cost,
        files={e.experiment: _files(ws.experiment_dir(e.experiment), e) for e in experiments},
        final=Final.model_validate_json(ws.final.read_text()) if ws.final.is_file() else None)


def _task_means(ws: Workspace, experiment: int) -> dict[str, float]:
    table: dict[str, list[float]] = {}
    for e in ws.ledger.episodes(experiment, "train"):
        if e.status != "error":
            table.setdefault(e.task_id, []).append(e.score)
    return {task: sum(s) / len(s) for task, s in sorted(table.items())}


def _cost_per_episode(ws: Workspace, experiment: int) -> tuple[float, float]:
    episodes = [e for e in ws.ledger.episodes(experiment, "train") if e.status != "error"]
    if not episodes:
        return 0.0, 0.0
    tokens = sum(e.input_tokens + e.output_tokens for e in episodes) / len(episodes)
    return tokens, sum(e.cost_usd for e in episodes) / len(episodes)


def _raw_records(path: Path) -> dict[int, dict[str, Any]]:
    """Every ledger row as stored, so that fields a newer loop writes (such as `inert`) are
    shown even where this version's `Experiment` model does not know them."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT experiment, record FROM experiments").fetchall()
    finally:
        db.close()
    return {int(number): json.loads(record) for number, record in rows}


def _files(folder: Path, record: Experiment) -> ExperimentFiles:
    files = ExperimentFiles(diff=read_text(folder / "diff.patch"),
                            proposal=read_text(folder / "proposal.json"))
    # Never evidence.jsonl: it quotes the benchmark material a candidate tried to smuggle.
    for name in ("proposer/stdout.log", "proposer/stderr.log", "proposer/proposer.json",
                 "meta/session.json"):
        text = read_text(folder / name)
        if text:
            files.proposer_output[name] = text
    if (folder / "meta" / "traces.sqlite").is_file():
        files.proposer_kind = "meta"
        files.meta_transcript = _transcript(folder / "meta" / "traces.sqlite")
    elif (folder / "proposer").is_dir():
        files.proposer_kind = "command"
    elif "structured moves" in record.hypothesis:
        files.proposer_kind = "moves"
    if record.quarantined:  # the loop withheld its words and code; so does the report
        files.diff = "(withheld: the change held benchmark task material)"
        files.proposal = ""
    return files


def read_text(path: Path, limit: int = MAX_TEXT) -> str:
    if not path.is_file():
        return ""
    with open(path, "rb") as handle:
        data = handle.read(limit + 1)
    text = data[:limit].decode(errors="replace")
    if len(data) > limit:
        size = path.stat().st_size
        text += f"\n… cut here: {size - limit} more bytes in {path}\n"
    return text


def _transcript(store_path: Path) -> str:
    from traces.render import render_episode
    from traces.store import TraceStore

    try:
        with TraceStore(store_path) as store:
            lines = [line for ep in store.episodes()
                     for line in render_episode(store, ep.episode_id)]
    except Exception as error:  # a damaged store: say so instead of failing the report
        return f"(the meta trace could not be read: {type(error).__name__}: {error})"
    shown = lines[:MAX_TRANSCRIPT_LINES]
    if len(lines) > MAX_TRANSCRIPT_LINES:
        shown.append(f"… {len(lines) - MAX_TRANSCRIPT_LINES} more lines — read them with "
                     f"`harness traces show {store_path.parent} --offset "
                     f"{MAX_TRANSCRIPT_LINES}`")
    return "\n".join(shown)

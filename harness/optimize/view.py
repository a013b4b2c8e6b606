"""The proposer's view of the workspace, and the brief of one experiment.

The view is a separate folder built by copying train material in, never a filter over the
real workspace: what is not copied cannot leak. It holds
- `program.md`, `notes.md`, `learnings.md`, and `results.tsv` (aggregate held-out scores and
  keep/discard outcomes only; no held-out tokens or time, which a candidate could use to
  send out what it saw on held-out tasks);
- `candidates/exp-NNNN/`: every committed candidate's code;
- `experiments/NNNN/`: `summary.json` (status, one-line reason, aggregates, prediction
  verdict), `proposal.json`, `diff.patch`, and for the train run `results.json`,
  `traces.sqlite` and one rendered transcript per episode under `transcripts/`.
Never copied: held-out or smoke runs, gate details, validation evidence, final.json.
"""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path

from harness.optimize.ledger import Experiment
from harness.optimize.workspace import Workspace, write_atomic
from harness.runner.results import EpisodeResult, RunResult

SUMMARY_FIELDS = ("experiment", "status", "parent", "description", "hypothesis", "mechanism",
                  "component", "reason", "train", "held_out", "delta", "control", "ci_low",
                  "ci_high", "p_value", "proposer_tokens", "model_free", "inert",
                  "predictions", "lines", "activity")


def refresh_view(ws: Workspace) -> None:
    """Copy the top-level files into the view (after every ledger write)."""
    ws.view.mkdir(exist_ok=True)
    for source in (ws.program, ws.notes, ws.learnings):
        if source.is_file():
            write_atomic(ws.view / source.name, source.read_text(errors="replace"))
    ws.ledger.write_tsv(ws.view / "results.tsv", for_view=True)


def add_to_view(ws: Workspace, record: Experiment, train: RunResult | None,
                train_dir: Path | None) -> None:
    """Add one finished experiment: its code, summary, proposal, diff and train run."""
    if not record.quarantined:
        _export_candidate(ws, record)
    folder = ws.view / "experiments" / f"{record.experiment:04d}"
    if folder.exists():  # a redone experiment (after a kill) replaces its earlier copy
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    summary = {name: getattr(record, name) for name in SUMMARY_FIELDS}
    # what the train and smoke episodes spent; held-out spend and time stay out (a channel)
    summary["train_tokens"] = record.task_tokens - record.held_out_tokens
    (folder / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    source = ws.experiment_dir(record.experiment)
    for name in ("proposal.json", "diff.patch"):
        if (source / name).is_file() and not record.quarantined:
            shutil.copyfile(source / name, folder / name)
    if train is not None and train_dir is not None:
        _copy_train_run(train, train_dir, folder / "train")
    refresh_view(ws)


def _export_candidate(ws: Workspace, record: Experiment) -> None:
    if not record.commit:
        return
    target = ws.view / "candidates" / f"exp-{record.experiment:04d}"
    if target.exists():
        shutil.rmtree(target)
    try:
        ws.versions.export(record.commit, target)
    except (tarfile.TarError, OSError):  # links that point outside are not exported
        shutil.rmtree(target, ignore_errors=True)


def _copy_train_run(result: RunResult, run_dir: Path, target: Path) -> None:
    from traces.render import render_episode
    from traces.store import TraceStore

    target.mkdir(parents=True)
    result.save(target / "results.json")
    store_path = run_dir / "traces.sqlite"
    if not store_path.is_file():
        return
    shutil.copyfile(store_path, target / "traces.sqlite")
    transcripts = target / "transcripts"
    transcripts.mkdir()
    with TraceStore(store_path) as store:
        for episode in result.episodes:
            lines = render_episode(store, episode.episode_id)
            (transcripts / transcript_name(episode)).write_text(
                _episode_header(episode) + "\n".join(lines) + "\n")


def transcript_name(episode: EpisodeResult) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in episode.task_id)
    return f"{safe}__trial{episode.trial}.txt"


def _episode_header(e: EpisodeResult) -> str:
    return (f"# task {e.task_id} · trial {e.trial} · {e.status} · score {e.score:g} · "
            f"{e.model_calls} model calls · {e.input_tokens}+{e.output_tokens} tokens\n"
            f"# detail: {e.detail[:500]}\n" + (f"# error: {(e.error or '')[:1500]}\n"
                                                 if e.error else "") + "\n")


def write_brief(path: Path, *, program: str, notes: str, learnings: str, directive: str,
                parent: str, parent_train: list[EpisodeResult]) -> None:
    """brief.md: the directive, memory, and the parent's train scores with its failures."""
    passed = sum(e.passed for e in parent_train)
    rows = [f"| {e.task_id} | {e.trial} | {e.status} | {e.score:g} | "
            f"{_cell(e.error_kind or e.detail)} |" for e in parent_train]
    failures = [e for e in parent_train if not e.passed]
    text = "\n\n".join(part for part in (
        program.strip(),
        f"## Demanded this experiment\n\n{directive}" if directive else "",
        f"## Learnings\n\n{learnings.strip()}",
        f"## Notes\n\n{notes.strip()}",
        f"## Parent {parent}: train results ({passed} of {len(parent_train)} passed)\n\n"
        "| task | trial | status | score | detail |\n|---|---|---|---|---|\n" + "\n".join(rows),
        f"## Failures of the parent ({len(failures)})\n\n" + "\n".join(
            f"- {e.task_id} (trial {e.trial}): {_cell(e.error or e.detail)}"
            for e in failures[:200]),
        "Transcripts of these episodes: view/experiments/<parent's number>/train/transcripts/.",
    ) if part)
    path.write_text(text + "\n")


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "/")[:200]

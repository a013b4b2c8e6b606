"""What the loop derives from the ledger: parents, stored trials, notes, diversity demands,
budgets, stop rules, and the repair of a half-done experiment after a kill.

Everything here is a function of the ledger (plus git tags), so a resumed run sees exactly
what an uninterrupted one would have seen.
"""

from __future__ import annotations

import shutil
import statistics

from harness.config import HarnessConfig
from harness.errors import HarnessError
from harness.optimize.ledger import Experiment
from harness.optimize.proposal import LEARNINGS_MAX_LINES, Budgets, Proposal
from harness.optimize.strategies import Candidate
from harness.optimize.versions import tag_of
from harness.optimize.view import add_to_view
from harness.optimize.workspace import Workspace, write_atomic
from harness.runner.results import EpisodeResult, RunResult

PerTask = dict[str, list[float]]
SAME_COMPONENT_RUN = 3  # experiments in a row on one component before another is demanded
_DEMAND_PREFIX = "Change a component other than "


def prepare_resume(ws: Workspace, fingerprint: str) -> None:
    check_fingerprint(ws, fingerprint)
    forget_unfinished(ws)


def check_fingerprint(ws: Workspace, fingerprint: str) -> None:
    """Scores of one workspace must come from one version of the evaluation code and data."""
    info = ws.info()
    if not info.fingerprint:
        info.fingerprint = fingerprint
        write_atomic(ws.info_path, info.model_dump_json(indent=2))
    elif info.fingerprint != fingerprint:
        raise HarnessError(f"the evaluation code or data of {info.benchmark} changed since "
                           f"{ws.root} was made: its scores are not comparable with new ones; "
                           "start a new workspace")


def forget_unfinished(ws: Workspace) -> None:
    """Undo whatever a killed experiment left: its folders and tags (it has no ledger row),
    and finish what a kill cut short after a row was written (the TSV, the view)."""
    ws.ledger.write_tsv()  # a kill between the database commit and the TSV rename
    _repair_view(ws)
    done = {e.experiment for e in ws.ledger.experiments()}
    for tag in ws.versions.tags():
        if int(tag[4:]) not in done:
            ws.versions.delete_tag(tag)
    for parent in (ws.experiments_dir, ws.scratch):
        for folder in parent.iterdir() if parent.is_dir() else []:
            if folder.name.isdigit() and int(folder.name) not in done:
                shutil.rmtree(folder, ignore_errors=True)
    point_best(ws)


def _repair_view(ws: Workspace) -> None:
    for record in ws.ledger.experiments():
        if (ws.view / "experiments" / f"{record.experiment:04d}").is_dir():
            continue
        runs = sorted((ws.experiment_dir(record.experiment) / "train").glob("*/results.json"))
        train = (RunResult.load(runs[-1]), runs[-1].parent) if runs else (None, None)
        add_to_view(ws, record, *train)


def point_best(ws: Workspace) -> None:
    best = best_experiment(ws)
    if best is not None and ws.versions.has(tag_of(best.experiment)):
        ws.versions.point_best(tag_of(best.experiment))


def best_experiment(ws: Workspace) -> Experiment | None:
    pool = [e for e in ws.ledger.experiments() if e.status in ("baseline", "keep")]
    return max(pool, key=lambda e: (e.held_out or 0.0, e.experiment)) if pool else None


def size_of(ws: Workspace, experiment: int) -> int | None:
    record = ws.ledger.get(experiment)
    return record.lines if record else None


def parent_of_unfinished(ws: Workspace, number: int) -> str:
    return "" if number == 0 else (tag_of(b.experiment) if (b := best_experiment(ws)) else "")


def after_record(ws: Workspace, record: Experiment, proposal: Proposal | None) -> None:
    """The notes line of a finished experiment, `best` re-pointed, and the proposer's own
    notes and learnings (only now: they were scanned with the change)."""
    point_best(ws)
    with open(ws.notes, "a", encoding="utf-8") as notes:
        notes.write(notes_line(record) + "\n")
        for line in proposal.notes if proposal else []:
            notes.write(f"- (exp-{record.experiment:04d}, proposer) "
                        f"{' '.join(line.split())[:1000]}\n")
    if proposal is not None:
        take_learnings(ws, proposal.learnings)


def notes_line(e: Experiment) -> str:
    parts = [f"- {tag_of(e.experiment)} [{e.status}]"]
    if e.delta is not None:
        against = f" vs parent {e.control:.3f}" if e.control is not None else ""
        parts.append(f"Δ {e.delta:+.3f}{against} (p {e.p_value:.3g})" if e.p_value is not None
                     else f"Δ {e.delta:+.3f}{against}")
    if e.train is not None:
        parts.append(f"train {e.train:.3f}")
    if e.component:
        parts.append(f"{e.component}:")
    parts.append(" ".join((e.description or "").split())[:200])
    if e.reason and e.status not in ("keep", "discard"):
        parts.append("— " + " ".join(e.reason.split())[:300])
    verdict = e.predictions.get("verdict")
    if verdict and verdict != "none":
        parts.append(f"— predictions {verdict} ({len(e.predictions.get('predicted_fixed', []))}"
                     f"/{e.predictions.get('predicted', 0)} fixed, "
                     f"{len(e.predictions.get('unpredicted_regressions', []))} unforeseen "
                     "regressions)")
    if e.model_free:
        parts.append("— model_free")
    if e.inert:
        parts.append("— inert: the mechanism never fired")
    return " ".join(parts)


def parent_pool(ws: Workspace) -> list[Candidate]:
    """The baseline and every kept candidate, with train scores and children counted."""
    experiments = ws.ledger.experiments()
    children: dict[str, int] = {}
    for e in experiments:
        children[e.parent] = children.get(e.parent, 0) + 1
    pool = []
    for e in experiments:
        if e.status in ("baseline", "keep"):
            train = per_task_means(ws.ledger.episodes(e.experiment, "train"))
            tag = tag_of(e.experiment)
            pool.append(Candidate(tag=tag, experiment=e.experiment, held_out=e.held_out,
                                  train=train, children=children.get(tag, 0)))
    return pool


def per_task_means(episodes: list[EpisodeResult]) -> dict[str, float]:
    table: PerTask = {}
    for e in episodes:
        if e.status != "error":
            table.setdefault(e.task_id, []).append(e.score)
    return {task: sum(s) / len(s) for task, s in table.items()}


def stored_trials(ws: Workspace, experiment: int, task_ids: list[str], trials: int,
                  model: str) -> PerTask | None:
    """The parent's own held-out trials when they can serve as the control unchanged: same
    model, every task present with at least `trials` counted trials (the first `trials`)."""
    if ws.info().model != model:
        return None
    table: PerTask = {}
    for e in ws.ledger.episodes(experiment, "held_out"):
        if e.status != "error":
            table.setdefault(e.task_id, []).append(e.score)
    if any(len(table.get(task, [])) < trials for task in task_ids):
        return None
    return {task: table[task][:trials] for task in task_ids}


def align(parent: PerTask, candidate: PerTask, trials: int) -> tuple[PerTask, PerTask]:
    """Both sides on the same tasks and trials. A trial the candidate lost to an
    infrastructure error counts as a failure (were it dropped, a candidate able to provoke
    errors could abstain where it is unsure); a task the parent lacks trials of is dropped."""
    tasks = [t for t in parent if len(parent[t]) >= trials]
    filled = {t: (candidate.get(t, []) + [0.0] * trials)[:trials] for t in tasks}
    return {t: parent[t][:trials] for t in tasks}, filled


def noise_floor(table: PerTask) -> float | None:
    """SD of the held-out mean between trials (the baseline's own run-to-run noise)."""
    trials = min((len(s) for s in table.values()), default=0)
    if trials < 2:
        return None
    means = [statistics.fmean(s[i] for s in table.values()) for i in range(trials)]
    return statistics.stdev(means)


def directive(ws: Workspace, config: HarnessConfig) -> str:
    """Diversity demands, enforced: the loop rejects a proposal that ignores the first."""
    done = [e for e in ws.ledger.experiments() if e.experiment > 0]
    demands = []
    # "other" says nothing about the change, so it never counts as a run on one component
    recent = [e.component for e in done[-SAME_COMPONENT_RUN:] if e.component]
    if len(recent) == SAME_COMPONENT_RUN and len(set(recent)) == 1 and recent[0] != "other":
        demands.append(f"{_DEMAND_PREFIX}{recent[0]}: the last {SAME_COMPONENT_RUN} "
                       "experiments all changed it.")
    dry = _since_keep(done)
    if dry >= config.plateau_patience:
        demands.append(f"{dry} experiments without a keep: propose a structurally different "
                       "idea, not a variation of the ones in the notes.")
    return "\n".join(demands)


def take_learnings(ws: Workspace, text: str | None) -> None:
    """The proposer's rewrite of learnings.md, within its line budget (else left as it was,
    with a note saying why: memory that grows without bound stops being read)."""
    if text is None or not text.strip():
        return
    lines = text.strip().splitlines()
    if len(lines) > LEARNINGS_MAX_LINES:
        with open(ws.notes, "a", encoding="utf-8") as notes:
            notes.write(f"- (learnings.md not rewritten: {len(lines)} lines, the budget is "
                        f"{LEARNINGS_MAX_LINES})\n")
        return
    write_atomic(ws.learnings, "\n".join(lines) + "\n")


def banned_component(text: str) -> str | None:
    for line in text.splitlines():
        if line.startswith(_DEMAND_PREFIX):
            return line[len(_DEMAND_PREFIX):].split(":", 1)[0]
    return None


def _since_keep(done: list[Experiment]) -> int:
    count = 0
    for e in reversed(done):
        if e.status == "keep":
            break
        count += 1
    return count


def spent(ws: Workspace) -> tuple[float, int]:
    experiments = ws.ledger.experiments()
    return sum(e.seconds for e in experiments), sum(e.tokens for e in experiments)


def budgets_left(ws: Workspace, config: HarnessConfig) -> Budgets:
    seconds, tokens = spent(ws)
    return Budgets(
        seconds_left=None if config.budget_seconds is None else config.budget_seconds - seconds,
        tokens_left=None if config.budget_tokens is None else config.budget_tokens - tokens,
        experiment_time_s=config.experiment_time_s)


def stop_reason(ws: Workspace, config: HarnessConfig) -> str | None:
    experiments = ws.ledger.experiments()
    done = [e for e in experiments if e.experiment > 0]
    if len(done) >= config.iterations:
        return f"{len(done)} experiments done (--iterations {config.iterations})"
    seconds, tokens = spent(ws)
    if config.budget_seconds is not None and seconds >= config.budget_seconds:
        return f"time budget spent ({seconds:.0f} s of {config.budget_seconds:.0f} s)"
    if config.budget_tokens is not None and tokens >= config.budget_tokens:
        return f"token budget spent ({tokens} of {config.budget_tokens})"
    if _since_keep(done) >= config.plateau_stop:
        return f"plateau: {config.plateau_stop} experiments without a keep"
    return None

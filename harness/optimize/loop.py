"""`harness optimize`: the keep/revert loop over one task agent, top to bottom.

baseline (train + held-out, experiment 0) → per experiment: choose a parent → copy it →
propose → validate → evaluate on train → gate on held-out against the parent → keep or
discard → record. Every experiment ends as exactly one ledger row, written once; a kill
leaves no row, and `--resume` redoes that experiment from its start.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.base import Benchmark
from benchmarks.registry import get_benchmark, protected_paths
from harness.config import HarnessConfig
from harness.errors import HarnessError
from harness.optimize import evaluate as ev
from harness.optimize import memory
from harness.optimize.gate import decide
from harness.optimize.judge import Rejected, judge_train
from harness.optimize.ledger import Experiment, Status
from harness.optimize.progress import Progress, Quiet
from harness.optimize.proposal import Brief, Proposal, ProposalError, Proposer, proposer_kind
from harness.optimize.scan import Material, forbidden_material
from harness.optimize.strategies import Candidate, Strategy, make_strategy
from harness.optimize.validate import check_change, check_runs, git_control_files
from harness.optimize.versions import tag_of
from harness.optimize.view import add_to_view, write_brief
from harness.optimize.workspace import Workspace
from harness.runner.results import EpisodeResult, RunResult
from harness.runner.staging import CandidateLimits, check_candidate_tree
from harness.servers import running_model
from harness.stats.power import smallest_detectable_gain

Episodes = dict[str, list[EpisodeResult]]
Outcome = tuple[Experiment, Episodes, tuple[RunResult, Path] | None]


@dataclass
class Run:
    config: HarnessConfig
    ws: Workspace
    bench: Benchmark
    proposer: Proposer
    strategy: Strategy
    progress: Progress
    material: Material
    fingerprint: str
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    train_ids: list[str] = field(default_factory=list)
    held_out_ids: list[str] = field(default_factory=list)
    current: Experiment | None = None  # the experiment in flight, for a timeout or Ctrl-C
    proposal: Proposal | None = None  # its proposal: learnings and notes apply when recorded


async def optimize(config: HarnessConfig, ws: Workspace, proposer: Proposer,
                   progress: Progress | None = None) -> None:
    bench = get_benchmark(ws.info().benchmark)
    run = Run(config=config, ws=ws, bench=bench, proposer=proposer,
              strategy=make_strategy(config.strategy), progress=progress or Quiet(),
              material=forbidden_material(bench),
              fingerprint=ev.fingerprint_evaluation(ws.info().benchmark))
    run.train_ids = [t.task_id for t in bench.tasks("train")][: config.train_limit]
    run.held_out_ids = [t.task_id for t in bench.tasks("held_out")][: config.held_out_limit]
    memory.prepare_resume(ws, run.fingerprint)
    async with running_model(config):  # one model server for the whole run
        if ws.ledger.get(0) is None:
            await _recorded(run, 0, baseline(run))
        while (reason := memory.stop_reason(ws, config)) is None:
            number = ws.ledger.next_experiment()
            await _recorded(run, number, experiment(run, number))
        run.progress.message(f"stopped: {reason}")


async def _recorded(run: Run, number: int, work: Awaitable[Outcome]) -> None:
    """Run one experiment under its time limit; turn its end into exactly one ledger row."""
    started = time.monotonic()
    try:
        async with asyncio.timeout(run.config.experiment_time_s):
            record, episodes, train = await work
    except TimeoutError:
        record, episodes, train = _cut_short(run, number, "timeout"), {}, None
    except asyncio.CancelledError:  # Ctrl-C: recorded as interrupted, then the run stops
        _write(run, _cut_short(run, number, "interrupted"), {}, None, started)
        raise
    _write(run, record, episodes, train, started)


def _cut_short(run: Run, number: int, status: Status) -> Experiment:
    """The in-flight experiment as far as it got (its proposal, its commit), never kept."""
    record = run.current if run.current and run.current.experiment == number else Experiment(
        experiment=number, status=status, parent=memory.parent_of_unfinished(run.ws, number))
    record.status, record.reason = status, {"timeout": "past --experiment-time-s"}.get(
        status, "interrupted by the user")
    return record


def _write(run: Run, record: Experiment, episodes: Episodes,
           train: tuple[RunResult, Path] | None, started: float) -> None:
    record.seconds = round(time.monotonic() - started, 2)
    tag = tag_of(record.experiment)  # git and ledger agree: the row names the tag's commit
    record.commit = run.ws.versions.sha(tag) if run.ws.versions.has(tag) else ""
    run.ws.ledger.record(record, episodes)
    memory.after_record(run.ws, record, None if record.quarantined else run.proposal)
    add_to_view(run.ws, record, *(train or (None, None)))
    shutil.rmtree(run.ws.scratch / f"{record.experiment:04d}", ignore_errors=True)
    run.proposal = None
    run.progress.finished(record)


async def baseline(run: Run) -> Outcome:
    ws, config = run.ws, run.config
    folder = ws.versions.export("main", ws.scratch / "0000" / ws.info().agent_name)
    record = Experiment(experiment=0, status="baseline", description="baseline",
                        commit=ws.versions.commit_candidate(0, folder, "baseline"),
                        lines=ws.versions.code_size(tag_of(0)))
    run.progress.phase(0, "train")
    train, train_dir = await _eval(run, 0, folder, "train", config.trials)
    run.progress.phase(0, "held-out")
    trials = max(2, config.held_out_trials)
    held, _ = await _eval(run, 0, folder, "held_out", trials)
    table = ev.per_task(held.episodes)
    record.train, record.held_out = ev.mean_of(ev.per_task(train.episodes)), ev.mean_of(table)
    record.noise_floor = memory.noise_floor(table)
    record.held_out_tokens = ev.tokens_of(held)
    record.task_tokens = ev.tokens_of(train) + record.held_out_tokens
    record.agent_sha256 = train.agent_sha256
    rates = [sum(s) / len(s) for s in table.values() if s]
    gain = smallest_detectable_gain(rates, config.held_out_trials, alpha=config.alpha)
    run.progress.detectable(len(rates), config.held_out_trials, gain)
    return record, {"train": train.episodes, "held_out": held.episodes}, (train, train_dir)


async def experiment(run: Run, number: int) -> Outcome:
    ws, config = run.ws, run.config
    parent = run.strategy.choose(memory.parent_pool(ws), run.rng)
    record = run.current = Experiment(experiment=number, status="invalid", parent=parent.tag,
                                      proposer=proposer_kind(run.proposer))
    episodes: Episodes = {}
    train: tuple[RunResult, Path] | None = None
    try:
        folder, proposal = await _propose(run, number, parent, record)
        folder = await _validate(run, number, folder, parent, record)
        run.progress.phase(number, "train")
        result, train_dir = await _eval(run, number, folder, "train", config.trials)
        train, episodes["train"] = (result, train_dir), result.episodes
        judge_train(record, result, proposal, ev.per_task(ws.ledger.episodes(
            parent.experiment, "train")), allow_model_free=config.allow_model_free,
            traces=train_dir / "traces.sqlite")
        run.progress.phase(number, "held-out")
        held, parent_held = await _held_out(run, number, folder, parent, record)
        episodes["held_out"] = held.episodes
        control, treated = memory.align(parent_held, ev.per_task(held.episodes),
                                        config.held_out_trials)
        decision = decide(control, treated, alpha=config.alpha,
                          method="mean" if config.gate == "mean" else "auto",
                          parent_lines=memory.size_of(ws, parent.experiment),
                          candidate_lines=record.lines, seed=number)
        record.gate = decision.model_dump()
        record.delta, record.p_value, record.control = (decision.delta, decision.p_value,
                                                        ev.mean_of(control))
        record.ci_low, record.ci_high = decision.ci_low, decision.ci_high
        record.status, record.reason = ("keep" if decision.keep else "discard"), decision.reason
    except Rejected as rejected:
        record.status, record.reason = rejected.status, rejected.reason
    return record, episodes, train


async def _propose(run: Run, number: int, parent: Candidate,
                   record: Experiment) -> tuple[Path, Proposal]:
    ws, config = run.ws, run.config
    folder = ws.versions.export(parent.tag, ws.scratch / f"{number:04d}" / ws.info().agent_name)
    directive = memory.directive(ws, config)
    brief_file = folder.parent / "brief.md"
    write_brief(brief_file, program=ws.program.read_text(), notes=ws.notes.read_text(),
                learnings=ws.learnings.read_text(), directive=directive, parent=parent.tag,
                parent_train=ws.ledger.episodes(parent.experiment, "train"))
    brief = Brief(experiment=number, candidate=folder, parent=parent.tag, view=ws.view,
                  brief_file=brief_file, program=ws.program.read_text(),
                  notes=ws.notes.read_text(), learnings=ws.learnings.read_text(),
                  directive=directive, budgets=memory.budgets_left(ws, config))
    run.progress.phase(number, "propose")
    try:
        async with asyncio.timeout(config.proposer_time_s):
            proposal = await run.proposer.propose(brief)
    except TimeoutError:
        raise Rejected("invalid", "no proposal: past --proposer-time-s") from None
    except ProposalError as error:
        raise Rejected("invalid", f"no proposal: {error}") from None
    _take_proposal(run, record, proposal, directive)
    return folder, proposal


def _take_proposal(run: Run, record: Experiment, proposal: Proposal, directive: str) -> None:
    record.description, record.hypothesis = proposal.description, proposal.hypothesis
    record.mechanism, record.component = proposal.mechanism, proposal.component
    record.proposer_tokens = proposal.input_tokens + proposal.output_tokens
    record.task_tokens += proposal.task_tokens
    record.activity = dict(proposal.activity)
    record.cost_usd += proposal.cost_usd
    out = run.ws.experiment_dir(record.experiment)
    out.mkdir(parents=True, exist_ok=True)
    (out / "proposal.json").write_text(proposal.model_dump_json(indent=2))
    run.proposal = proposal
    banned = memory.banned_component(directive)
    if banned and proposal.component == banned:
        raise Rejected("invalid", f"diversity rule: the brief demanded a component other "
                                  f"than {banned}")


async def _validate(run: Run, number: int, folder: Path, parent: Candidate,
                    record: Experiment) -> Path:
    """Check and commit the proposer's folder; the folder to evaluate is the commit's export."""
    ws, config = run.ws, run.config
    run.progress.phase(number, "validate")
    try:
        check_candidate_tree(folder, CandidateLimits.of(config.candidate_max_mb,
                                                        config.candidate_max_files))
    except HarnessError as error:  # named relative to the candidate: no host paths shown
        raise Rejected("invalid", "candidate folder: " + str(error).replace(
            str(folder), "candidate")) from None
    control = git_control_files(folder)
    if control:
        raise Rejected("invalid", f"candidate folder: {control} is not allowed (it changes "
                                  "what git stores and exports)")
    record.commit = ws.versions.commit_candidate(number, folder, record.description)
    record.lines = ws.versions.code_size(tag_of(number))
    earlier = [(e.experiment, e.parent) for e in ws.ledger.experiments() if e.commit]
    made = run.proposal
    words = "\n".join((record.description, record.hypothesis, record.mechanism,
                       *((made.learnings or "", *made.notes) if made else ())))
    committed = ws.versions.export(tag_of(number), folder.parent / "committed" / folder.name)
    verdict, diff = check_change(ws.versions, number, parent.tag, earlier, run.material, words,
                                 committed)
    out = ws.experiment_dir(number)
    (out / "diff.patch").write_text(diff)
    if verdict.evidence:  # kept out of the view, like the code: it may quote held-out text
        (out / "evidence.jsonl").write_text("\n".join(verdict.evidence) + "\n")
        record.quarantined = True
        record.hypothesis = record.mechanism = "(withheld: see the experiment's proposal.json)"
        record.description = "(withheld: the change held benchmark task material)"
    if not verdict.ok:
        raise Rejected("invalid", verdict.reason)
    hidden = [*protected_paths([ws.info().benchmark]), ws.root]
    smoke = await check_runs(config, folder=committed, benchmark=ws.info().benchmark,
                             workspace=ws.root, into=out / "smoke", hidden=hidden,
                             smoke_task=run.train_ids[0] if run.train_ids else None)
    record.task_tokens += smoke.tokens
    if not smoke.ok:
        raise Rejected("invalid", smoke.reason)
    return committed


async def _held_out(run: Run, number: int, folder: Path, parent: Candidate,
                    record: Experiment) -> tuple[RunResult, dict[str, list[float]]]:
    trials = run.config.held_out_trials
    held, _ = await _eval(run, number, folder, "held_out", trials)
    record.held_out_tokens += ev.tokens_of(held)
    record.task_tokens += ev.tokens_of(held)
    record.held_out = ev.mean_of(ev.per_task(held.episodes))
    parent_held = memory.stored_trials(run.ws, parent.experiment, run.held_out_ids, trials,
                                       run.config.model)
    record.reused_parent_trials = parent_held is not None
    if parent_held is None:  # the parent's stored trials do not match: re-run it alongside
        again = run.ws.versions.export(parent.tag, run.ws.scratch / f"{number:04d}" / "parent"
                                       / run.ws.info().agent_name)
        rerun, _ = await _eval(run, number, again, "held_out", trials, label="parent")
        record.held_out_tokens += ev.tokens_of(rerun)
        record.task_tokens += ev.tokens_of(rerun)
        parent_held = ev.per_task(rerun.episodes)
    return held, parent_held


async def _eval(run: Run, number: int, folder: Path, split: str, trials: int,
                label: str = "") -> tuple[RunResult, Path]:
    if ev.fingerprint_evaluation(run.ws.info().benchmark) != run.fingerprint:
        raise HarnessError("evaluation code or data changed during the run; its scores are "
                           "no longer comparable, so it stops")
    ids = run.train_ids if split == "train" else run.held_out_ids
    into = run.ws.experiment_dir(number) / (f"{split}-{label}" if label else split)
    if into.exists():
        shutil.rmtree(into)
    result = await ev.evaluate(run.config, folder=folder, benchmark=run.ws.info().benchmark,
                            split=split, limit=None, trials=trials, into=into,
                            workspace=run.ws.root, task_ids=ids)
    ev.check_usable(result, split)
    return result, ev.run_dir_of(into, result)

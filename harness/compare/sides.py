"""What `harness compare` compares: an agent folder, a workspace candidate, or a run folder.

    task_agents/solver                    an agent folder (holds agent.py)
    workspaces/run1@exp-0007, …@best     a candidate of an optimisation run (its git tag)
    runs/20260101-120000-abc123          a run folder (results.json): its stored episodes

Stored episodes are reused when they were produced by the same code (`agent_sha256`, the
digest of exactly what the workers ran), the same model, benchmark and split, and cover every
wanted task with enough trials; the first `trials` counted trials of each task are used.
Where to look: the run folder given, every run of a workspace (its experiments and its
sealed finalize runs), and `./runs` for agent folders.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import ConfigError
from harness.optimize.workspace import Workspace
from harness.runner.results import EpisodeResult, RunResult
from harness.runner.staging import candidate_digest

Episodes = dict[str, list[EpisodeResult]]  # task id -> its counted trials, in trial order
_REF = re.compile(r"^(exp-\d{4}|best|main|\d{1,6})$")


@dataclass
class Side:
    label: str  # "A" or "B"
    spec: str
    folder: Path | None  # code that can be evaluated; None for a run folder without code
    digest: str
    workspace: Workspace | None = None
    run: RunResult | None = None  # given as a run folder
    stored: list[Path] = field(default_factory=list)  # results.json files to search
    run_dir: Path | None = None  # where its episodes came from, once known
    reused: bool = False
    found: dict[str, Path] = field(default_factory=dict)  # run id -> folder of a match


def resolve(label: str, spec: str, scratch: Path, runs_dir: Path) -> Side:
    """Parse one side; exports a workspace candidate into `scratch`."""
    if "@" in spec and not Path(spec).exists():
        return _workspace_side(label, spec, scratch)
    path = Path(spec)
    results = run_results(path)
    if results is not None:
        run = _load(results)
        code = Path(run.agent)
        folder = code if (code / "agent.py").is_file() and _digest(code) == run.agent_sha256 \
            else None
        return Side(label=label, spec=spec, folder=folder, digest=run.agent_sha256, run=run,
                    stored=[results], run_dir=results.parent)
    if (path / "agent.py").is_file():
        return Side(label=label, spec=spec, folder=path.resolve(), digest=_digest(path),
                    stored=sorted(runs_dir.glob("*/results.json")))
    raise ConfigError(label, f"'{spec}' is neither an agent folder (agent.py), a run folder "
                             "(results.json) nor WORKSPACE@exp-NNNN / WORKSPACE@best")


def run_results(path: Path) -> Path | None:
    """results.json of a run folder, or of the one run folder inside it (a workspace's
    experiments/NNNN/train holds its run one level down)."""
    if (path / "results.json").is_file():
        return path / "results.json"
    if path.is_dir():
        inner = [p for p in path.iterdir() if (p / "results.json").is_file()]
        if len(inner) == 1:
            return inner[0] / "results.json"
    return None


def _workspace_side(label: str, spec: str, scratch: Path) -> Side:
    root_text, ref = spec.rsplit("@", 1)
    ws = Workspace(Path(root_text))
    if not ws.info_path.is_file():
        raise ConfigError(label, f"{root_text} is not a workspace (no workspace.json)")
    if not _REF.match(ref):
        raise ConfigError(label, f"unknown candidate '{ref}': use exp-NNNN, a number or best")
    tag = f"exp-{int(ref):04d}" if ref.isdigit() else ref
    if not ws.versions.has(tag):
        raise ConfigError(label, f"{root_text} has no candidate '{tag}'")
    folder = ws.versions.export(tag, scratch / label / ws.info().agent_name)
    stored = sorted(ws.experiments_dir.glob("*/*/*/results.json"))
    stored += sorted((ws.root / "final").glob("*/sealed/*/results.json"))
    return Side(label=label, spec=spec, folder=folder, digest=_digest(folder), workspace=ws,
                stored=stored)


def _digest(folder: Path) -> str:
    try:
        return candidate_digest(folder)
    except Exception as error:  # a tree the runner would refuse (links, size caps)
        raise ConfigError("agent", f"{folder}: {error}") from None


def _load(path: Path) -> RunResult:
    try:
        return RunResult.load(path)
    except (OSError, ValueError) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ConfigError(str(path), f"not a readable results.json: {first}") from None


def counted(run: RunResult) -> Episodes:
    table: Episodes = {}
    for e in sorted(run.episodes, key=lambda e: (e.task_id, e.trial)):
        if e.status != "error":
            table.setdefault(e.task_id, []).append(e)
    return table


def matching_runs(side: Side, *, benchmark: str, split: str, model: str) -> list[RunResult]:
    """The side's stored runs of the same code, model, benchmark and split."""
    found = []
    for path in side.stored:
        try:
            run = RunResult.load(path)
        except (OSError, ValueError):
            continue  # a half-written or foreign file is simply not reusable
        if (run.agent_sha256 == side.digest and run.model == model and run.split == split
                and run.benchmark == benchmark):
            found.append(run)
            side.found[run.run_id] = path.parent
    return found


def reuse(side: Side, runs: list[RunResult], tasks: list[str], trials: int) -> Episodes | None:
    """Episodes for every wanted task with at least `trials` counted trials, from one run."""
    for run in runs:
        table = counted(run)
        if all(len(table.get(task, [])) >= trials for task in tasks):
            side.run_dir, side.reused = side.found.get(run.run_id), True
            return {task: table[task][:trials] for task in tasks}
    return None


def stored_trials(runs: list[RunResult], tasks: list[str]) -> int:
    """The most trials one stored run holds for every wanted task (0: none covers them)."""
    best = 0
    for run in runs:
        table = counted(run)
        if tasks and all(task in table for task in tasks):
            best = max(best, min(len(table[task]) for task in tasks))
    return best

"""The workspace of one optimisation run: its folders, its identity and its lock.

```
WORKSPACE/
  workspace.json     what this run optimises (agent, benchmark, model) — checked on --resume
  code/              the workspace's own git repository of candidates (versions.py)
  experiments/NNNN/  proposal, diff, proposer log, validation, train and held-out runs, gate
  scratch/NNNN/      the candidate folder a proposer edits (a copy of the parent)
  ledger.sqlite      experiments and per-episode results; results.tsv beside it
  program.md         the human's directive (written once; the user edits it between runs)
  notes.md           one line per experiment, and what the proposer appends
  learnings.md       the proposer's own summary, fixed sections, within a line budget
  view/              what a proposer may read: train material only (view.py)
  final.json         written by `harness finalize`, which also locks the workspace
```
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel

from harness.errors import ConfigError
from harness.optimize.ledger import Ledger
from harness.optimize.versions import Versions

SCHEMA_VERSION = 1
DEFAULT_PROGRAM = """\
# Directive for the proposer

Improve the task agent's score on this benchmark by changing its harness: prompts, the way it
calls the model (parameters, demonstrations), tools and the graph that wires them.

Rules (the loop enforces them; breaking one makes the experiment `invalid`):
- One hypothesis and one mechanism per experiment. Say which tasks you expect it to fix.
- Never hard-code task ids, held-out prompts or answers. Demonstrations drawn from TRAIN tasks
  are allowed. Code that runs or decodes hidden content (exec, eval, compile, pickles,
  decompression, base64) is refused, since it could hide either.
- The agent must use the model: a candidate whose episodes make no model call at all
  (`model_free`) is not kept.
- Keep the change small and the code simple: equal scores with fewer lines is a keep.
"""
LEARNINGS_TEMPLATE = """\
# Learnings (rewrite freely; at most 60 lines)

## Current bottleneck

## Exhausted mechanisms

## Leads
"""


class WorkspaceInfo(BaseModel):
    schema_version: int = SCHEMA_VERSION
    agent: str  # absolute path of the agent folder as given
    agent_name: str
    benchmark: str
    model: str
    created_at: datetime
    finalized_at: datetime | None = None
    fingerprint: str = ""  # of the evaluation code and data, set by the first run


class Workspace:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.info_path = root / "workspace.json"
        self.code = root / "code"
        self.experiments_dir = root / "experiments"
        self.scratch = root / "scratch"
        self.view = root / "view"
        self.program = root / "program.md"
        self.notes = root / "notes.md"
        self.learnings = root / "learnings.md"
        self.final = root / "final.json"
        self.versions = Versions(self.code)
        self._ledger: Ledger | None = None

    @property
    def ledger(self) -> Ledger:
        if self._ledger is None:
            self._ledger = Ledger(self.root / "ledger.sqlite")
        return self._ledger

    def close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None

    def info(self) -> WorkspaceInfo:
        return WorkspaceInfo.model_validate_json(self.info_path.read_text())

    def experiment_dir(self, experiment: int) -> Path:
        return self.experiments_dir / f"{experiment:04d}"

    @classmethod
    def create(cls, root: Path, *, agent: Path, benchmark: str, model: str) -> Workspace:
        if root.exists() and any(root.iterdir()):
            raise ConfigError("--workspace", f"{root} exists and is not empty; pass --resume "
                              "to continue it, or choose a new folder")
        ws = cls(root)
        root.mkdir(parents=True, exist_ok=True)
        ws.versions.init(agent)
        for folder in (ws.experiments_dir, ws.scratch, ws.view):
            folder.mkdir()
        ws.program.write_text(DEFAULT_PROGRAM)
        ws.notes.write_text("# Notes: one line per experiment (the loop), and the proposer's\n")
        ws.learnings.write_text(LEARNINGS_TEMPLATE)
        info = WorkspaceInfo(agent=str(agent.resolve()), agent_name=agent.resolve().name,
                             benchmark=benchmark, model=model, created_at=datetime.now(UTC))
        _write_atomic(ws.info_path, info.model_dump_json(indent=2))  # last: marks it complete
        return ws

    @classmethod
    def open(cls, root: Path, *, agent: Path | None, benchmark: str | None,
             model: str | None) -> Workspace:
        """An existing workspace for --resume; refuses one made for another run."""
        ws = cls(root)
        if not ws.info_path.is_file():
            raise ConfigError("--resume", f"{root} is not a workspace (no workspace.json)")
        info = ws.info()
        if info.finalized_at is not None:
            raise ConfigError("--resume", f"{root} was finalized on "
                              f"{info.finalized_at:%Y-%m-%d %H:%M}; it cannot be resumed")
        if agent is not None and agent.resolve() != Path(info.agent):
            raise ConfigError("--agent", f"{root} optimises {info.agent}, not {agent.resolve()}")
        if benchmark is not None and benchmark != info.benchmark:
            raise ConfigError("--benchmark", f"{root} was made for benchmark "
                              f"{info.benchmark!r}, not {benchmark!r}")
        if model is not None and model != info.model:
            raise ConfigError("--model", f"{root} was made for model {info.model!r}, "
                              f"not {model!r}")
        return ws

    def mark_finalized(self) -> None:
        info = self.info()
        info.finalized_at = datetime.now(UTC)
        _write_atomic(self.info_path, info.model_dump_json(indent=2))


WORKSPACES_DIR = Path("workspaces")


def resolve_workspace(name: str | Path) -> Path:
    """A workspace folder from a path, or `latest`: the newest under ./workspaces."""
    if str(name) == "latest":
        found = sorted((p for p in WORKSPACES_DIR.glob("*") if (p / "workspace.json").is_file()),
                       key=lambda p: (p / "workspace.json").stat().st_mtime)
        if not found:
            raise ConfigError("WORKSPACE", f"no workspaces in {WORKSPACES_DIR}/ yet")
        return found[-1]
    path = Path(name)
    if not (path / "workspace.json").is_file():
        raise ConfigError("WORKSPACE", f"{path} is not a workspace (no workspace.json)")
    return path


def default_workspace(agent: Path, benchmark: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in benchmark)
    return WORKSPACES_DIR / f"{agent.resolve().name}-{safe}-{stamp}"


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


write_atomic = _write_atomic

"""The proposer contract: what a proposer is given (`Brief`) and what it returns (`Proposal`).

Rules for every proposer:
- It edits only `brief.candidate` (a fresh copy of the parent). Whatever it writes anywhere
  else is ignored or refused; the loop validates the folder after it returns.
- It may read `brief.view` (train traces and scores, every candidate's code, the ledger
  without per-task held-out detail). Held-out and sealed material is never in the view.
- It returns one `Proposal`: a single mechanism with its hypothesis. Predictions name TRAIN
  task ids only; the loop checks them against what really flipped.
- A proposer that cannot propose raises `ProposalError` (the experiment is `invalid` with the
  reason); only systemic failures (model server down) raise anything else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1
LEARNINGS_MAX_LINES = 60
Component = Literal["prompt", "tool", "graph", "param", "memory", "other"]


class Budgets(BaseModel):
    """What is left of the run's budgets when the proposer starts (None: unlimited)."""

    model_config = ConfigDict(extra="forbid")

    seconds_left: float | None = None
    tokens_left: int | None = None
    experiment_time_s: float | None = None


class Brief(BaseModel):
    """Everything a proposer is given for one experiment."""

    model_config = ConfigDict(extra="forbid")

    experiment: int  # 1-based
    candidate: Path  # the folder to edit: a copy of the parent
    parent: str  # the parent's tag, e.g. exp-0003
    view: Path  # read-only workspace view
    brief_file: Path  # brief.md: program.md, notes, parent's train scores and failures
    program: str
    notes: str
    learnings: str = ""
    directive: str = ""  # set by the loop: diversity or plateau demands
    budgets: Budgets = Field(default_factory=Budgets)


class Proposal(BaseModel):
    """One change, as the proposer describes it."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = SCHEMA_VERSION
    description: str = Field(min_length=1, max_length=300)
    hypothesis: str = Field(min_length=1, max_length=4000)
    mechanism: str = Field(min_length=1, max_length=1000)
    component: Component = "other"
    predicted_fixes: list[str] = Field(default_factory=list, max_length=1000)
    risk_tasks: list[str] = Field(default_factory=list, max_length=1000)
    input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)
    cost_usd: float = Field(default=0.0, ge=0)
    # Tokens the proposer spent running the task agent (the meta-agent's smoke runs).
    task_tokens: int = Field(default=0, ge=0)
    trace: str | None = None  # where the proposer's own trace or log is
    # A rewrite of learnings.md (its fixed sections), or None to leave it as it is. Over
    # LEARNINGS_MAX_LINES lines it is refused, with the experiment going on without it.
    learnings: str | None = Field(default=None, max_length=20_000)
    # Lines for notes.md (what was tried, what to try next); added once the change is checked.
    notes: list[str] = Field(default_factory=list, max_length=10)
    # What the proposer did, by kind (tool calls, moves, tests written, subagents spawned).
    activity: dict[str, int] = Field(default_factory=dict)


class ProposalError(Exception):
    """The proposer could not produce a valid proposal (the experiment is `invalid`)."""


class Proposer(Protocol):
    """`async propose(brief) -> Proposal`; see the module docstring for the rules."""

    async def propose(self, brief: Brief) -> Proposal: ...


def proposer_kind(proposer: object) -> str:
    """A short name for the ledger: meta, moves, command, or the class name of any other."""
    name = type(proposer).__name__
    known = {"MetaProposer": "meta", "MovesProposer": "moves", "CommandProposer": "command",
             "CallableProposer": "callable"}
    return known.get(name, name)

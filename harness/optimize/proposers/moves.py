"""`--proposer moves`: one structured move per experiment, chosen by a bandit, no model.

The arms are (move kind, option) pairs the candidate's declared wiring points allow
(`set_param:temperature=0`, `add_block:votes=5`, `add_demos:4`, `set_prompt:system+careful`,
...). Each experiment draws one score per arm by Thompson sampling from a Beta posterior of
its keep rate, pooled with its kind's (so one kept `add_demos:2` lifts `add_demos:4` a little),
read from the view's experiment summaries (`status`, `parent`, and the `[arm ...]` tag in
`mechanism`). The random generator is seeded by the experiment number, so a run is
reproducible. Arms already tried from this parent come last (the loop rejects a duplicate
diff); arms that cannot apply (a refused or no-op move) are skipped. It is the ablation
baseline that the meta-agent must beat.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.optimize.memory import banned_component
from harness.optimize.proposal import Brief, Proposal, ProposalError
from meta_agent.moves import (
    Arm,
    MoveError,
    MoveResult,
    add_block,
    add_demos,
    parse_arm,
    set_param,
    set_prompt,
)
from meta_agent.moves._candidate import read_strategy_data
from meta_agent.moves.arms import value_text

IGNORED_STATUSES = {"baseline", "interrupted"}
KIND_POOLING = 0.5  # weight of the kind's record in each of its arms' priors
TEMPERATURES = (0, 0.3, 0.7)
MAX_TOKENS = (512, 1024, 4096)
PROMPT_SUFFIXES = {
    "careful": "Work carefully: check each step before you give the final answer.",
    "brief": "Be brief: use no more steps than the problem needs.",
}
Apply = Callable[[Brief], MoveResult]


@dataclass(frozen=True)
class ArmSpec:
    arm: Arm
    apply: Apply


@dataclass
class Record:
    keeps: int = 0
    tries: int = 0

    def add(self, kept: bool) -> None:
        self.keeps += kept
        self.tries += 1


def _param(name: str, value: object) -> ArmSpec:
    return ArmSpec(Arm("set_param", f"{name}={value_text(value)}"),
                   lambda brief: set_param(brief.candidate, name, value))


def _block(kind: str, option: str | None, value: int | None) -> ArmSpec:
    options = {option: value} if option else {}
    label = f"{kind}={value}" if option else kind
    return ArmSpec(Arm("add_block", label),
                   lambda brief: add_block(brief.candidate, kind, options))


def _demos(k: int) -> ArmSpec:
    return ArmSpec(Arm("add_demos", str(k)), lambda brief: add_demos(
        brief.candidate, brief.view, k, parent=brief.parent, seed=brief.experiment))


def _prompt(label: str, suffix: str) -> ArmSpec:
    def apply(brief: Brief) -> MoveResult:
        current = (brief.candidate / "prompts" / "system.md").read_text(encoding="utf-8")
        if suffix in current:
            raise MoveError(f"the system prompt already says {suffix!r}")
        return set_prompt(brief.candidate, "system", f"{current.strip()}\n\n{suffix}",
                          label=label)
    return ArmSpec(Arm("set_prompt", f"system+{label}"), apply)


def catalogue(candidate: Path) -> list[ArmSpec]:
    """The arms this candidate's declared wiring points allow (ProposalError: none)."""
    try:
        declared = read_strategy_data(candidate)
    except MoveError as error:
        raise ProposalError(f"moves proposer: {error}") from None
    arms = [_param("temperature", t) for t in TEMPERATURES]
    arms += [_param("max_tokens", n) for n in MAX_TOKENS]
    if "votes" in declared:
        arms += [_block("votes", "k", k) for k in (3, 5)]
    if "verify_rounds" in declared:
        arms += [_block("verify", "rounds", r) for r in (1, 2)]
    if "calculator" in declared:
        arms.append(_block("calculator", None, None))
    if "demos" in declared:
        arms += [_demos(k) for k in (2, 4)]
    if (candidate / "prompts" / "system.md").is_file():
        arms += [_prompt(label, text) for label, text in PROMPT_SUFFIXES.items()]
    return arms


def history(view: Path) -> list[tuple[str, Arm, bool]]:
    """(parent, arm, kept) of every finished experiment in the view made by a move."""
    rows: list[tuple[str, Arm, bool]] = []
    for summary in sorted((view / "experiments").glob("*/summary.json")):
        try:
            data = json.loads(summary.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        if not isinstance(data, dict) or data.get("status") in IGNORED_STATUSES:
            continue
        arm = parse_arm(str(data.get("mechanism") or ""))
        if arm is not None:
            rows.append((str(data.get("parent") or ""), arm, data.get("status") == "keep"))
    return rows


def ranked(arms: list[ArmSpec], rows: list[tuple[str, Arm, bool]],
           rng: random.Random) -> list[tuple[float, ArmSpec]]:
    """Arms by one Thompson draw each, best first."""
    per_arm: dict[str, Record] = {}
    per_kind: dict[str, Record] = {}
    for _, arm, kept in rows:
        per_arm.setdefault(str(arm), Record()).add(kept)
        per_kind.setdefault(arm.kind, Record()).add(kept)
    draws = []
    for spec in arms:
        own = per_arm.get(str(spec.arm), Record())
        kind = per_kind.get(spec.arm.kind, Record())
        alpha = 1 + own.keeps + KIND_POOLING * kind.keeps
        beta = 1 + (own.tries - own.keeps) + KIND_POOLING * (kind.tries - kind.keeps)
        draws.append((rng.betavariate(alpha, beta), spec))
    return sorted(draws, key=lambda pair: -pair[0])


# The component each kind of move changes (as its MoveResult says), known before applying.
KIND_COMPONENT = {"set_param": "param", "set_prompt": "prompt", "add_demos": "prompt",
                  "add_block": "graph"}


class MovesProposer:
    """See the module docstring."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def choose(self, brief: Brief) -> tuple[MoveResult, float, list[str]]:
        """Apply the best-drawn arm that works; (its result, its draw, arms refused)."""
        rows = history(brief.view)
        tried = {str(arm) for parent, arm, _ in rows if parent == brief.parent}
        rng = random.Random(f"moves:{self.seed}:{brief.experiment}")
        order = ranked(catalogue(brief.candidate), rows, rng)
        order = [p for p in order if str(p[1].arm) not in tried] + [
            p for p in order if str(p[1].arm) in tried]  # repeats only when nothing else works
        banned = banned_component(brief.directive)  # the loop refuses it: never propose it
        order = [p for p in order if KIND_COMPONENT.get(p[1].arm.kind) != banned]
        refused: list[str] = []
        for draw, spec in order:
            try:
                return spec.apply(brief), draw, refused
            except MoveError as error:  # includes NoChange: this arm changes nothing here
                refused.append(f"{spec.arm}: {error}")
        raise ProposalError("moves proposer: no structured move applies to this candidate: "
                            + "; ".join(refused)[:900])

    async def propose(self, brief: Brief) -> Proposal:
        result, draw, refused = self.choose(brief)
        rows = history(brief.view)
        record = Counter(kept for _, arm, kept in rows if arm == result.arm)
        hypothesis = (f"{result.description}. Chosen by Thompson sampling over structured "
                      f"moves (draw {draw:.2f}; this arm was kept {record[True]} of "
                      f"{record[True] + record[False]} times so far"
                      + (f"; {len(refused)} arms did not apply here" if refused else "")
                      + "). The held-out gate decides whether it helps.")
        return Proposal(description=result.description[:300], hypothesis=hypothesis,
                        mechanism=result.mechanism[:1000], component=result.component)

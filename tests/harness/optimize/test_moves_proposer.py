"""`--proposer moves`: one structured move per experiment by a seeded Thompson bandit over
the arms the candidate declares, no model. Its ledger is simulated by experiment summaries
laid out as the workspace view lays them out (`experiments/NNNN/summary.json`)."""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from collections import Counter
from pathlib import Path

import pytest

import task_agents
from harness.errors import ConfigError
from harness.optimize.proposal import Brief, Proposal, ProposalError
from harness.optimize.proposers import ProposerSettings, make_proposer
from harness.optimize.proposers.moves import MovesProposer, catalogue
from meta_agent.moves import parse_arm
from task_agents.lib.strategy import load_strategy

AGENTS = Path(task_agents.__file__).resolve().parent


def copy_agent(name: str, tmp_path: Path) -> Path:
    target = tmp_path / f"{name}-{uuid.uuid4().hex[:6]}"
    shutil.copytree(AGENTS / name, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def brief(candidate: Path, view: Path, experiment: int, parent: str = "exp-0000") -> Brief:
    view.mkdir(exist_ok=True)
    return Brief(experiment=experiment, candidate=candidate, parent=parent, view=view,
                 brief_file=view / "brief.md", program="", notes="")


def plant(view: Path, rows: list[tuple[str, str, str]]) -> None:
    """Ledger rows as view summaries: (parent, arm, status)."""
    for number, (parent, arm, status) in enumerate(rows, start=1):
        folder = view / "experiments" / f"{number:04d}"
        folder.mkdir(parents=True)
        (folder / "summary.json").write_text(json.dumps({
            "experiment": number, "status": status, "parent": parent,
            "description": "d", "mechanism": f"something [arm {arm}]"}))


def files_digest(folder: Path) -> str:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    return hashlib.sha256(b"".join(p.name.encode() + p.read_bytes() for p in files)).hexdigest()


async def propose(tmp_path: Path, view: Path, experiment: int, name: str = "solver",
                  parent: str = "exp-0000", seed: int = 0) -> tuple[Proposal, Path]:
    candidate = copy_agent(name, tmp_path)
    proposal = await MovesProposer(seed).propose(brief(candidate, view, experiment, parent))
    return proposal, candidate


def arm_of(proposal: Proposal) -> str:
    arm = parse_arm(proposal.mechanism)
    assert arm is not None
    return str(arm)


@pytest.mark.parametrize("name", ["solver", "coder", "caller"])
async def test_it_proposes_a_valid_move_on_every_starter(name: str, tmp_path: Path) -> None:
    original = files_digest(AGENTS / name)
    proposal, candidate = await propose(tmp_path, tmp_path / "view", 1, name)
    assert files_digest(candidate) != original  # something was edited
    assert proposal.component in ("prompt", "param", "graph", "memory")
    assert proposal.input_tokens == proposal.output_tokens == 0
    assert proposal.description and "Thompson" in proposal.hypothesis
    load_strategy(candidate / "agent.py")  # still loads


async def test_it_is_deterministic_given_the_experiment(tmp_path: Path) -> None:
    view = tmp_path / "view"
    first, a = await propose(tmp_path, view, 3)
    second, b = await propose(tmp_path, view, 3)
    assert first == second and files_digest(a) == files_digest(b)
    arms = {arm_of((await propose(tmp_path, view, n))[0]) for n in range(1, 9)}
    assert len(arms) >= 3  # different experiments explore different arms


async def test_it_never_repeats_a_move_from_the_same_parent_when_it_can(tmp_path: Path) -> None:
    view = tmp_path / "view"
    every = [str(spec.arm) for spec in catalogue(AGENTS / "solver")]
    plant(view, [("exp-0000", arm, "discard") for arm in every if arm != "add_block:calculator"])
    for experiment in range(20, 26):
        proposal, _ = await propose(tmp_path, view, experiment)
        assert arm_of(proposal) == "add_block:calculator"
    # From another parent every arm is new again: the choice is no longer forced.
    elsewhere = {arm_of((await propose(tmp_path, view, n, parent="exp-0007"))[0])
                 for n in range(20, 26)}
    assert elsewhere != {"add_block:calculator"}


async def test_the_bandit_prefers_arms_that_were_kept(tmp_path: Path) -> None:
    view = tmp_path / "view"
    plant(view, [(f"exp-{i:04d}", "set_param:temperature=0.3", "keep") for i in range(6)]
          + [(f"exp-{i:04d}", "add_block:votes=3", "discard") for i in range(6)])
    chosen = Counter([arm_of((await propose(tmp_path, view, n, parent="exp-0100"))[0])
                      for n in range(100, 140)])
    assert chosen.most_common(1)[0][0] == "set_param:temperature=0.3"
    assert chosen["set_param:temperature=0.3"] >= 10
    assert chosen["add_block:votes=3"] == 0


async def test_no_strategy_data_is_a_proposal_error(tmp_path: Path) -> None:
    candidate = copy_agent("solver", tmp_path)
    (candidate / "strategy.json").unlink()
    with pytest.raises(ProposalError, match=r"no strategy\.json"):
        await MovesProposer().propose(brief(candidate, tmp_path / "view", 1))


def test_make_proposer_knows_moves(tmp_path: Path) -> None:
    settings = ProposerSettings(log_dir=tmp_path)
    assert isinstance(make_proposer("moves", settings), MovesProposer)
    assert make_proposer("moves:7", settings).seed == 7  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="seed must be a non-negative integer"):
        make_proposer("moves:x", settings)


async def test_it_obeys_the_briefs_demand_for_another_component(tmp_path: Path) -> None:
    view = tmp_path / "view"
    for experiment in range(1, 13):
        candidate = copy_agent("solver", tmp_path)
        demanded = brief(candidate, view, experiment).model_copy(update={
            "directive": "Change a component other than param: the last 3 experiments all "
                         "changed it."})
        proposal = await MovesProposer(0).propose(demanded)
        assert proposal.component != "param", arm_of(proposal)

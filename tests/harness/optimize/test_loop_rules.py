"""Rules the loop enforces in code: model-free candidates, diversity, inert mechanisms,
learnings' budget."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.optimize.loop import optimize
from harness.optimize.proposal import Brief, Proposal
from harness.optimize.proposers import CallableProposer
from harness.optimize.workspace import Workspace
from harness.sandbox import detect_isolation
from harness.testing import ScriptedServer
from tests.harness.optimize.conftest import loop_config, write_echo_agent, write_tasks

pytestmark = pytest.mark.skipif(not detect_isolation().isolated,
                                reason="needs bubblewrap or unshare for isolation")

MODEL_FREE = '''
async def run(task, ctx):
    split, _, number = task.prompt.partition(" question ")
    return f"ans-{split}-{number}"
'''
briefs: list[Brief] = []
brief_texts: list[str] = []  # brief.md as the proposer saw it (scratch is gone afterwards)


def proposer(brief: Brief) -> Proposal:
    briefs.append(brief)
    brief_texts.append(brief.brief_file.read_text())
    agent = brief.candidate / "agent.py"
    learnings = None
    if brief.experiment == 1:
        agent.write_text(MODEL_FREE)
    elif brief.experiment == 5:
        learnings = "# Learnings\n\n## Current bottleneck\nparams are exhausted\n"
    elif brief.experiment == 6:
        learnings = "\n".join(f"line {i}" for i in range(80))
    agent.write_text(agent.read_text() + f"\nVARIATION = {brief.experiment}\n")
    component = "prompt" if brief.experiment >= 5 else "param"
    mechanism = "a check step (mechanism:verify)" if brief.experiment == 2 else "m"
    return Proposal(description=f"variation {brief.experiment}", hypothesis="h",
                    mechanism=mechanism, component=component, learnings=learnings)


async def test_model_free_diversity_and_learnings(tmp_path: Path,
                                                  model: ScriptedServer) -> None:
    bench = write_tasks(tmp_path)
    agent = write_echo_agent(tmp_path, mode="some")
    ws = Workspace.create(tmp_path / "ws", agent=agent, benchmark=bench,
                          model=f"openai:{model.base_url}#scripted")
    briefs.clear()
    brief_texts.clear()
    await optimize(loop_config(model, iterations=6), ws, CallableProposer(proposer))
    rows = {e.experiment: e for e in ws.ledger.experiments()}

    # a candidate that solves everything without calling the model is flagged, not kept
    assert rows[1].model_free and rows[1].status == "discard" and rows[1].train == 1.0
    assert "model_free" in rows[1].reason and rows[1].held_out is None
    assert "model_free" in ws.notes.read_text()
    # three param changes in a row: the fourth brief demands another component, and a
    # proposal that ignores the demand is refused without evaluation
    assert [rows[n].component for n in (1, 2, 3)] == ["param"] * 3
    assert "other than param" in briefs[3].directive
    assert "other than param" in brief_texts[3]
    assert rows[4].status == "invalid" and rows[4].reason.startswith("diversity rule")
    assert "other than param" in briefs[4].directive  # the refused one counts as a param
    assert rows[5].status == "discard" and not briefs[5].directive.count("other than")
    # a mechanism the agent never used is marked inert (the echo agent has no verify step)
    assert rows[2].inert and not rows[3].inert
    assert "inert" in ws.notes.read_text()
    # learnings: a rewrite within budget replaces the file; one over budget is refused
    assert ws.learnings.read_text().startswith("# Learnings\n\n## Current bottleneck")
    assert "learnings.md not rewritten: 80 lines" in ws.notes.read_text()

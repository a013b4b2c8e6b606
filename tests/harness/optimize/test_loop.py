"""The loop end to end on a scripted model: what is kept, discarded and refused, and why.

One run of six experiments, each a different kind of proposal from a scripted proposer:
no-op, a broken agent, a hard-coded held-out task id, a worse change, a gain within noise,
and a real gain. The baseline's mode solves 2 of 12 held-out tasks (ids ending in 1).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.optimize import memory
from harness.optimize.ledger import TSV_COLUMNS
from harness.optimize.loop import optimize
from harness.optimize.proposal import Brief, Proposal
from harness.optimize.proposers import CallableProposer
from harness.optimize.workspace import Workspace
from harness.sandbox import detect_isolation
from harness.testing import ScriptedServer
from tests.harness.optimize.conftest import (
    assert_view_clean,
    loop_config,
    set_mode,
    write_echo_agent,
    write_tasks,
)

pytestmark = pytest.mark.skipif(not detect_isolation().isolated,
                                reason="needs bubblewrap or unshare for isolation")


def _proposal(description: str, component: str = "prompt", **extra: object) -> Proposal:
    return Proposal(description=description, hypothesis=f"{description} helps",
                    mechanism=description, component=component, **extra)  # type: ignore[arg-type]


def scripted_proposer(brief: Brief) -> Proposal:
    agent = brief.candidate / "agent.py"
    match brief.experiment:
        case 1:
            return _proposal("change nothing")
        case 2:
            agent.write_text(agent.read_text() + "\ndef broken(:\n")
            return _proposal("broken syntax", "graph")
        case 3:
            agent.write_text(agent.read_text() + "\nLOOKUP = {'held_out-task-03': 'x'}\n")
            return _proposal("lookup table", "memory")
        case 4:
            set_mode(brief.candidate, "bad")
            return _proposal("worse mode", "param")
        case 5:
            set_mode(brief.candidate, "more")
            return _proposal("slightly better mode", "param")
        case _:
            set_mode(brief.candidate, "good")
            return _proposal("good mode", "param", predicted_fixes=["train-task-00"])


async def test_loop_keeps_only_a_real_gain(tmp_path: Path, model: ScriptedServer) -> None:
    model.responder = _with_more(model.responder)
    bench = write_tasks(tmp_path)
    agent = write_echo_agent(tmp_path, mode="some")
    ws = Workspace.create(tmp_path / "ws", agent=agent, benchmark=bench,
                          model=f"openai:{model.base_url}#scripted")
    config = loop_config(model, iterations=6)

    await optimize(config, ws, CallableProposer(scripted_proposer))

    rows = {e.experiment: e for e in ws.ledger.experiments()}
    assert [rows[n].status for n in range(7)] == [
        "baseline", "invalid", "invalid", "invalid", "discard", "discard", "keep"]
    assert rows[1].reason.startswith("no-op")
    assert "smoke" in rows[2].reason and "SyntaxError" in rows[2].reason
    assert rows[3].reason.startswith("anti-gaming")
    assert "held_out-task-03" not in rows[3].reason  # the reason is safe to show
    assert (ws.experiment_dir(3) / "evidence.jsonl").read_text().count("held_out-task-03")
    assert rows[4].delta is not None and rows[4].delta < 0
    assert rows[5].delta is not None and rows[5].delta > 0 and rows[5].p_value > 0.10
    assert rows[6].p_value is not None and rows[6].p_value < 0.01
    assert rows[6].held_out == 1.0 and rows[0].held_out == pytest.approx(2 / 12)
    assert rows[6].reused_parent_trials  # the baseline's stored trials were the control
    assert rows[6].predictions["verdict"] == "effective"
    # git and ledger agree; best points at the kept candidate
    versions = ws.versions
    assert versions.sha("best") == versions.sha("exp-0006") == rows[6].commit
    assert "exp-0001" in versions.tags() and rows[1].commit
    tsv = ws.ledger.tsv.read_text().splitlines()
    assert tsv[0].split("\t") == list(TSV_COLUMNS) and len(tsv) == 8
    assert tsv[7].split("\t")[10] == "keep"
    notes = ws.notes.read_text()
    assert "exp-0006 [keep]" in notes and "predictions effective" in notes
    # the view: train material only, every candidate's code and train transcripts
    assert assert_view_clean(ws.view, bench) > 20
    assert (ws.view / "candidates" / "exp-0006" / "agent.py").read_text().count("good")
    transcripts = list((ws.view / "experiments" / "0006" / "train" / "transcripts").iterdir())
    assert len(transcripts) == 6 and "train question" in transcripts[0].read_text()
    assert not (ws.view / "experiments" / "0006" / "held_out").exists()
    # nothing a held-out episode spent (tokens, time) reaches the view: a candidate could
    # encode in either what it saw there
    summary = json.loads((ws.view / "experiments" / "0006" / "summary.json").read_text())
    assert "seconds" not in summary and "task_tokens" not in summary
    assert summary["train_tokens"] == rows[6].task_tokens - rows[6].held_out_tokens > 0
    view_row = (ws.view / "results.tsv").read_text().splitlines()[7].split("\t")
    assert view_row[9] == "" and int(view_row[7]) == rows[6].tokens - rows[6].held_out_tokens
    assert not any(ws.scratch.iterdir())  # proposers' folders go once recorded
    # a kill between the ledger row and the view is repaired on resume
    shutil.rmtree(ws.view / "experiments" / "0006")
    memory.forget_unfinished(ws)
    assert (ws.view / "experiments" / "0006" / "train" / "transcripts").is_dir()


def _with_more(inner):  # type: ignore[no-untyped-def]
    """`MODE=more` solves what `some` does plus ids ending in 2: a gain within noise."""
    import re

    from harness.testing import Reply

    def respond(body):  # type: ignore[no-untyped-def]
        text = str(body["messages"][-1]["content"])
        found = re.search(r"MODE=more Q=(\w+) question (\d+)", text)
        if found:
            split, number = found.group(1), int(found.group(2))
            right = number % 10 in (1, 2)
            return Reply.text(f"ans-{split}-{number}" if right else "wrong")
        return inner(body)

    return respond

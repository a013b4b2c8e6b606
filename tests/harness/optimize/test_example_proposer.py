"""The example command proposer shipped in examples/ makes a real edit the loop accepts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.optimize.loop import optimize
from harness.optimize.proposers import ProposerSettings, make_proposer
from harness.optimize.workspace import Workspace
from harness.sandbox import detect_isolation
from harness.testing import ScriptedServer
from tests.harness.optimize.conftest import loop_config, write_tasks

pytestmark = pytest.mark.skipif(not detect_isolation().isolated,
                                reason="needs bubblewrap or unshare for isolation")
ROOT = Path(__file__).resolve().parents[3]


async def test_example_script_edits_the_solver(tmp_path: Path, model: ScriptedServer) -> None:
    bench = write_tasks(tmp_path, train=2, held_out=4, sealed=1)
    agent = tmp_path / "solver"
    shutil.copytree(ROOT / "task_agents" / "solver", agent)
    ws = Workspace.create(tmp_path / "ws", agent=agent, benchmark=bench,
                          model=f"openai:{model.base_url}#scripted")
    proposer = make_proposer(f"command:{ROOT / 'examples' / 'propose_edit.sh'}",
                             ProposerSettings(log_dir=tmp_path / "logs"))
    await optimize(loop_config(model, iterations=2), ws, proposer)

    rows = {e.experiment: e for e in ws.ledger.experiments()}
    assert rows[1].status in ("keep", "discard") and rows[2].status in ("keep", "discard")
    assert rows[1].description.startswith("greedy decoding")
    first = json.loads(ws.versions.git("show", "exp-0001:strategy.json"))
    assert first["model_params"]["temperature"] == 0.0
    assert "max_tokens" in (ws.experiment_dir(2) / "diff.patch").read_text()
    sent = [r for r in model.requests if r.get("temperature") == 0.0]
    assert sent  # the edit reached the model requests of the evaluation

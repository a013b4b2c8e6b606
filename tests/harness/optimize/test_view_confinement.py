"""A command proposer that plants links to held-out material gets nothing into the view.

It runs sandboxed (it cannot read the data itself); what it can do is leave links, `..`
paths and absolute paths in the candidate folder, hoping the loop will follow them when it
stages, commits or exports the candidate. The loop refuses the folder (`invalid`), and every
file of the view is searched for every held-out and sealed task id, prompt and answer.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.optimize.loop import optimize
from harness.optimize.proposers import ProposerSettings, make_proposer
from harness.optimize.workspace import Workspace
from harness.sandbox import detect_isolation
from harness.testing import ScriptedServer
from tests.harness.optimize.conftest import (
    assert_view_clean,
    loop_config,
    write_echo_agent,
    write_tasks,
)

pytestmark = pytest.mark.skipif(not detect_isolation().isolated,
                                reason="needs bubblewrap or unshare for isolation")
PROPOSAL = ('printf \'{"description": "d", "hypothesis": "h", "mechanism": "m"}\' '
            '> "$HARNESS_PROPOSAL"')


def _planting(tasks: Path, ws: Path, experiment: int) -> str:
    links = {
        1: f"ln -s {tasks} tasks.jsonl",  # absolute link to the benchmark file
        2: "ln -s ../../../experiments history",  # `..` up into the workspace
        3: f"mkdir sub && ln -s {ws}/experiments/0000 sub/runs",  # a linked folder
        4: f"ln -s {ws}/ledger.sqlite ledger.sqlite",
    }[experiment]
    return f"{links}; echo '# {experiment}' >> agent.py; {PROPOSAL}"


async def test_planted_links_reach_neither_runs_nor_view(tmp_path: Path,
                                                        model: ScriptedServer) -> None:
    bench = write_tasks(tmp_path)
    tasks = Path(bench.removeprefix("jsonl:"))
    agent = write_echo_agent(tmp_path, mode="some")
    ws = Workspace.create(tmp_path / "ws", agent=agent, benchmark=bench,
                          model=f"openai:{model.base_url}#scripted")
    script = tmp_path / "plant.sh"
    script.write_text("case $HARNESS_EXPERIMENT in\n" + "".join(
        f"{n}) {_planting(tasks, ws.root, n)} ;;\n" for n in (1, 2, 3, 4)) + "esac\n")
    config = loop_config(model, iterations=4)
    script.chmod(0o755)  # named first in the command, it is shown read-only in the sandbox
    proposer = make_proposer(f"command:{script}", ProposerSettings(
        log_dir=lambda brief: ws.experiment_dir(brief.experiment) / "proposer"))
    await optimize(config, ws, proposer)

    rows = {e.experiment: e for e in ws.ledger.experiments()}
    for n in (1, 2, 3, 4):
        assert rows[n].status == "invalid", rows[n]
        assert "symbolic link" in rows[n].reason or "link" in rows[n].reason, rows[n].reason
        assert not rows[n].commit  # nothing was committed, staged or evaluated
    assert ws.versions.tags() == ["exp-0000"]
    assert assert_view_clean(ws.view, bench) > 5

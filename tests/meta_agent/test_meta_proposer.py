"""The meta-agent end to end on a scripted model: it investigates, edits, tests, spawns
investigators and submits; the loop keeps the candidate because the task model does better.

The scripted server plays both models. Requests whose system prompt is the meta-agent's (or
an investigator's) get the next step of a script; the task agent's requests get the echo
answers of `tests/harness/optimize/conftest.py`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.optimize.loop import optimize
from harness.optimize.proposers import ProposerSettings, make_proposer
from harness.optimize.workspace import Workspace
from harness.sandbox import detect_isolation
from harness.testing import Reply, ScriptedServer
from tests.harness.optimize.conftest import answer, loop_config, write_echo_agent, write_tasks
from traces.store import TraceStore

pytestmark = pytest.mark.skipif(not detect_isolation().isolated,
                                reason="needs bubblewrap or unshare for isolation")
TEST_CODE = "from agent import MODE\n\n\ndef test_mode_is_good():\n    assert MODE == 'good'\n"
MAIN_SCRIPT: list[tuple[str, dict[str, Any]]] = [
    ("failures", {"candidate": "exp-0000"}),
    ("trace", {"candidate": "exp-0000", "task_id": "train-task-00"}),
    ("spawn_subagents", {"tasks": [{"instruction": "Why does train-task-00 fail?"},
                                   {"instruction": "What does the agent send?",
                                    "files": ["candidate/agent.py"]}]}),
    ("edit_file", {"path": "candidate/agent.py", "old": 'MODE = "some"',
                   "new": 'MODE = "good"'}),
    ("write_test", {"name": "mode", "code": TEST_CODE}),
    ("run_tests", {}),
    ("smoke_run", {"task_ids": ["train-task-00"]}),
    ("submit", {"description": "answer in the good mode", "hypothesis": "the good mode "
                "solves what the some mode misses", "mechanism": "prompt mode flag",
                "component": "prompt", "predicted_fixes": ["train-task-00"]}),
]


def _role(body: dict[str, Any]) -> str:
    system = str(body["messages"][0].get("content", "")) if body["messages"] else ""
    if "You are the meta-agent" in system:
        return "meta"
    return "investigator" if "You are an investigator" in system else "task"


def responder(body: dict[str, Any]) -> Reply:
    role = _role(body)
    if role == "task":
        return answer(body)
    step = sum(m["role"] == "assistant" for m in body["messages"])
    if role == "investigator":
        if step == 0:
            return Reply.tool_call("failures", {"candidate": "exp-0000"})
        return Reply.text("train-task-00 fails: the agent runs in the 'some' mode.")
    name, arguments = MAIN_SCRIPT[min(step, len(MAIN_SCRIPT) - 1)]
    return Reply.tool_call(name, arguments)


@pytest.fixture
def meta_model() -> Any:
    with ScriptedServer(responder=responder) as server:
        yield server


async def test_meta_agent_session_is_kept_and_traced(tmp_path: Path,
                                                     meta_model: ScriptedServer) -> None:
    bench = write_tasks(tmp_path)
    agent = write_echo_agent(tmp_path, mode="some")
    spec = f"openai:{meta_model.base_url}#scripted"
    ws = Workspace.create(tmp_path / "ws", agent=agent, benchmark=bench, model=spec)
    config = loop_config(meta_model, iterations=1, proposer="meta")
    proposer = make_proposer("meta", ProposerSettings(
        log_dir=tmp_path, config=config, workspace=ws.root, benchmark=bench))
    await optimize(config, ws, proposer)

    row = ws.ledger.get(1)
    assert row is not None and row.status == "keep", row
    assert row.description == "answer in the good mode" and row.component == "prompt"
    assert row.proposer_tokens > 0 and row.predictions["verdict"] == "effective"
    assert row.activity["write_test"] == 1 and row.activity["spawn_subagents"] == 1
    assert row.activity["run_tests"] == 1 and row.activity["free_edits"] == 1
    meta = ws.experiment_dir(1) / "meta"
    session = json.loads((meta / "session.json").read_text())
    assert session["end"] == "submitted" and session["steps"] == len(MAIN_SCRIPT)
    with TraceStore(meta / "traces.sqlite") as store:
        names = [s.name for e in store.episodes() for s in store.spans(e.episode_id)]
    tools = {n.removeprefix("execute_tool ") for n in names if n.startswith("execute_tool")}
    assert {name for name, _ in MAIN_SCRIPT} <= tools
    assert sum(n == "invoke_agent investigator-1" for n in names) == 1
    assert sum(n.startswith("chat") for n in names) >= len(MAIN_SCRIPT) + 4
    # the committed candidate carries the test the meta-agent wrote, and it passed
    assert (ws.view / "candidates" / "exp-0001" / "tests" / "test_mode.py").is_file()
    # and the transcript is readable with the usual command
    shown = subprocess.run(  # noqa: ASYNC221 - the CLI, once, after the run
        [sys.executable, "-m", "harness.cli", "traces", "show", str(meta)],
        capture_output=True, text=True, timeout=60, check=False)
    assert shown.returncode == 0 and "submit" in shown.stdout and "edit_file" in shown.stdout

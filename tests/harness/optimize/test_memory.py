"""What the loop derives from the ledger: pairing for the gate, the evaluation fingerprint."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.optimize import memory
from harness.optimize.validate import git_control_files
from harness.optimize.workspace import Workspace
from tests.harness.optimize.conftest import write_echo_agent, write_tasks


def test_a_trial_the_candidate_lost_counts_as_a_failure() -> None:
    parent = {"a": [1.0, 0.0], "b": [1.0, 1.0], "c": [0.0]}  # c lost a parent trial
    candidate = {"a": [1.0], "b": [1.0, 1.0], "c": [1.0, 1.0]}  # a lost a candidate trial
    control, treated = memory.align(parent, candidate, trials=2)
    assert control == {"a": [1.0, 0.0], "b": [1.0, 1.0]}
    assert treated == {"a": [1.0, 0.0], "b": [1.0, 1.0]}  # never a free abstention


def test_a_changed_evaluation_refuses_the_workspace(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "ws", agent=write_echo_agent(tmp_path),
                          benchmark=write_tasks(tmp_path), model="embedded")
    memory.check_fingerprint(ws, "first")
    memory.check_fingerprint(ws, "first")
    assert ws.info().fingerprint == "first"
    with pytest.raises(HarnessError, match="changed since"):
        memory.check_fingerprint(ws, "second")


def test_git_control_files_are_found_anywhere(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    assert git_control_files(tmp_path) is None
    (tmp_path / "sub" / ".gitattributes").write_text("* export-subst\n")
    assert git_control_files(tmp_path) == "sub/.gitattributes"

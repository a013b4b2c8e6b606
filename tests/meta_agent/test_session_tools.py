"""The meta-agent's session tools refuse what would leak or mislead."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import load_config
from harness.runner.staging import candidate_digest
from meta_agent.session import Session
from meta_agent.tools import FileTools, Sandbox, ToolError


def _session(tmp_path: Path) -> Session:
    candidate = tmp_path / "candidate"
    candidate.mkdir()
    (candidate / "agent.py").write_text("async def run(task, ctx):\n    return ''\n")
    view = tmp_path / "view"
    view.mkdir()
    return Session(config=load_config(None), benchmark="arithmetic", workspace=tmp_path,
                   candidate=candidate, out=tmp_path / "meta",
                   files=FileTools(Sandbox(view=view, candidate=candidate)),
                   train_ids={"train-1", "train-2"}, hidden=[],
                   start_digest=candidate_digest(candidate))


async def test_smoke_run_takes_train_ids_only_and_says_the_same_for_any_other(
        tmp_path: Path) -> None:
    session = _session(tmp_path)
    with pytest.raises(ToolError) as held_out:
        await session.smoke_run(["basic_arithmetic-20250104-3"])  # a real held-out id
    with pytest.raises(ToolError) as unknown:
        await session.smoke_run(["no-such-task"])
    assert "unknown or not a train task" in str(held_out.value)
    assert str(held_out.value).replace("basic_arithmetic-20250104-3", "X") == \
        str(unknown.value).replace("no-such-task", "X")  # no oracle for which ids exist
    with pytest.raises(ToolError, match="1 to 3"):
        await session.smoke_run(["train-1", "train-2", "train-1x", "train-2x"])
    assert session.smoke_runs == 0 and not (tmp_path / "meta").exists()


async def test_submit_refuses_an_unchanged_candidate_and_bad_fields(tmp_path: Path) -> None:
    session = _session(tmp_path)
    with pytest.raises(ToolError, match="unchanged"):
        await session.submit("d", "h", "m")
    (session.candidate / "agent.py").write_text("async def run(task, ctx):\n    return 'x'\n")
    with pytest.raises(ToolError, match="component"):
        await session.submit("d", "h", "m", component="everything")
    assert await session.submit("d", "h", "m", component="prompt") == "submitted"
    assert session.proposal is not None and session.proposal.component == "prompt"


async def test_write_test_stays_in_the_candidate_tests_folder(tmp_path: Path) -> None:
    session = _session(tmp_path)
    await session.write_test("../../escape", "def test_x():\n    assert True\n")
    written = list((session.candidate / "tests").iterdir())
    assert [p.name for p in written] == ["test_______escape.py"]
    assert not (tmp_path / "escape.py").exists()

"""The digests of train runs: grouping by failure signature, ranking for attention, failures,
contrast, trace, and diffs of code and behaviour — on a view built by hand with real traces."""

from __future__ import annotations

from pathlib import Path

import pytest

from meta_agent.tools import DigestTools, ToolError
from tests.meta_agent.conftest import Ep, add_run

CRASH = "Traceback (most recent call last):\n  File \"agent.py\", line 3\nValueError: boom 17"


def baseline() -> list[Ep]:
    return [
        *(Ep("t-flaky", trial, answer="41") for trial in (0, 1)),
        *(Ep("t-regressed", trial, passed=True, answer="8") for trial in (0, 1)),
        *(Ep("t-stable", trial, answer="3") for trial in (0, 1)),
        *(Ep("t-format", trial, answer="hmm", detail="no final answer found")
          for trial in (0, 1)),
        *(Ep("t-tool", trial, answer="5") for trial in (0, 1)),
        *(Ep("t-ok", trial, passed=True, answer="1") for trial in (0, 1)),
        *(Ep("t-fixed", trial, answer="0") for trial in (0, 1)),
    ]


def child() -> list[Ep]:
    crash = {"status": "failed", "error": CRASH, "error_kind": "crash:ValueError",
             "detail": "no answer: crash:ValueError", "answer": ""}
    return [
        Ep("t-flaky", 0, passed=True, answer="42"), Ep("t-flaky", 1, answer="41"),
        *(Ep("t-regressed", trial, answer="9") for trial in (0, 1)),
        *(Ep("t-stable", trial, **crash) for trial in (0, 1)),  # type: ignore[arg-type]
        *(Ep("t-format", trial, answer="hmm", detail="no final answer found")
          for trial in (0, 1)),
        *(Ep("t-tool", trial, answer="5", tool_error="division by zero") for trial in (0, 1)),
        *(Ep("t-ok", trial, passed=True, answer="1") for trial in (0, 1)),
        *(Ep("t-fixed", trial, passed=True, answer="7") for trial in (0, 1)),
        Ep("t-infra", 0, status="error", error="model unavailable", error_kind="model_unavailable"),
    ]


@pytest.fixture
async def view(tmp_path: Path) -> Path:
    view = tmp_path / "ws" / "view"
    await add_run(view, tmp_path / "raw", 0, baseline(), status="baseline",
                  code={"agent.py": "MODE = 'bad'\n"})
    await add_run(view, tmp_path / "raw", 1, child(), parent="exp-0000",
                  code={"agent.py": "MODE = 'good'\n", "prompts/system.md": "Be exact.\n"})
    return view


def test_overview_groups_by_signature_and_ranks_flaky_first(view: Path) -> None:
    out = DigestTools(view).overview("exp-0001")
    assert out.startswith("exp-0001 (keep, parent exp-0000): train ")
    assert "8 tasks × 2 trials; 5 of 15 episodes passed" in out
    assert "1 infrastructure errors (not the agent's failures" in out
    groups = out.split("Failures by signature (10 failed episodes):")[1].split("Tasks ranked")[0]
    assert "3× wrong answer — '…' is wrong    tasks: t-flaky, t-regressed" in groups
    assert "2× crash — ValueError: boom N    tasks: t-stable" in groups
    assert "2× format (no final answer found) — no final answer found    tasks: t-format" in groups
    assert "2× tool error — run_python: ValueError: division by zero    tasks: t-tool" in groups
    assert "1× infrastructure error — model unavailable    tasks: t-infra" in groups
    ranked = out.split("Tasks ranked for attention:")[1]
    order = [ranked.index(task) for task in ("t-flaky", "t-regressed", "t-format", "t-stable")]
    assert order == sorted(order)
    assert "flaky (some trials pass):\n    t-flaky  1/2 passed (parent 0/2)" in ranked
    assert "regressed against the parent" in ranked and "t-regressed  0/2 passed (parent 2/2)" \
        in ranked
    assert "fixed against the parent: t-fixed (2/2 passed (parent 0/2))" in ranked
    assert "t-ok" not in ranked
    assert DigestTools(view).overview("1") == out
    # The trace stores were opened read-only: nothing was written into the view.
    assert sorted(p.name for p in view.rglob("traces.sqlite*")) == ["traces.sqlite"] * 2


def test_unknown_candidates_and_tasks_are_refused_plainly(view: Path) -> None:
    tools = DigestTools(view)
    with pytest.raises(ToolError, match=r"unknown candidate 'exp-0009'.*exp-0000, exp-0001"):
        tools.overview("exp-0009")
    with pytest.raises(ToolError, match="unknown candidate"):
        tools.overview("../../experiments/0001")
    with pytest.raises(ToolError, match="not among the train tasks in the view"):
        tools.contrast("held_out-task-03")
    with pytest.raises(ToolError, match="no trial 5 of t-flaky; trials: 0, 1"):
        tools.trace("exp-0001", "t-flaky", trial=5)


def test_failures_lists_each_failed_episode_in_attention_order(view: Path) -> None:
    out = DigestTools(view).failures("exp-0001", limit=4)
    lines = out.splitlines()
    assert lines[0] == "exp-0001: 10 failed train episodes of 15"
    assert lines[1].startswith("t-flaky · trial 1 · category arith · scored wrong answer")
    assert "answer '41'" in lines[1] and "detail \"'41' is wrong\"" in lines[1]
    assert "1 calls, 0 tool calls · 12+3 tokens" in lines[1]
    assert lines[2].startswith("t-regressed · trial 0") and "answer '9'" in lines[2]
    assert lines[-1] == "… 6 more failed episodes — raise limit"
    every = DigestTools(view).failures("exp-0001", limit=50)
    assert "t-stable · trial 0 · category arith · failed crash" in every
    assert "error ValueError: boom 17" in every
    assert "scored tool error" in every
    assert "error run_python: ValueError: division by zero" in every


def test_contrast_pairs_a_passing_and_a_failing_episode(view: Path) -> None:
    tools = DigestTools(view)
    within = tools.contrast("t-flaky")  # both in the latest candidate, across trials
    passing, failing = within.split("=== FAILING")
    assert "=== PASSING: exp-0001 trial 0 ===" in passing and "answer '42'" in passing
    assert ": exp-0001 trial 1 ===" in failing and "answer '41'" in failing
    assert "--- transcript ---" in failing and "assistant: 41" in failing
    across = tools.contrast("t-regressed")  # only across candidates
    assert "PASSING: exp-0000 trial 1" in across and "FAILING: exp-0001 trial 1" in across
    assert tools.contrast("t-ok").startswith(
        "no contrast for t-ok: all 4 of its train episodes passed (in exp-0000, exp-0001)")


def test_trace_pages_the_rendered_transcript(view: Path) -> None:
    tools = DigestTools(view)
    whole = tools.trace("exp-0001", "t-tool", trial=1)
    assert whole.splitlines()[0].startswith("exp-0001 · task t-tool · trial 1 (")
    assert "== agent echo" in whole and "-> tool run_python" in whole
    assert "!! ERROR ValueError: ValueError: division by zero" in whole
    total = int(whole.splitlines()[0].split("(")[1].split()[0])
    first = tools.trace("exp-0001", "t-tool", trial=1, limit=3)
    assert first.endswith(f"… {total - 3} more lines — ask for offset 3")
    rest = tools.trace("exp-0001", "t-tool", trial=1, offset=3)
    assert rest.splitlines()[1] == "… 3 earlier lines — ask for offset 0"


def test_diff_code_between_candidates_and_the_candidate_folder(view: Path,
                                                               tmp_path: Path) -> None:
    out = DigestTools(view).diff_code("exp-0000", "exp-0001")
    assert "--- exp-0000/agent.py" in out and "-MODE = 'bad'" in out and "+MODE = 'good'" in out
    assert "=== added in exp-0001: prompts/system.md\n+Be exact." in out
    candidate = tmp_path / "scratch" / "echo"
    candidate.mkdir(parents=True)
    (candidate / "agent.py").write_text("MODE = 'best'\n")
    mine = DigestTools(view, candidate=candidate).diff_code("exp-0001", "candidate")
    assert "+MODE = 'best'" in mine and "=== removed in candidate: prompts/system.md" in mine
    assert DigestTools(view).diff_code("0", "exp-0000").startswith("no difference")


def test_diff_traces_shows_key_facts_and_the_behaviour_change(view: Path) -> None:
    out = DigestTools(view).diff_traces("exp-0000", "exp-0001", "t-regressed")
    lines = out.splitlines()
    assert lines[0] == "Task t-regressed: exp-0000 → exp-0001"
    assert lines[1].startswith("exp-0000 trial 0: category arith · scored passed · score 1")
    assert any(line.startswith("exp-0001 trial 1: ") and "answer '9'" in line for line in lines)
    assert any(line.startswith("-") and "assistant: 8" in line for line in lines)
    assert any(line.startswith("+") and "assistant: 9" in line for line in lines)
    assert not any(line.startswith(("-", "+")) and "latency=" in line and "#s" not in line
                   for line in lines)  # timings are masked, so they do not show as changes


async def test_digests_never_follow_a_link_out_of_the_view(view: Path, tmp_path: Path) -> None:
    """Defence in depth: the view holds no links, but if one appeared, digests refuse it."""
    outside = tmp_path / "held_out_run"
    await add_run(outside, tmp_path / "raw2", 2, [Ep("held-out-secret", 0)])
    folder = view / "experiments" / "0002"
    folder.mkdir()
    (folder / "summary.json").write_text('{"status": "keep", "parent": "exp-0001"}')
    (folder / "train").symlink_to(outside / "experiments" / "0002" / "train")
    (view / "candidates" / "exp-0002").symlink_to(outside / "candidates" / "exp-0002")
    tools = DigestTools(view)
    with pytest.raises(ToolError, match="symbolic link"):
        tools.overview("exp-0002")
    with pytest.raises(ToolError, match="symbolic link"):
        tools.diff_code("exp-0001", "exp-0002")
    with pytest.raises(ToolError) as caught:
        tools.contrast("held-out-secret")
    assert "symbolic link" in str(caught.value)

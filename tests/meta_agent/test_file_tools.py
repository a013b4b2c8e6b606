"""The meta-agent's file tools: confinement to the view and the candidate, writes in the
candidate only, edit semantics, paging markers, and a bounded, interruptible grep."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.runner.staging import CandidateLimits
from meta_agent.tools import MAX_RESULT_CHARS, FileTools, Sandbox, ToolError

SECRET = "HELD-OUT-SECRET-7f3a"


@pytest.fixture
def where(tmp_path: Path) -> Sandbox:
    """A view, a candidate, and secrets around them: benchmark data, the workspace's own
    experiments folder (with held-out results), and a file outside everything."""
    view = tmp_path / "ws" / "view"
    (view / "experiments" / "0001" / "train").mkdir(parents=True)
    (view / "program.md").write_text("Improve the agent.\n")
    (view / "experiments" / "0001" / "train" / "notes.txt").write_text("train only\n")
    held_out = tmp_path / "ws" / "experiments" / "0001" / "held_out"
    held_out.mkdir(parents=True)
    (held_out / "results.json").write_text(f'{{"answer": "{SECRET}"}}\n')
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "tasks.jsonl").write_text(f'{{"answer": "{SECRET}"}}\n')
    (tmp_path / "outside.txt").write_text(f"{SECRET}\n")
    candidate = tmp_path / "scratch" / "0002" / "echo"
    candidate.mkdir(parents=True)
    (candidate / "agent.py").write_text('MODE = "bad"\n\nasync def run(task, ctx):\n    pass\n')
    return Sandbox(view=view, candidate=candidate)


@pytest.fixture
def tools(where: Sandbox) -> FileTools:
    return FileTools(where, grep_timeout_s=1.0)


def refused(call: Callable[[], str], *words: str) -> str:
    with pytest.raises(ToolError) as caught:
        call()
    message = str(caught.value)
    assert SECRET not in message
    for word in words:
        assert word in message, message
    return message


def plant_links(where: Sandbox) -> dict[str, Path]:
    """Links a hostile candidate could hold: to held-out data, the workspace, outside."""
    root = where.candidate.parents[2]  # tmp_path
    links = {
        "data.jsonl": root / "bench" / "tasks.jsonl",
        "ws_experiments": root / "ws" / "experiments",
        "passwd": Path("/etc/passwd"),
        "relative": Path("../../../bench/tasks.jsonl"),
        "bench_dir": root / "bench",
        "outside.txt": root / "outside.txt",
    }
    for name, points_to in links.items():
        (where.candidate / name).symlink_to(points_to)
    return links


def test_absolute_and_dotdot_paths_are_refused(tools: FileTools, where: Sandbox) -> None:
    secret_file = str(where.candidate.parents[2] / "bench" / "tasks.jsonl")
    for path in ("/etc/passwd", secret_file, "../../../bench/tasks.jsonl",
                 "candidate/../../../../bench/tasks.jsonl", "view/../experiments/0001",
                 "experiments/0001/../../../experiments"):
        why = "absolute" if path.startswith("/") else "'..'"
        refused(lambda p=path: tools.read_file(p), why)  # type: ignore[misc]
        refused(lambda p=path: tools.list_files(p), why)  # type: ignore[misc]
        refused(lambda p=path: tools.grep("HELD", p), why)  # type: ignore[misc]
        refused(lambda p=path: tools.write_file(p, "x"), why)  # type: ignore[misc]
        refused(lambda p=path: tools.edit_file(p, "a", "b"), why)  # type: ignore[misc]
        refused(lambda p=path: tools.delete_file(p), why)  # type: ignore[misc]
    assert (where.candidate.parents[2] / "bench" / "tasks.jsonl").read_text().count(SECRET)


def test_links_planted_in_the_candidate_are_never_followed(tools: FileTools,
                                                          where: Sandbox) -> None:
    plant_links(where)
    for name in ("data.jsonl", "passwd", "relative", "outside.txt", "candidate/data.jsonl"):
        refused(lambda n=name: tools.read_file(n), "symbolic link")  # type: ignore[misc]
    for path in ("ws_experiments/0001/held_out/results.json", "bench_dir/tasks.jsonl",
                 "bench_dir/"):
        refused(lambda p=path: tools.read_file(p), "symbolic link")  # type: ignore[misc]
    for path in ("ws_experiments/0001/held_out", "bench_dir/tasks.jsonl"):
        refused(lambda p=path: tools.list_files(p), "symbolic link")  # type: ignore[misc]
        refused(lambda p=path: tools.grep(".", p), "symbolic link")  # type: ignore[misc]
    # The link itself is shown, never entered.
    assert tools.list_files("bench_dir") == "candidate/bench_dir -> symbolic link (never followed)"
    assert tools.grep(".", "bench_dir").startswith("0 hits")
    listing = tools.list_files(".")
    assert "candidate/bench_dir -> symbolic link (never followed)" in listing
    assert "tasks.jsonl" not in listing and "held_out" not in listing
    searched = tools.grep("HELD|root:")  # everything reachable from both roots
    assert searched.startswith("0 hits") and SECRET not in searched
    assert "6 entries refused" in searched


def test_writes_never_go_through_a_link(tools: FileTools, where: Sandbox) -> None:
    plant_links(where)
    outside = where.candidate.parents[2] / "outside.txt"
    refused(lambda: tools.write_file("outside.txt", "overwritten"), "symbolic link")
    refused(lambda: tools.write_file("bench_dir/new.txt", "planted"), "symbolic link")
    refused(lambda: tools.edit_file("outside.txt", SECRET, "gone"))
    assert outside.read_text() == f"{SECRET}\n"
    assert not (where.candidate.parents[2] / "bench" / "new.txt").exists()
    # Deleting a link removes the link itself; its target is untouched. Then writes work.
    for name in ("data.jsonl", "ws_experiments", "passwd", "relative", "bench_dir"):
        assert "symbolic link" in tools.delete_file(name)
    assert tools.delete_file("outside.txt") == "deleted the symbolic link candidate/outside.txt"
    assert outside.read_text() == f"{SECRET}\n"
    assert tools.write_file("outside.txt", "mine\n").startswith("created candidate/outside.txt")
    assert outside.read_text() == f"{SECRET}\n"


def test_hard_links_and_protected_paths_are_refused(where: Sandbox) -> None:
    bench = where.candidate.parents[2] / "bench"
    os.link(bench / "tasks.jsonl", where.candidate / "copy.jsonl")
    # Defence in depth: a protected folder that is somehow inside the view.
    inside = where.view / "sealed"
    inside.mkdir()
    (inside / "tasks.jsonl").write_text(SECRET)
    tools = FileTools(where, protected=[bench, inside])
    refused(lambda: tools.read_file("copy.jsonl"), "hard links")
    refused(lambda: tools.read_file("view/sealed/tasks.jsonl"), "protected")
    refused(lambda: tools.list_files("view/sealed"), "protected")
    assert "1 folders refused (protected" in tools.list_files("view")
    assert SECRET not in tools.grep("HELD", "view")
    default = FileTools(where)  # the registry's protected paths by default
    assert any(p.name == "benchmarks" for p in default.opener.protected)


def test_writes_stay_in_the_candidate_and_within_limits(tools: FileTools,
                                                        where: Sandbox) -> None:
    before = (where.view / "program.md").read_text()
    refused(lambda: tools.write_file("view/program.md", "x"), "read-only")
    refused(lambda: tools.edit_file("view/program.md", "Improve", "x"), "read-only")
    refused(lambda: tools.delete_file("view/program.md"), "read-only")
    assert (where.view / "program.md").read_text() == before
    refused(lambda: tools.write_file(".git/config", "x"), ".git")
    refused(lambda: tools.write_file("candidate", "x"), "name a file")
    refused(lambda: tools.write_file("big.txt", "x" * (1024 * 1024 + 1)), "over the")
    assert tools.write_file("lib/deep/helper.py", "X = 1\n") == \
        "created candidate/lib/deep/helper.py (1 line, 6 bytes)"
    assert (where.candidate / "lib" / "deep" / "helper.py").read_text() == "X = 1\n"
    assert tools.write_file("candidate/lib/deep/helper.py", "X = 2\nY = 3\n").startswith(
        "replaced candidate/lib/deep/helper.py (2 lines")
    small = FileTools(where, limits=CandidateLimits(max_bytes=2_000, max_entries=10))
    refused(lambda: small.write_file("huge.txt", "x" * 3_000), "would exceed")
    refused(lambda: small.write_file("a/b/c/d/e/f/g.txt", "x"), "would exceed 10 files")
    assert not (where.candidate / "huge.txt").exists() and not (where.candidate / "a").exists()


def test_edit_file_replaces_exactly_one_occurrence(tools: FileTools, where: Sandbox) -> None:
    agent = where.candidate / "agent.py"
    agent.write_text("a = 1\nb = 1\nc = 1\nMODE = 'bad'\n")
    out = tools.edit_file("agent.py", "MODE = 'bad'", "MODE = 'good'")
    assert out.startswith("edited candidate/agent.py at line 4") and "+MODE = 'good'" in out
    assert agent.read_text().endswith("MODE = 'good'\n")
    refused(lambda: tools.edit_file("agent.py", " = 1", " = 2"), "occurs 3 times",
            "lines 1, 2, 3")
    refused(lambda: tools.edit_file("agent.py", "MODE = 'nope'", "x"), "not found")
    refused(lambda: tools.edit_file("agent.py", "", "x"), "non-empty")
    refused(lambda: tools.edit_file("missing.py", "a", "b"), "no such file")
    assert agent.read_text() == "a = 1\nb = 1\nc = 1\nMODE = 'good'\n"


def test_delete_file(tools: FileTools, where: Sandbox) -> None:
    tools.write_file("tests/test_x.py", "def test(): pass\n")
    refused(lambda: tools.delete_file("tests"), "delete its files first")
    assert tools.delete_file("tests/test_x.py") == "deleted the file candidate/tests/test_x.py"
    assert tools.delete_file("tests") == "deleted the empty folder candidate/tests"
    refused(lambda: tools.delete_file("tests"), "no such")


def test_read_file_pages_with_explicit_markers(tools: FileTools, where: Sandbox) -> None:
    (where.candidate / "long.txt").write_text("".join(f"row {i}\n" for i in range(1, 451)))
    first = tools.read_file("long.txt")
    assert first.splitlines()[0] == "candidate/long.txt (450 lines)"
    assert "     1\trow 1" in first and "   200\trow 200" in first and "row 201" not in first
    assert first.endswith("… 250 more lines — ask for offset 200")
    second = tools.read_file("long.txt", offset=200)
    assert second.splitlines()[1] == "… 200 earlier lines — ask for offset 0"
    assert second.splitlines()[2] == "   201\trow 201"
    assert second.endswith("… 50 more lines — ask for offset 400")
    last = tools.read_file("long.txt", offset=400, limit=1000)
    assert last.endswith("   450\trow 450") and "more lines" not in last
    assert "past the end" in tools.read_file("long.txt", offset=450)


def test_long_lines_are_wrapped_or_cut_with_a_marker(tools: FileTools, where: Sandbox) -> None:
    (where.candidate / "wide.txt").write_text("a" * 1_000 + "\n" + "b" * 60_000 + "\nend\n")
    page = tools.read_file("wide.txt", limit=1)
    assert "\t↳ " in page and page.count("a") >= 1_000
    whole = tools.read_file("wide.txt")
    assert len(whole) <= MAX_RESULT_CHARS
    assert "… 2 more lines — ask for offset 1" in whole  # the huge line waits for its own page
    alone = tools.read_file("wide.txt", offset=1)
    assert "line 2 is 60,000 characters long" in alone and "are not shown" in alone
    assert alone.endswith("… 1 more line — ask for offset 2")
    assert len(alone) <= MAX_RESULT_CHARS


def test_bare_paths_say_which_root_matched(tools: FileTools, where: Sandbox) -> None:
    assert tools.read_file("agent.py").startswith("candidate/agent.py")
    assert tools.read_file("program.md").startswith("view/program.md")
    (where.candidate / "program.md").write_text("mine\n")
    assert tools.read_file("program.md").startswith("candidate/program.md")
    assert tools.read_file("view/program.md").startswith("view/program.md")
    refused(lambda: tools.read_file("nothing.md"), "candidate or the view")
    listing = tools.list_files(".", "*.md")
    assert listing.splitlines() == ["candidate/program.md  5 B", "view/program.md  19 B"]


def test_grep_is_bounded_and_says_what_it_left_out(tools: FileTools, where: Sandbox) -> None:
    (where.candidate / "many.txt").write_text("".join(f"match {i}\n" for i in range(500)))
    (where.candidate / "blob.bin").write_bytes(b"match\0binary")
    out = tools.grep(r"match \d+", "candidate", max_hits=10)
    lines = out.splitlines()
    assert lines[0].startswith("500 hits (showing 10 in 1 files)")
    assert lines[1] == "candidate/many.txt:1: match 0"
    assert "… 490 more hits not shown" in out and "1 binary files skipped" in out
    refused(lambda: tools.grep("(unclosed"), "invalid regular expression")


def test_grep_survives_a_catastrophic_pattern(tools: FileTools, where: Sandbox) -> None:
    (where.candidate / "evil.txt").write_text("a" * 40 + "!\n")
    started = time.monotonic()
    refused(lambda: tools.grep(r"(a+)+$", "candidate"), "too slow", "simplify")
    assert time.monotonic() - started < 10  # killed after grep_timeout_s (1 s here)
    assert tools.grep("a{40}!").startswith("1 hit")  # the tool still works afterwards


def test_file_names_cannot_fake_lines_of_a_result(tools: FileTools, where: Sandbox) -> None:
    (where.candidate / "x\nview-secret.md").write_text("planted\n")
    listing = tools.list_files("candidate")
    assert "candidate/x\\x0aview-secret.md  8 B" in listing
    assert "\nview-secret.md" not in listing

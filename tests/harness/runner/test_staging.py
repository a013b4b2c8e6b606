"""A candidate folder may hold only regular files and folders, within size and count caps.

Each attack of the audit is a folder the staging must refuse with one line naming the path,
without following a link, reading a device, hanging on a FIFO, or leaving a copy behind.
"""

from __future__ import annotations

import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.runner.run import agent_digest
from harness.runner.staging import (
    CandidateLimits,
    _Walk,
    check_candidate_tree,
    read_exactly,
    stage_candidate,
)
from harness.testing import Reply, ScriptedServer
from tests.harness.runner.conftest import evaluate, scripted_config, write_agent, write_benchmark

AGENT = "async def run(task, ctx):\n    return 'x'\n"


@pytest.fixture(autouse=True)
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Staging folders go to a temp folder of this test's own, so that what other processes
    stage meanwhile does not count as left behind."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    monkeypatch.setenv("TMPDIR", str(folder))
    return folder


def candidate(tmp_path: Path) -> Path:
    folder = tmp_path / "cand"
    (folder / "lib").mkdir(parents=True)
    (folder / "agent.py").write_text(AGENT)
    (folder / "lib" / "helpers.py").write_text("X = 1\n")
    return folder


def staging_dirs() -> set[str]:
    return {p for p in os.listdir(tempfile.gettempdir()) if p.startswith("harness-candidate-")}


def refused(folder: Path, match: str, limits: CandidateLimits | None = None) -> str:
    """Both entry points refuse the folder; staging leaves no temp folder behind."""
    with pytest.raises(ConfigError, match=match) as checked:
        check_candidate_tree(folder, limits)
    before = staging_dirs()
    with pytest.raises(ConfigError, match=match):
        stage_candidate(folder, limits)
    assert staging_dirs() <= before
    message = str(checked.value)
    assert "\n" not in message
    return message


def test_a_clean_candidate_is_copied_and_digested(tmp_path: Path) -> None:
    folder = candidate(tmp_path)
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "x.pyc").write_bytes(b"junk")
    (folder / "run.sh").write_text("#!/bin/sh\n")
    (folder / "run.sh").chmod(0o700)
    stats = check_candidate_tree(folder)
    assert (stats.files, stats.folders) == (3, 1)
    staged = stage_candidate(folder)
    try:
        assert (staged / "lib" / "helpers.py").read_text() == "X = 1\n"
        assert not (staged / "__pycache__").exists()
        assert os.stat(staged / "run.sh").st_mode & 0o777 == 0o755
        assert agent_digest(staged) == agent_digest(folder)
    finally:
        shutil.rmtree(staged.parent)
    digest = agent_digest(folder)
    (folder / "agent.py").write_text(AGENT + "# changed\n")
    assert agent_digest(folder) != digest


@pytest.mark.parametrize("target", ["data", "/proc/self/environ", "folder", "/dev/zero"])
def test_symbolic_links_are_refused(tmp_path: Path, target: str) -> None:
    folder = candidate(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "solutions.jsonl").write_text("canonical solution\n")
    real = {"data": outside / "solutions.jsonl", "folder": outside}.get(target, Path(target))
    (folder / "lib" / "link").symlink_to(real)
    message = refused(folder, "symbolic link")
    assert str(folder / "lib" / "link") in message


def test_a_fifo_is_refused_without_hanging(tmp_path: Path) -> None:
    folder = candidate(tmp_path)
    os.mkfifo(folder / "pipe")
    assert "FIFO" in refused(folder, "FIFO")


def test_a_socket_is_refused(tmp_path: Path) -> None:
    folder = candidate(tmp_path)
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(folder / "s"))
        refused(folder, "socket")


def test_a_hard_link_is_refused(tmp_path: Path) -> None:
    folder = candidate(tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("gold answers")
    os.link(secret, folder / "innocent.txt")
    refused(folder, "2 hard links")


def test_a_huge_sparse_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    folder = candidate(tmp_path)
    with open(folder / "big.bin", "wb") as handle:
        handle.truncate(2 * 1024**3)  # 2 GB, no blocks on disk
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    refused(folder, "larger than 50 MB")
    refused(folder, "larger than 1 MB", CandidateLimits(max_bytes=2**20))
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before
    assert grown_kb < 50 * 1024  # nothing was read: not 2 GB, not 4 GB


def test_too_many_files_or_folders_are_refused(tmp_path: Path) -> None:
    folder = candidate(tmp_path)
    for i in range(30):
        (folder / f"f{i}.py").write_text("")
    refused(folder, "more than 20 files and folders", CandidateLimits(max_entries=20))
    deep = folder / "lib"
    for i in range(5):
        deep = deep / f"d{i}"
    deep.mkdir(parents=True)
    refused(folder, "nested deeper than 3", CandidateLimits(max_depth=3))


@pytest.mark.parametrize("swap", ["fifo", "symlink", "hard link"])
def test_a_file_swapped_between_check_and_copy_is_refused(tmp_path: Path, swap: str) -> None:
    folder = candidate(tmp_path)
    walk = _Walk(str(folder), CandidateLimits(), on_file=lambda rel, fd, size: None)
    listed = os.stat(folder / "agent.py", follow_symlinks=False)
    (folder / "agent.py").unlink()  # the swap lands between the listing and the open
    if swap == "fifo":
        os.mkfifo(folder / "agent.py")  # an open that waited for a writer would hang here
    elif swap == "symlink":
        (folder / "agent.py").symlink_to("/etc/passwd")
    else:
        (tmp_path / "secret").write_text("gold answers")
        os.link(tmp_path / "secret", folder / "agent.py")
    parent = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with pytest.raises(ConfigError, match=r"changed while|replaced by a link"):
            walk._visit_file(parent, "agent.py", "agent.py", listed)
    finally:
        os.close(parent)


def test_a_file_that_grows_while_copied_is_refused(tmp_path: Path) -> None:
    path = candidate(tmp_path) / "agent.py"
    fd = os.open(path, os.O_RDONLY)
    try:
        with pytest.raises(ConfigError, match="grew"):
            read_exactly(fd, 2, str(path), lambda chunk: None)
    finally:
        os.close(fd)


def test_names_with_control_characters_stay_on_one_line(tmp_path: Path) -> None:
    folder = candidate(tmp_path)
    (folder / "evil\nerror: all good\x1b[2J").symlink_to("/etc/passwd")
    message = refused(folder, "symbolic link")
    assert "\\x0a" in message and "\\x1b" in message


def harness_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120, env={**os.environ, "COLUMNS": "80"})


def test_harness_eval_refuses_a_symlinked_candidate_in_one_line(tmp_path: Path) -> None:
    folder = candidate(tmp_path)
    (folder / "environ").symlink_to("/proc/self/environ")
    bench = write_benchmark(tmp_path, [{"task_id": "t", "prompt": "p", "answer": "x"}])
    before = staging_dirs()
    done = harness_cli("eval", "--agent", str(folder), "--benchmark", bench, "--model",
                       "openai:http://127.0.0.1:9/v1#scripted", "--out", "runs", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: agent: "), done.stderr
    assert "environ" in lines[0] and "symbolic link" in lines[0]
    assert not (tmp_path / "runs").exists()
    assert staging_dirs() <= before


async def test_a_clean_candidate_still_runs_and_records_its_digest(tmp_path: Path) -> None:
    bench = write_benchmark(tmp_path, [{"task_id": "t", "prompt": "p", "answer": "x"}])
    agent = write_agent(tmp_path, AGENT)
    with ScriptedServer(responder=lambda body: Reply.text("x")) as server:
        result, by_task = await evaluate(scripted_config(server), agent, bench,
                                         tmp_path / "runs")
    assert by_task["t"].passed
    assert result.agent_sha256 == agent_digest(agent)

"""The code scorer runs candidates in the sandbox: hostile solutions score 0, with the reason,
and neither the machine nor the test run is harmed. Protected data stays out of reach."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from pathlib import Path

import pytest

from benchmarks import get_benchmark, protected_paths
from benchmarks.code_scorer import run_tests
from benchmarks.humaneval import data_path

REPO = Path(__file__).resolve().parents[2]


def _isolated() -> bool:
    from harness.sandbox import detect_isolation

    return detect_isolation().isolated


async def _score_humaneval(body: str):
    bench = get_benchmark("humaneval")
    return await bench.score(bench.task("HumanEval/0"), body)


async def test_infinite_loop_is_stopped() -> None:
    start = time.monotonic()
    score = await run_tests("while True:\n    pass\n", wall_time_s=3, cpu_time_s=2)
    assert not score.passed and score.value == 0
    assert "timed out" in score.detail or "cpu" in score.detail
    assert time.monotonic() - start < 15


async def test_ten_gigabytes_are_refused() -> None:
    score = await _score_humaneval("    x = bytearray(10 * 1024**3)\n    return True\n")
    assert not score.passed
    assert "MemoryError" in score.detail or "memory" in score.detail


async def test_fork_bomb_is_contained() -> None:
    bomb = (
        "import os\nwhile True:\n    try:\n        os.fork()\n"
        "    except OSError:\n        pass\n"
    )
    start = time.monotonic()
    score = await run_tests(bomb, wall_time_s=4, cpu_time_s=4)
    assert not score.passed and score.detail
    assert time.monotonic() - start < 30
    # the machine still starts processes
    proc = await asyncio.create_subprocess_exec("true")
    assert await proc.wait() == 0


async def test_network_is_unreachable() -> None:
    code = (
        "import socket\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n"
        "s.settimeout(3)\n"
        "s.connect(('1.1.1.1', 53))\n"
    )
    if not _isolated():
        pytest.skip("sandbox fell back to a plain process: no network namespace")
    score = await run_tests(code)
    assert not score.passed
    assert "OSError" in score.detail or "unreachable" in score.detail.lower()


async def test_local_listener_is_unreachable() -> None:
    if not _isolated():
        pytest.skip("sandbox fell back to a plain process: no network namespace")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    try:
        code = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=3)\n"
        score = await run_tests(code)
    finally:
        server.close()
    assert not score.passed and "Error" in score.detail


async def test_deleting_files_outside_its_folder_fails(tmp_path: Path) -> None:
    if not _isolated():
        pytest.skip("sandbox fell back to a plain process: the file would really go")
    victim = tmp_path / "precious.txt"
    victim.write_text("keep me")
    os.chmod(tmp_path, 0o777)
    code = f"import os, shutil\nos.remove({str(victim)!r})\nshutil.rmtree({str(tmp_path)!r})\n"
    score = await run_tests(code)
    assert not score.passed and "Error" in score.detail
    assert await asyncio.to_thread(victim.read_text) == "keep me"


async def test_protected_data_cannot_be_read_or_imported() -> None:
    if not _isolated():
        pytest.skip("sandbox fell back to a plain process: paths cannot be hidden")
    assert data_path() in [p for p in protected_paths()] or any(
        data_path().is_relative_to(p) for p in protected_paths()
    )
    read = f"import gzip\nprint(len(gzip.open({str(data_path())!r}).read()))\n"
    score = await run_tests(read)
    assert not score.passed, score.detail
    repo = REPO
    # The repository is mounted (harness imports), but the benchmarks package is hidden.
    imp = (f"import sys\nsys.path.insert(0, {str(repo)!r})\nimport harness.errors\n"
           "print('harness ok')\nimport benchmarks.humaneval\n")
    score = await run_tests(imp, readonly_paths=[repo])
    assert not score.passed and "harness ok" not in score.detail.split("\n")[-1]
    assert "No module named 'benchmarks" in score.detail, score.detail
    with_data = f"import os\nprint(os.listdir({str(data_path().parent)!r}))\n"
    score = await run_tests(with_data + "assert False\n", readonly_paths=[repo])
    assert "HumanEval" not in score.detail


def test_protected_paths_cover_the_data() -> None:
    paths = protected_paths()
    import bfcl_eval
    import reasoning_gym

    bfcl_data = Path(bfcl_eval.__file__).resolve().parent / "data"
    for needed in (data_path(), bfcl_data / "possible_answer",
                   Path(reasoning_gym.__file__).resolve(), Path(__file__).resolve().parents[2]
                   / "benchmarks" / "base.py"):
        assert any(needed.is_relative_to(p) for p in paths), needed

"""Limits hold for real misbehaving programs, under every isolation kind this machine has."""

from __future__ import annotations

import sys

import pytest

from harness.sandbox import SandboxPolicy, run, run_python

FAST = SandboxPolicy(wall_time_s=10, cpu_time_s=10, memory_mb=512)


async def test_normal_program_returns_stdout_and_rc0(kind: str) -> None:
    result = await run_python("print('hello from', 6 * 7)", policy=FAST)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hello from 42\n"
    assert result.killed_reason is None and not result.timed_out
    assert result.isolation == kind
    assert result.isolated is (kind == "bwrap")


async def test_exit_code_and_stdin_pass_through(kind: str) -> None:
    code = "import sys; data = sys.stdin.read(); print(data.upper()); sys.exit(3)"
    result = await run([sys.executable, "-I", "-c", code], policy=FAST, stdin=b"ping")
    assert result.returncode == 3
    assert result.stdout == "PING\n"
    assert result.killed_reason is None


async def test_environment_is_scrubbed(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_TEST_SECRET", "s3cret-token")
    policy = FAST.model_copy(update={"env": {"GIVEN": "yes"}})
    code = "import os, json; print(json.dumps(dict(os.environ)))"
    result = await run_python(code, policy=policy)
    assert result.returncode == 0, result.stderr
    assert "s3cret-token" not in result.stdout
    assert "HARNESS_TEST_SECRET" not in result.stdout
    assert '"GIVEN": "yes"' in result.stdout
    assert '"PATH"' in result.stdout and '"HOME"' in result.stdout


async def test_endless_loop_ignoring_sigterm_hits_wall_clock(kind: str) -> None:
    code = ("import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "print('started', flush=True)\nwhile True:\n    time.sleep(0.05)\n")
    result = await run_python(code, policy=FAST.model_copy(update={"wall_time_s": 1.0}))
    assert result.timed_out
    assert result.killed_reason == "wall_time"
    assert result.returncode is None
    assert result.stdout == "started\n"
    assert result.duration_s < 5


async def test_busy_cpu_loop_hits_cpu_limit(kind: str) -> None:
    policy = FAST.model_copy(update={"cpu_time_s": 1, "wall_time_s": 15})
    result = await run_python("while True:\n    pass\n", policy=policy)
    assert result.killed_reason == "cpu_time", result
    assert not result.timed_out
    assert result.duration_s < 10


async def test_allocating_10gb_is_contained(kind: str) -> None:
    code = "buf = bytearray(10 * 1024 ** 3)\nprint('allocated', len(buf))\n"
    result = await run_python(code, policy=FAST)
    assert "allocated" not in result.stdout
    assert result.returncode not in (0, None)
    assert result.killed_reason == "memory", result
    assert "MemoryError" in result.stderr


async def test_printing_1gb_is_cut_off_quickly(kind: str) -> None:
    code = ("import sys\nblock = b'x' * (1 << 20)\n"
            "for _ in range(1024):\n    sys.stdout.buffer.write(block)\n")
    policy = FAST.model_copy(update={"max_output_bytes": 100_000})
    result = await run_python(code, policy=policy)
    assert result.output_truncated
    assert result.killed_reason == "output_limit"
    assert result.returncode is None
    assert len(result.stdout) <= 100_000
    assert result.duration_s < 5


FORK_BOMB = """
import os, time
made = failed = 0
for _ in range(1000):  # bounded, so a containment failure cannot wedge the machine
    try:
        pid = os.fork()
    except OSError:
        failed += 1
        if failed > 50:
            break
        continue
    if pid == 0:
        time.sleep(3)
        os._exit(0)
    made += 1
print(made, failed, flush=True)
"""


@pytest.mark.sandbox
async def test_fork_bomb_stops_at_max_processes(bwrap: str) -> None:
    policy = FAST.model_copy(update={"max_processes": 16})
    result = await run_python(FORK_BOMB, policy=policy)
    assert result.returncode == 0, result.stderr
    made, failed = map(int, result.stdout.split())
    assert 1 <= made <= policy.max_processes
    assert failed > 0
    assert result.duration_s < 5


async def test_missing_program_is_a_result_not_an_exception(kind: str) -> None:
    result = await run(["/no/such/program"], policy=FAST)
    assert result.returncode == 127
    assert "cannot execute" in result.stderr


async def test_run_python_files_are_importable(kind: str) -> None:
    files = {"helper.py": "def answer():\n    return 42\n", "data/in.txt": "payload"}
    code = "import helper\nprint(helper.answer(), open('data/in.txt').read())\n"
    result = await run_python(code, policy=FAST, files=files)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "42 payload\n"


async def test_background_child_holding_stdout_does_not_hang_wait(kind: str) -> None:
    code = ("import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(8)\n"
            "    os._exit(0)\nprint('parent done')\n")
    result = await run_python(code, policy=FAST)
    assert result.returncode == 0
    assert result.stdout == "parent done\n"
    assert result.duration_s < 5

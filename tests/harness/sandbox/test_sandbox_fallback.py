"""The unconfined fallback: marked isolated=false, warned about once, and still limited."""

from __future__ import annotations

import logging

import pytest

from harness.errors import HarnessError
from harness.sandbox import SandboxPolicy, detect_isolation, run_python
from harness.sandbox._detect import ENV_VAR

POLICY = SandboxPolicy(wall_time_s=1.0, cpu_time_s=10, memory_mb=512)


async def test_none_is_marked_unisolated_and_still_limited(no_sandbox: str) -> None:
    ok = await run_python("print('fine')", policy=POLICY)
    assert ok.stdout == "fine\n" and ok.returncode == 0
    assert ok.isolated is False and ok.isolation == "none"
    hang = await run_python("while True:\n    pass\n", policy=POLICY)
    assert hang.timed_out and hang.killed_reason == "wall_time"
    assert hang.isolated is False
    hog = await run_python("x = bytearray(10 * 1024 ** 3)", policy=POLICY)
    assert hog.killed_reason == "memory" and "MemoryError" in hog.stderr


def test_fallback_warns_once_and_loudly(
        no_sandbox: str, fresh_detection: None, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="harness.sandbox"):
        first = detect_isolation()
        second = detect_isolation()
    assert first == second
    assert first.kind == "none" and not first.isolated
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "isolated=false" in warnings[0].getMessage()
    assert ENV_VAR in warnings[0].getMessage()


def test_require_raises_instead_of_falling_back(no_sandbox: str, fresh_detection: None,
                                                caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="harness.sandbox"), \
            pytest.raises(HarnessError, match="required"):
        detect_isolation(require=True)
    assert not caplog.records


@pytest.mark.sandbox
def test_require_passes_with_bwrap(bwrap: str) -> None:
    isolation = detect_isolation(require=True)
    assert isolation.kind == "bwrap" and isolation.isolated


def test_unknown_override_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, "docker")
    with pytest.raises(HarnessError, match=ENV_VAR):
        detect_isolation()


def test_forced_kind_that_cannot_run_raises(
        monkeypatch: pytest.MonkeyPatch, fresh_detection: None) -> None:
    monkeypatch.setenv(ENV_VAR, "bwrap")
    monkeypatch.setenv("PATH", "/nonexistent")  # hides the bwrap binary from the probe
    with pytest.raises(HarnessError, match="bwrap is not installed"):
        detect_isolation()


async def test_auto_falls_back_to_none_when_no_tool_can_run(
        monkeypatch: pytest.MonkeyPatch, fresh_detection: None,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")  # neither bwrap nor unshare can be found
    with caplog.at_level(logging.WARNING, logger="harness.sandbox"):
        result = await run_python("print('still runs')", policy=POLICY)
        await run_python("print('again')", policy=POLICY)
    assert result.stdout == "still runs\n"
    assert result.isolation == "none" and result.isolated is False
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "bwrap is not installed" in warning and "unshare is not installed" in warning

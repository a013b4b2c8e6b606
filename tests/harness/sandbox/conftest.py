"""Fixtures that pin the sandbox kind through HARNESS_SANDBOX and skip where it cannot run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import cache

import pytest

from harness.errors import HarnessError
from harness.sandbox import detect_isolation
from harness.sandbox._detect import ENV_VAR, reset_cache

KINDS = [
    pytest.param("bwrap", marks=pytest.mark.sandbox, id="bwrap"),
    pytest.param("unshare", marks=pytest.mark.sandbox, id="unshare"),
    pytest.param("none", id="none"),
]


@cache
def unavailable(kind: str) -> str | None:
    """Why `kind` cannot run here (None when it can); probes once per test session."""
    saved = os.environ.get(ENV_VAR)
    os.environ[ENV_VAR] = kind
    try:
        detect_isolation()
        return None
    except HarnessError as exc:
        return str(exc)
    finally:
        if saved is None:
            del os.environ[ENV_VAR]
        else:
            os.environ[ENV_VAR] = saved


def use_kind(monkeypatch: pytest.MonkeyPatch, kind: str) -> str:
    why = unavailable(kind)
    if why:
        pytest.skip(f"{kind} cannot run here: {why}")
    monkeypatch.setenv(ENV_VAR, kind)
    return kind


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every kind this machine can run (bwrap, unshare, none)."""
    return use_kind(monkeypatch, request.param)


@pytest.fixture
def bwrap(monkeypatch: pytest.MonkeyPatch) -> str:
    return use_kind(monkeypatch, "bwrap")


@pytest.fixture
def no_sandbox(monkeypatch: pytest.MonkeyPatch) -> str:
    return use_kind(monkeypatch, "none")


@pytest.fixture
def fresh_detection() -> Iterator[None]:
    reset_cache()
    yield
    reset_cache()

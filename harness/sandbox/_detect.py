"""Which isolation this machine offers: probed once by really running a sandboxed program."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from harness.errors import HarnessError
from harness.sandbox._launch import build, drops_privileges, is_root
from harness.sandbox._models import Isolation, IsolationKind, SandboxPolicy

ENV_VAR = "HARNESS_SANDBOX"
CHOICES = ("auto", "bwrap", "unshare", "none")
PROBE_TIMEOUT_S = 20.0

log = logging.getLogger("harness.sandbox")
_cache: dict[str, tuple[Isolation, str]] = {}
_warned: set[str] = set()
_lock = threading.Lock()


def _probe(kind: IsolationKind) -> str | None:
    """Run `print('ok')` the way real programs run; None if it worked, else why not."""
    tool = {"bwrap": "bwrap", "unshare": "unshare"}.get(kind)
    if tool and shutil.which(tool) is None:
        return f"{tool} is not installed"
    policy = SandboxPolicy(wall_time_s=PROBE_TIMEOUT_S)
    argv = [sys.executable, "-I", "-S", "-c", "print('ok')"]
    with tempfile.TemporaryDirectory(prefix="harness-sandbox-probe-") as tmp:
        launch = build(kind, argv, policy, Path(tmp))
        try:
            done = subprocess.run(launch.argv, env=launch.env, cwd=launch.cwd, capture_output=True,
                                  timeout=PROBE_TIMEOUT_S, check=False, pass_fds=launch.fds)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"{tool} failed to start: {exc}"
        finally:
            launch.release()
    if done.returncode == 0 and done.stdout.strip() == b"ok":
        return None
    err = done.stderr.decode(errors="replace").strip().splitlines()
    return f"{tool} exited {done.returncode}: {err[-1] if err else 'no output'}"


def _describe(kind: IsolationKind) -> Isolation:
    uid_note = ("programs run as a per-run unprivileged uid" if drops_privileges(kind) else
                "programs run as root, so the process limit is not enforced" if is_root() else
                "programs run as the harness's own uid")
    if kind == "bwrap":
        return Isolation(kind="bwrap", isolated=True, reason="bubblewrap: every namespace "
                         f"unshared, read-only system, hidden paths covered; {uid_note}")
    if kind == "unshare":
        return Isolation(kind="unshare", isolated=False,
                         reason="unshare: no network, but the filesystem is not confined and "
                                f"hidden_paths are readable; {uid_note}")
    return Isolation(kind="none", isolated=False,
                     reason=f"plain subprocess with limits and a scrubbed environment; {uid_note}")


def _warn(isolation: Isolation, why: str) -> None:
    log.warning(
        "SANDBOX DEGRADED: untrusted code will run with isolation=%s (isolated=false): %s. "
        "%s. Install bubblewrap and allow user namespaces (or run where they work), or use "
        "--require-sandbox to make this an error.", isolation.kind, why, isolation.reason)


def _detect(choice: str) -> tuple[Isolation, str]:
    """The isolation for a HARNESS_SANDBOX choice, and why it is what it is."""
    kinds: tuple[IsolationKind, ...] = ("bwrap", "unshare")
    problems: list[str] = []
    if choice == "none":
        return _describe("none"), f"forced by {ENV_VAR}=none"
    for kind in kinds:
        if choice not in ("auto", kind):
            continue
        problem = _probe(kind)
        if problem is None:
            return _describe(kind), f"{ENV_VAR}={choice}"
        if choice != "auto":
            raise HarnessError(f"{ENV_VAR}={choice}, but it cannot run here: {problem}")
        problems.append(problem)
    return _describe("none"), "; ".join(problems)


def detect_isolation(*, require: bool = False) -> Isolation:
    """The isolation sandboxed programs get; probed once per process (per HARNESS_SANDBOX).

    HARNESS_SANDBOX=bwrap|unshare|none forces a kind (a forced kind that cannot run raises).
    A fallback to a kind that does not isolate logs one loud warning saying why; with
    `require=True` it raises HarnessError instead.
    """
    choice = os.environ.get(ENV_VAR, "").strip().lower() or "auto"
    if choice not in CHOICES:
        raise HarnessError(f"{ENV_VAR}={choice!r}: expected one of {', '.join(CHOICES)}")
    with _lock:
        if choice not in _cache:
            _cache[choice] = _detect(choice)
        isolation, why = _cache[choice]
        if require and not isolation.isolated:
            raise HarnessError(f"a sandbox is required but unavailable ({why}): "
                               f"{isolation.reason}")
        if not isolation.isolated and choice not in _warned:
            _warned.add(choice)
            _warn(isolation, why)
    return isolation


def reset_cache() -> None:
    """Forget probe results and warnings (for tests that switch HARNESS_SANDBOX)."""
    with _lock:
        _cache.clear()
        _warned.clear()

"""SIGKILL `harness optimize` in each phase of an experiment, then `--resume`.

Each kill lands while experiment 1 is in a known phase (seen from the files the loop writes):
proposing, validating, evaluating on train, evaluating on held-out, and after the held-out
evaluation finished (the gate and the ledger write). After every kill the ledger holds exactly
the rows it held before, each complete; the final run's rows appear once each, and the git
tags are exactly the ledger's committed candidates.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.optimize.ledger import Ledger
from harness.optimize.versions import Versions, tag_of
from harness.sandbox import detect_isolation
from harness.testing import ScriptedServer
from tests.harness.optimize.conftest import answer, write_echo_agent, write_tasks

pytestmark = pytest.mark.skipif(not detect_isolation().isolated,
                                reason="needs bubblewrap or unshare for isolation")
PROPOSE = (
    "command:sleep 2; sed -i 's/MODE = \"some\"/MODE = \"good\"/' agent.py; "
    "echo \"VARIATION = $HARNESS_EXPERIMENT\" >> agent.py; "
    "printf '{\"description\": \"good mode %s\", \"hypothesis\": \"h\", \"mechanism\": \"m\"}' "
    "$HARNESS_EXPERIMENT > \"$HARNESS_PROPOSAL\"")


def _slow(body: dict) -> object:  # type: ignore[type-arg]
    time.sleep(0.15)
    return answer(body)


def _start(tmp: Path, ws: Path, bench: str, agent: Path, url: str,
           resume: bool) -> subprocess.Popen[bytes]:
    args = ["--resume", "--workspace", str(ws)] if resume else [
        "--agent", str(agent), "--benchmark", bench, "--workspace", str(ws)]
    env = {**os.environ, "HARNESS_CONCURRENCY": "2", "HARNESS_MAX_RETRIES": "0"}
    return subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "optimize", *args, "--iterations", "2",
         "--held-out-trials", "1", "--model", f"openai:{url}#scripted", "--proposer", PROPOSE],
        cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)


def _wait_then_kill(proc: subprocess.Popen[bytes], ready: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 120
    while not ready():
        assert proc.poll() is None, "the run ended before the phase was reached"
        assert time.monotonic() < deadline, "the phase was never reached"
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def _rows(ws: Path) -> list[str]:
    ledger = Ledger(ws / "ledger.sqlite")
    try:
        return [e.model_dump_json() for e in ledger.experiments()]
    finally:
        ledger.close()


def _phases(ws: Path) -> list[tuple[str, Callable[[], bool]]]:
    exp = ws / "experiments" / "0001"

    def held_out_done() -> bool:
        found = list((exp / "held_out").glob("*/results.json"))
        return bool(found) and json.loads(found[0].read_text()).get("finished_at") is not None

    return [
        ("propose", lambda: (ws / "scratch" / "0001").is_dir()
         and not (exp / "proposal.json").exists()),
        ("validate", lambda: (exp / "smoke").is_dir() and not (exp / "train").exists()),
        ("train", lambda: (exp / "train").is_dir() and not (exp / "held_out").exists()),
        ("held-out", lambda: (exp / "held_out").is_dir()),
        ("gate and ledger write", held_out_done),
    ]


def test_kill_in_every_phase_then_resume(tmp_path: Path) -> None:
    bench = write_tasks(tmp_path)
    agent = write_echo_agent(tmp_path, mode="some")
    ws = tmp_path / "ws"
    with ScriptedServer(responder=_slow) as server:  # type: ignore[arg-type]
        resume = False
        before: list[str] | None = None
        for phase, ready in _phases(ws):
            proc = _start(tmp_path, ws, bench, agent, server.base_url, resume)
            _wait_then_kill(proc, ready)
            rows = _rows(ws)
            numbers = [json.loads(r)["experiment"] for r in rows]
            # the last kill races the ledger write: the row is then there, whole, or absent
            assert numbers == [0] or (phase.startswith("gate") and numbers == [0, 1]), phase
            assert before is None or rows[:1] == before[:1], f"rows changed by a kill in {phase}"
            before, resume = rows, True
        final = _start(tmp_path, ws, bench, agent, server.base_url, resume=True)
        assert final.wait(timeout=300) == 0
    rows = _rows(ws)
    assert rows[: len(before)] == before  # type: ignore[arg-type]
    records = [json.loads(r) for r in rows]
    assert [r["experiment"] for r in records] == [0, 1, 2]
    assert records[1]["status"] == "keep" and records[2]["status"] == "discard"
    committed = {tag_of(r["experiment"]) for r in records if r["commit"]}
    assert set(Versions(ws / "code").tags()) == committed == {"exp-0000", "exp-0001", "exp-0002"}
    tsv = (ws / "results.tsv").read_text().splitlines()
    assert len(tsv) == 4 and [line.split("\t")[0] for line in tsv[1:]] == ["0", "1", "2"]
    assert sorted(p.name for p in (ws / "experiments").iterdir()) == ["0000", "0001", "0002"]

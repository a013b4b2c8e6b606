"""`harness report` on a real scripted run of 8 experiments (kept, discarded, invalid, crash,
then finalized): what the page says, that workspace strings cannot inject markup, and that it
renders in headless Chromium offline with no console message and no network request."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.optimize.finalize import finalize
from harness.optimize.loop import optimize
from harness.optimize.proposal import Brief, Proposal
from harness.optimize.proposers import CallableProposer
from harness.optimize.workspace import Workspace
from harness.sandbox import detect_isolation
from harness.testing import Reply, ScriptedServer
from tests.harness.optimize.conftest import (
    answer,
    loop_config,
    set_mode,
    write_echo_agent,
    write_tasks,
)

pytestmark = pytest.mark.skipif(not detect_isolation().isolated,
                                reason="needs bubblewrap or unshare for isolation")
HARNESS = [sys.executable, "-m", "harness.cli"]
XSS_DESCRIPTION = "worse <script>document.title='pwned'</script>"
XSS_HYPOTHESIS = "</script><img src=x onerror=\"document.body.dataset.pwned='1'\">"
STATUSES = ["baseline", "invalid", "discard", "keep", "crash", "invalid", "discard", "discard",
            "keep"]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _responder() -> Any:
    """The loop tests' model, plus MODE=half (even task numbers) and MODE=crashy: its first
    call (the smoke episode) is answered, every later one says "boom" and the agent raises."""
    crashy_calls = [0]

    def respond(body: dict[str, Any]) -> Reply:
        text = str(body["messages"][-1]["content"])
        number = re.search(r"question (\d+)", text)
        if "MODE=half" in text and number:
            split = re.search(r"Q=(\w+) question", text)
            right = int(number.group(1)) % 2 == 0 and split
            return Reply.text(f"ans-{split.group(1)}-{int(number.group(1))}" if right  # type: ignore[union-attr]
                              else "wrong")
        if "MODE=crashy" in text:
            crashy_calls[0] += 1
            return Reply.text("wrong" if crashy_calls[0] == 1 else "boom")
        return answer(body)

    return respond


def _proposal(description: str, **extra: Any) -> Proposal:
    fields: dict[str, Any] = {"hypothesis": f"{description} helps", "mechanism": description,
                              "component": "param"} | extra
    return Proposal(description=description, **fields)


def scripted(brief: Brief) -> Proposal:
    """Eight proposals; components vary (the diversity rule bans a 4th in a row)."""
    agent = brief.candidate / "agent.py"
    match brief.experiment:
        case 1:
            return _proposal("change nothing")
        case 2:
            set_mode(brief.candidate, "bad")
            return _proposal(XSS_DESCRIPTION, hypothesis=XSS_HYPOTHESIS, component="prompt")
        case 3:
            set_mode(brief.candidate, "good")
            return _proposal("good mode", predicted_fixes=["train-task-00", "train-task-01"],
                             activity={"write_test": 1, "spawn_subagents": 2, "moves": 1,
                                       "free_edits": 1})
        case 4:
            set_mode(brief.candidate, "crashy")
            agent.write_text(agent.read_text().replace(
                "    return reply.text", "    if reply.text == 'boom':\n"
                "        raise RuntimeError('boom')\n    return reply.text"))
            return _proposal("crash after the smoke test", component="graph")
        case 5:
            agent.write_text(agent.read_text() + "\nLOOKUP = {'held_out-task-03': 'x'}\n")
            return _proposal("lookup table", component="memory")
        case 6:
            set_mode(brief.candidate, "half")
            return _proposal("half mode")
        case 7:
            set_mode(brief.candidate, "none")
            return _proposal("no mode", component="prompt")
        case _:
            agent.write_text("\n".join(line for line in agent.read_text().splitlines()
                                       if not line.startswith('"""')) + "\n")
            return _proposal("drop the docstring (simpler)", component="other")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("report")
    with ScriptedServer(responder=_responder()) as server:
        bench = write_tasks(root, train=4, held_out=8, sealed=3)
        agent = write_echo_agent(root, mode="some")
        ws = Workspace.create(root / "ws", agent=agent, benchmark=bench,
                              model=f"openai:{server.base_url}#scripted")
        config = loop_config(server, iterations=8)
        asyncio.run(optimize(config, ws, CallableProposer(scripted)))
        assert [e.status for e in ws.ledger.experiments()] == STATUSES, \
            "\n".join(f"{e.status}: {e.reason}" for e in ws.ledger.experiments())
        ws.close()
        asyncio.run(finalize(config, ws.root, trials=1))
    yield ws.root


@pytest.fixture(scope="module")
def report(workspace: Path) -> Path:
    out = workspace.parent / "out" / "report.html"
    done = subprocess.run([*HARNESS, "report", str(workspace), "-o", str(out)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return out


def test_report_says_what_happened(report: Path, workspace: Path) -> None:
    page = report.read_text()
    for status in ("keep", "discard", "invalid", "crash"):
        assert f'class="st-{status}"' in page
    assert "every train episode crashed" in page and "anti-gaming" in page
    assert "Winner&#x27;s curse" in page or "Winner's curse" in page
    assert "unit tests written</th><td>1" in page and "subagents spawned</th><td>2" in page
    assert "valid proposals</th><td>6 of 8 (75%)" in page
    assert "Calibration over the run: 1 of 2 predicted fixes happened (50%)" in page
    assert "+MODE = &quot;good&quot;" in page  # the kept candidate's collapsible diff
    assert "held_out-task-03" not in page  # quarantined evidence stays out of the report
    assert "Generalisation gap" in page or "No generalisation gap" in page
    # self-contained: no external script, style, image or link
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", page)


def test_workspace_strings_cannot_inject_markup(report: Path) -> None:
    page = report.read_text()
    assert "<script>document.title" not in page and "<img src=x" not in page
    assert "&lt;script&gt;document.title=&#x27;pwned&#x27;&lt;/script&gt;" in page
    # plotly's JSON escapes < > / as \\u003c…, so chart data cannot close its <script>
    scripts = re.findall(r"<script\b", page)
    assert len(scripts) == page.count("</script>")


def _chromium(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={cwd / 'profile'}"]
    return subprocess.run([CHROMIUM, *flags, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=90, check=False)


def _page_requests(net_log: Path) -> list[str]:
    """URLs the page asked for: request jobs whose initiator is the page (a file:// page's
    origin is "null"), not the browser's own background fetches ("not an origin")."""
    log = json.loads(net_log.read_text())
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [str(ev["params"].get("url")) for ev in log["events"]
            if ev["type"] == start and ev.get("params", {}).get("url")
            and ev["params"].get("initiator") != "not an origin"]


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install "
                                             "chromium); the browser check needs it")
def test_renders_offline_in_chromium(report: Path, tmp_path: Path) -> None:
    done = _chromium("--enable-logging=stderr", "--v=0",
                     f"--log-net-log={tmp_path / 'net.json'}", "--virtual-time-budget=8000",
                     "--dump-dom", report.resolve().as_uri(), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    assert console == [], console
    assert _page_requests(tmp_path / "net.json") == []
    progress = dom[dom.index('id="fig-progress"'):dom.index('id="fig-generalisation"')]
    assert len(re.findall(r'class="point"', progress)) == len(STATUSES)  # one per experiment
    assert "main-svg" in progress  # plotly drew the chart
    assert "pwned" not in dom.split("<body", 1)[1].split(">", 1)[0]  # no onerror ran
    assert "<title>pwned" not in dom

    shot = tmp_path / "report.png"
    done = _chromium(f"--screenshot={shot}", "--window-size=1400,1800",
                     "--virtual-time-budget=8000", report.resolve().as_uri(), cwd=tmp_path)
    assert shot.is_file() and shot.stat().st_size > 20_000, done.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

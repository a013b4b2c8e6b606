"""The `command:CMD` proposer: any external program (a script, a coding-agent CLI), sandboxed.

`sh -c CMD` runs with the candidate folder as its working directory and these variables:
HARNESS_BRIEF (brief.md), HARNESS_VIEW (the read-only workspace view), HARNESS_EXPERIMENT
(1-based) and HARNESS_PROPOSAL (where it writes its JSON proposal: `description`,
`hypothesis`, `mechanism`, optionally `component`, `predicted_fixes`, `risk_tasks` and its
own usage `input_tokens`, `output_tokens`, `cost_usd`). HOME and TMPDIR are a private
scratch folder.

It runs like candidate code: under bubblewrap only the candidate folder (a throwaway copy)
and scratch are writable; the view, the brief and system paths are read-only; benchmark data
is covered even inside a bound tree; everything else (the rest of the workspace, the user's
repository, the host's /tmp: /tmp inside is the sandbox's own) does not exist inside. The
network is off unless `network=True`, which is said loudly. Where bubblewrap cannot run, the
sandbox falls back to limits only and this proposer says so loudly on its first proposal
(`require_sandbox=True` refuses instead).

Whatever goes wrong with the command (non-zero exit, timeout, output flood, no or a bad
proposal file) raises `ProposalError` with a one-line reason; stdout, stderr and the facts of
the run are kept in the log folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from pydantic import ValidationError

from benchmarks.registry import protected_paths
from harness.errors import HarnessError
from harness.optimize.proposal import Brief, Proposal, ProposalError
from harness.sandbox import (
    Isolation,
    SandboxPolicy,
    SandboxResult,
    Supervised,
    detect_isolation,
    spawn,
    wait_or_kill,
)

log = logging.getLogger("harness.optimize.proposers")

PROPOSAL_LIMIT = 1_000_000  # bytes of proposal file accepted
OUTPUT_LIMIT = 4_000_000  # bytes of stdout (and of stderr) kept; more kills the command
CHANNEL_GRACE_S = 2.0  # how long the proposal pipe may lag behind the command's exit
SIZE_POLL_S = 1.0  # how often the candidate folder's size is checked while the command runs
COMMAND_FIELDS = ("description", "hypothesis", "mechanism", "component", "predicted_fixes",
                  "risk_tasks", "input_tokens", "output_tokens", "cost_usd", "learnings", "notes")
_INSIDE = (Path(__file__).parent / "_inside.py").read_text(encoding="utf-8")

LogDir = Path | Callable[[Brief], Path]


class CommandProposer:
    """Runs `sh -c cmd` per experiment; see the module docstring for what it sees and may do.

    `log_dir` is the folder for stdout.log, stderr.log and proposer.json, or a function of the
    brief giving one per experiment. `env` adds variables (an API key for a coding agent);
    `readonly_paths` shows more read-only (the agent CLI's install); `hidden_paths` covers
    more than the shipped benchmarks' data (a user benchmark's file); one that holds the
    candidate, the view or the brief is left out (it is not bound, so not there anyway).
    `memory_mb` is an address-space limit, which some runtimes (V8, the JVM) reserve
    generously.
    `max_candidate_mb` / `max_candidate_files` stop a command that floods the candidate
    folder (a host folder, so the host's disk) while it runs; the loop's staging rules
    apply the real, smaller limits afterwards.
    """

    def __init__(self, cmd: str, *, time_s: float, log_dir: LogDir, network: bool = False,
                 memory_mb: int = 4096, env: Mapping[str, str] | None = None,
                 readonly_paths: Sequence[Path] = (), hidden_paths: Sequence[Path] = (),
                 require_sandbox: bool = False, max_candidate_mb: int = 512,
                 max_candidate_files: int = 50_000) -> None:
        if not cmd.strip():
            raise ValueError("CommandProposer: empty command")
        self.cmd = cmd
        self.time_s = time_s
        self.network = network
        self.memory_mb = memory_mb
        self.env = dict(env or {})
        self.readonly_paths = list(readonly_paths)
        self.hidden_paths = list(hidden_paths)
        self.require_sandbox = require_sandbox
        self.max_candidate_mb = max_candidate_mb
        self.max_candidate_files = max_candidate_files
        self._log_dir = log_dir
        self._warned_unconfined = False
        if network:
            log.warning("PROPOSER HAS NETWORK ACCESS: the command proposer %r runs with the "
                        "network on (--proposer-network); it can send anything it reads (the "
                        "view: train traces and scores) anywhere.", _one_line(cmd, 80))

    async def propose(self, brief: Brief) -> Proposal:
        _check_brief(brief)
        isolation = await asyncio.to_thread(detect_isolation, require=self.require_sandbox)
        self._warn_if_unconfined(isolation)
        log_dir = self._log_dir(brief) if callable(self._log_dir) else self._log_dir
        log_dir.mkdir(parents=True, exist_ok=True)
        scratch = _scratch_path(isolation)
        try:
            result, framed = await self._run(brief, scratch)
        finally:
            if isolation.kind != "bwrap":  # on the host's /tmp only without bubblewrap
                shutil.rmtree(scratch, ignore_errors=True)
            await asyncio.to_thread(_hand_back, brief.candidate)
        _write_logs(log_dir, result, self.cmd, self.network)
        reason = self._failure(result)
        if reason is not None:
            raise ProposalError(reason)
        return parse_proposal(framed, trace=str(log_dir))

    def policy(self, brief: Brief, scratch: Path) -> SandboxPolicy:
        """What the command may see and use for this brief (scratch: its private folder)."""
        return SandboxPolicy(
            wall_time_s=self.time_s,
            # The wall clock is the limit that matters; CPU time only stops a runaway.
            cpu_time_s=self.time_s * (os.cpu_count() or 1),
            memory_mb=self.memory_mb,
            max_processes=512,
            max_file_size_mb=256,
            max_output_bytes=OUTPUT_LIMIT,
            network=self.network,
            readonly_paths=[brief.view, brief.brief_file, *self.readonly_paths],
            hidden_paths=_not_above(
                [*protected_paths(), *self.hidden_paths],
                [brief.candidate, brief.view, brief.brief_file, *self.readonly_paths]),
            env={**self.env,
                 "HARNESS_BRIEF": str(brief.brief_file.resolve()),
                 "HARNESS_VIEW": str(brief.view.resolve()),
                 "HARNESS_EXPERIMENT": str(brief.experiment),
                 "HARNESS_PROPOSAL": str(scratch / "proposal.json"),
                 "HOME": str(scratch / "home"),
                 "TMPDIR": str(scratch / "tmp")})

    async def _run(self, brief: Brief, scratch: Path) -> tuple[SandboxResult, bytes]:
        channel = _Channel(PROPOSAL_LIMIT + 2)
        argv = [sys.executable, "-I", "-S", "-c", _INSIDE, str(channel.write_fd), str(scratch),
                str(PROPOSAL_LIMIT), self.cmd]
        try:
            try:
                proc = await spawn(argv, policy=self.policy(brief, scratch),
                                   workdir=brief.candidate, pass_fds=[channel.write_fd])
            finally:
                channel.close_write_end()  # the pipe ends when the last process inside does
            watcher = asyncio.create_task(self._watch_size(proc, brief.candidate))
            try:
                # Cancelled (Ctrl-C): the command is killed, and the cancellation goes on
                # only once every process it started is gone.
                result = await wait_or_kill(proc)
            finally:
                watcher.cancel()
            return result, await channel.received()
        finally:
            channel.close()

    async def _watch_size(self, proc: Supervised, candidate: Path) -> None:
        limit = self.max_candidate_mb * 1024 * 1024
        while True:
            await asyncio.sleep(SIZE_POLL_S)
            size, count = await asyncio.to_thread(_usage, candidate, self.max_candidate_files)
            if size > limit or count > self.max_candidate_files:
                await proc.kill("candidate_size")
                return

    def _failure(self, result: SandboxResult) -> str | None:
        """Why this run cannot yield a proposal, in one line (None: it can)."""
        if result.timed_out:
            return f"the command timed out after {self.time_s:g} s (its processes were killed)"
        if result.killed_reason == "output_limit":
            return (f"the command wrote more than {OUTPUT_LIMIT // 1_000_000} MB to stdout or "
                    "stderr and was killed")
        if result.killed_reason == "candidate_size":
            return (f"the command grew the candidate folder past {self.max_candidate_mb} MB "
                    f"or {self.max_candidate_files} files and was killed")
        if result.killed_reason == "memory_total":
            return f"the command's processes used more than {self.memory_mb} MB together"
        if result.returncode is None:
            return f"the command was killed ({result.killed_reason})"
        if result.returncode == 0:
            return None
        why = f" [{result.killed_reason}]" if result.killed_reason else ""
        if result.killed_reason == "memory":
            why = f" [out of memory: limit {self.memory_mb} MB]"
        return f"the command exited with status {result.returncode}{why}{_last_line(result)}"

    def _warn_if_unconfined(self, isolation: Isolation) -> None:
        if isolation.isolated or self._warned_unconfined:
            return
        self._warned_unconfined = True
        log.warning("PROPOSER NOT CONFINED: the command proposer %r runs with isolation=%s: "
                    "it can read and write whatever its uid can on this machine, benchmark "
                    "data included; only its limits apply. %s", _one_line(self.cmd, 80),
                    isolation.kind, isolation.reason)


def _check_brief(brief: Brief) -> None:
    """A brief naming missing paths is the loop's bug, not the proposer's failure."""
    for name in ("candidate", "view"):
        if not getattr(brief, name).is_dir():
            raise HarnessError(f"proposer brief: {name} {getattr(brief, name)} is not a folder")
    if not brief.brief_file.is_file():
        raise HarnessError(f"proposer brief: brief_file {brief.brief_file} is not a file")


def _not_above(hidden: list[Path], shown: list[Path]) -> list[Path]:
    """The hidden paths that do not hold a shown one. A cover goes on after every bind, so
    hiding the workspace would blank the candidate and the view inside it; and under
    bubblewrap nothing unbound is there to hide (elsewhere no path is hidden at all)."""
    shown_real = [Path(os.path.realpath(p)) for p in shown]
    return [h for h in hidden
            if not any(s.is_relative_to(os.path.realpath(h)) for s in shown_real)]


def _usage(root: Path, max_files: int) -> tuple[int, int]:
    """Disk bytes and entries under `root`; stops counting past `max_files` entries."""
    size, count = 0, 0
    todo = [str(root)]
    while todo and count <= max_files:
        try:
            with os.scandir(todo.pop()) as entries:
                for entry in entries:
                    count += 1
                    with contextlib.suppress(OSError):
                        size += entry.stat(follow_symlinks=False).st_blocks * 512
                        if entry.is_dir(follow_symlinks=False):
                            todo.append(entry.path)
        except OSError:
            continue
    return size, count


def _scratch_path(isolation: Isolation) -> Path:
    """A fresh name for the command's private folder (the wrapper inside creates it).

    Under bubblewrap /tmp is the sandbox's own tmpfs, gone with it; elsewhere it is the
    host's temp folder, and the folder is removed afterwards."""
    root = Path("/tmp") if isolation.kind == "bwrap" else Path(tempfile.gettempdir())
    return root / f"harness-proposer-{secrets.token_hex(8)}"


def _hand_back(candidate: Path) -> None:
    """Give the candidate back to the harness's uid. As root, the sandbox chowned it to the
    run's throwaway uid, which a later sandboxed program may be given."""
    if os.geteuid() != 0:
        return
    uid, gid = os.getuid(), os.getgid()
    with contextlib.suppress(OSError):
        os.lchown(candidate, uid, gid)
    for dirpath, dirnames, filenames in os.walk(candidate):
        for name in dirnames + filenames:
            with contextlib.suppress(OSError):
                os.lchown(os.path.join(dirpath, name), uid, gid)


class _Channel:
    """The pipe the wrapper inside sends the proposal file through, read as it arrives (a
    full pipe would block the wrapper) and at most `limit` bytes of it."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)
        self._data = bytearray()
        self._ended = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self.read_fd, self._on_readable)

    def _on_readable(self) -> None:
        try:
            chunk = os.read(self.read_fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        self._data += chunk[: max(self.limit - len(self._data), 0)]
        if not chunk or len(self._data) >= self.limit:
            self._stop()

    def _stop(self) -> None:
        if not self._ended.is_set():
            self._loop.remove_reader(self.read_fd)
            self._ended.set()

    async def received(self) -> bytes:
        """All that was sent, once every writer is gone (they are, once the sandbox ended;
        a short grace covers a stray the fallback could not kill)."""
        try:
            await asyncio.wait_for(self._ended.wait(), CHANNEL_GRACE_S)
        except TimeoutError:
            return b"X" + b"it could not be collected (the pipe stayed open)"
        return bytes(self._data)

    def close_write_end(self) -> None:
        if self.write_fd >= 0:
            os.close(self.write_fd)
            self.write_fd = -1

    def close(self) -> None:
        self._stop()
        self.close_write_end()
        if self.read_fd >= 0:
            os.close(self.read_fd)
            self.read_fd = -1


def parse_proposal(framed: bytes, *, trace: str) -> Proposal:
    """The proposal from what the wrapper sent back, or ProposalError naming the problem."""
    tag, body = framed[:1], framed[1:]
    if tag in (b"", b"N"):
        raise ProposalError("the command wrote no proposal file ($HARNESS_PROPOSAL)")
    if tag != b"F":
        raise ProposalError(f"proposal file: {_one_line(body.decode(errors='replace'))}")
    if len(body) > PROPOSAL_LIMIT:
        raise ProposalError(f"proposal file is larger than {PROPOSAL_LIMIT} bytes")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ProposalError(f"proposal file is not valid JSON: {_one_line(str(exc))}") from None
    if not isinstance(data, dict):
        raise ProposalError("proposal file must hold a JSON object")
    unknown = sorted(set(data) - set(COMMAND_FIELDS))
    if unknown:
        raise ProposalError(f"proposal file: unknown field {_one_line(unknown[0])!r} "
                            f"(known: {', '.join(COMMAND_FIELDS)})")
    try:
        return Proposal.model_validate({**data, "trace": trace})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise ProposalError(f"proposal file: field {field}: {first['msg']}") from None


def _one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _last_line(result: SandboxResult) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    return f": {_one_line(lines[-1])}" if lines else ""


def _cut_marker(text: str) -> str:
    if len(text.encode()) < OUTPUT_LIMIT - 3:  # decoding may shorten a split last char
        return ""
    return f"\n[harness: output cut at {OUTPUT_LIMIT} bytes; the command was killed]\n"


def _write_logs(log_dir: Path, result: SandboxResult, cmd: str, network: bool) -> None:
    """stdout.log, stderr.log (each bounded, marked where cut) and proposer.json."""
    for name, text in (("stdout.log", result.stdout), ("stderr.log", result.stderr)):
        marker = _cut_marker(text) if result.output_truncated else ""
        (log_dir / name).write_text(text + marker, encoding="utf-8", errors="replace")
    facts = {"command": cmd, "network": network,
             **result.model_dump(exclude={"stdout", "stderr"})}
    (log_dir / "proposer.json").write_text(json.dumps(facts, indent=2) + "\n",
                                           encoding="utf-8")

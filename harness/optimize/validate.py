"""Validation of a proposed candidate, before any full evaluation.

Cheapest first, each failure a one-line reason (safe to show the proposer) plus evidence kept
in the experiment folder only:
1. the folder holds only regular files and folders within the size caps (staging rules);
2. the change is not empty, and not a duplicate of an earlier candidate (same tree, or the
   same change applied to another parent);
3. the anti-gaming scan finds no task id and no held-out or sealed material in the added lines;
4. the candidate's own unit tests pass in the sandbox;
5. a smoke episode on one train task runs without crashing.
(A candidate's own tests run in one process with it, so they could fake their own pass; that
only helps a candidate past its own check, never past the evaluation or the gate.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.config import HarnessConfig
from harness.errors import ConfigError
from harness.optimize.evaluate import evaluate
from harness.optimize.scan import Material, added_lines, scan
from harness.optimize.unit_tests import has_tests, run_unit_tests
from harness.optimize.versions import Versions, tag_of

CRASH_KINDS = ("crash", "protocol")


@dataclass
class Verdict:
    ok: bool
    reason: str = ""
    evidence: list[str] = field(default_factory=list)
    unit_tests: dict[str, Any] = field(default_factory=dict)


def check_change(versions: Versions, experiment: int, parent: str, earlier: list[int],
                 material: Material, proposal_text: str = "",
                 root: Path | None = None) -> tuple[Verdict, str]:
    """Steps 2-3 on the committed candidate; returns the verdict and the diff. The
    proposal's own words are scanned too: they are shown in the ledger and the view."""
    tag = tag_of(experiment)
    diff = versions.diff(parent, tag)
    if not diff.strip():
        return Verdict(False, "no-op: the candidate is identical to its parent"), diff
    duplicate = _duplicate_of(versions, tag, earlier)
    if duplicate is not None:
        return Verdict(False, f"duplicate: the same code or change as {duplicate}"), diff
    proposal_lines = [("proposal", n, text)
                      for n, text in enumerate(proposal_text.splitlines(), start=1)]
    findings = scan(added_lines(diff, root=root) + proposal_lines, material)
    if findings:
        public = sorted({f.public() for f in findings})
        return Verdict(False, "anti-gaming: " + public[0],
                       evidence=[f.model_dump_json() for f in findings]), diff
    return Verdict(True), diff


def _duplicate_of(versions: Versions, tag: str, earlier: list[int]) -> str | None:
    tree = versions.git("rev-parse", f"{tag}^{{tree}}").strip()
    patch = _patch_id(versions, tag)
    for number in earlier:
        other = tag_of(number)
        if not versions.has(other):
            continue
        if versions.git("rev-parse", f"{other}^{{tree}}").strip() == tree:
            return other
        if patch and patch == _patch_id(versions, other):
            return other
    return None


def _patch_id(versions: Versions, tag: str) -> str:
    diff = versions.git("diff", "--no-color", f"{tag}^", tag, check=False)
    if not diff.strip():
        return ""
    out = versions.git("patch-id", "--stable", input_bytes=diff.encode(), check=False)
    return out.split(" ", 1)[0]


async def check_runs(config: HarnessConfig, *, folder: Path, benchmark: str,
                     workspace: Path, into: Path, hidden: list[Path],
                     smoke_task: str | None) -> Verdict:
    """Steps 4-5: the candidate's unit tests, then one smoke episode."""
    tests: dict[str, Any] = {}
    if has_tests(folder):
        report = await run_unit_tests(folder, hidden=hidden)
        tests = report.model_dump()
        if not report.ok:
            detail = report.problem or f"{len(report.failed)} of {report.ran} failed: " + \
                "; ".join(f"{n}: {e}" for n, e in zip(report.failed, report.errors,
                                                    strict=True))[:400]
            return Verdict(False, f"unit tests: {detail}", unit_tests=tests)
    if smoke_task is None:
        return Verdict(True, unit_tests=tests)
    try:
        smoke = await evaluate(config, folder=folder, benchmark=benchmark, split="train",
                               limit=None, trials=1, into=into, workspace=workspace,
                               task_ids=[smoke_task])
    except ConfigError as error:  # the candidate folder itself is unusable (no agent.py…)
        return Verdict(False, f"smoke: {error}", unit_tests=tests)
    for episode in smoke.episodes:
        kind = episode.error_kind or ""
        if episode.status == "failed" and kind.startswith(CRASH_KINDS):
            first = (episode.error or "").strip().splitlines()
            return Verdict(False, f"smoke episode crashed: {kind}: "
                           f"{(first[-1] if first else '')[:300]}", unit_tests=tests)
    return Verdict(True, unit_tests=tests)

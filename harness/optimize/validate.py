"""Validation of a proposed candidate, before any full evaluation.

Cheapest first, each failure a one-line reason (safe to show the proposer) plus evidence kept
in the experiment folder only:
1. the folder holds only regular files and folders within the size caps (staging rules);
2. the change is not empty, and not a duplicate of an earlier candidate (same tree, or the
   same change applied to another parent);
3. the anti-gaming scan finds no task id and no held-out or sealed material in the added lines,
   and the added Python lines neither run code built at run time nor decode hidden data
   (`exec`, `eval`, `compile`, `__import__`, pickles, decompression, base-N decoding): the
   scan is a heuristic, and such code would put anything out of its sight;
4. the candidate's own unit tests pass in the sandbox;
5. a smoke episode on one train task runs without crashing.
(A candidate's own tests run in one process with it, so they could fake their own pass; that
only helps a candidate past its own check, never past the evaluation or the gate.)
"""

from __future__ import annotations

import hashlib
import re
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
    tokens: int = 0  # what the smoke episode spent


def check_change(versions: Versions, experiment: int, parent: str,
                 earlier: list[tuple[int, str]],
                 material: Material, proposal_text: str = "",
                 root: Path | None = None) -> tuple[Verdict, str]:
    """Steps 2-3 on the committed candidate; returns the verdict and the diff. The
    proposal's own words are scanned too: they are shown in the ledger and the view."""
    tag = tag_of(experiment)
    diff = versions.diff(parent, tag)
    if not diff.strip():
        return Verdict(False, "no-op: the candidate is identical to its parent"), diff
    if versions.normalized_digest(tag) == versions.normalized_digest(parent):
        return Verdict(False, "no-op: only comments or layout changed"), diff
    duplicate = _duplicate_of(versions, tag, parent, earlier)
    if duplicate is not None:
        return Verdict(False, f"duplicate: the same code or change as {duplicate}"), diff
    proposal_lines = [("proposal", n, text)
                      for n, text in enumerate(proposal_text.splitlines(), start=1)]
    findings = scan(added_lines(diff, root=root) + proposal_lines, material)
    if findings:
        public = sorted({f.public() for f in findings})
        return Verdict(False, "anti-gaming: " + public[0],
                       evidence=[f.model_dump_json() for f in findings]), diff
    opaque = opaque_code(added_lines(diff, root=root))
    if opaque:
        return Verdict(False, f"opaque code: {opaque}; code built at run time from data "
                              "cannot be checked for task material, so it is refused"), diff
    return Verdict(True), diff


# Ways to run code or decode data that the scan cannot read through (rot13, zlib, pickles…).
_OPAQUE = re.compile(
    r"\b(?:exec|eval|compile|__import__)\s*\(|\b(?:marshal|pickle|dill)\.loads?\b|"
    r"\b(?:zlib|gzip|bz2|lzma)\.decompress\b|\bcodecs\.(?:decode|encode)\b|"
    r"\b(?:b(?:16|32|64|85)|a85|urlsafe_b64)decode\b|\bbytes\.fromhex\b|\bfromhex\s*\(")


def git_control_files(folder: Path) -> str | None:
    """A `.gitattributes` (or `.gitmodules`) would let the candidate change what git exports
    after the scan (export-subst, filters); the first one found, relative to `folder`."""
    for path in sorted(folder.rglob(".git*")):
        if path.name in (".gitattributes", ".gitmodules"):
            return str(path.relative_to(folder))
    return None


def opaque_code(lines: list[tuple[str, int, str]]) -> str | None:
    """The first added Python line that executes or decodes hidden content, as `path:line:
    construct`; None when there is none."""
    for path, number, text in lines:
        if not path.endswith(".py"):
            continue
        found = _OPAQUE.search(text)
        if found:
            return f"{path}:{number}: {found.group(0).strip()}"
    return None


def _duplicate_of(versions: Versions, tag: str, parent: str,
                  earlier: list[tuple[int, str]]) -> str | None:
    """An earlier candidate with the same code up to comments and layout, or the same change
    applied to another parent (a copy would be a free second draw from the gate)."""
    same = versions.normalized_digest(tag)
    patch = _patch_id(versions, parent, tag)
    for number, its_parent in earlier:
        other = tag_of(number)
        if not versions.has(other):
            continue
        if versions.normalized_digest(other) == same:
            return other
        if patch and its_parent and versions.has(its_parent) and \
                patch == _patch_id(versions, its_parent, other):
            return other
    return None


def _patch_id(versions: Versions, parent: str, tag: str) -> str:
    """What a change adds and removes, without context or position: the same edit applied
    to two parents gives the same id (git's patch-id keeps the context lines)."""
    diff = versions.git("diff", "--no-color", "-U0", parent, tag, check=False)
    changed = sorted(" ".join(line.split()) for line in diff.splitlines()
                     if line[:1] in "+-" and not line.startswith(("+++", "---")))
    if not changed:
        return ""
    return hashlib.sha256("\n".join(changed).encode()).hexdigest()


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
    tokens = sum(e.input_tokens + e.output_tokens for e in smoke.episodes)
    for episode in smoke.episodes:
        kind = episode.error_kind or ""
        if episode.status == "failed" and kind.startswith(CRASH_KINDS):
            first = (episode.error or "").strip().splitlines()
            return Verdict(False, f"smoke episode crashed: {kind}: "
                           f"{(first[-1] if first else '')[:300]}", unit_tests=tests,
                           tokens=tokens)
    return Verdict(True, unit_tests=tests, tokens=tokens)

"""Deterministic digests of the TRAIN runs in the view; no model involved.

Candidates are named `exp-0003`, `0003` or `3`; `diff_code` also takes `candidate` for the
folder being edited (when the tools were given it). Task ids are looked up among the view's
train episodes, never used as paths. Everything is read through `ViewRuns` (confined to the
view); every result is bounded to `MAX_RESULT_CHARS` with explicit markers.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from pathlib import Path

from harness.runner.results import EpisodeResult
from meta_agent.tools.confine import (
    CANDIDATE,
    MAX_RESULT_CHARS,
    VIEW,
    NotFound,
    Opener,
    Target,
    ToolError,
    bounded,
    protected_paths,
    shown,
)
from meta_agent.tools.paging import page
from meta_agent.tools.runs import TrainRun, ViewRuns
from meta_agent.tools.signatures import (
    attention_order,
    error_line,
    failure_mode,
    group_name,
    signature,
    task_records,
)
from meta_agent.tools.tree import WalkStats, walk

MAX_CODE_FILE = 1024 * 1024
PER_GROUP = 30  # tasks shown per attention group in the overview
_MASKS = ((re.compile(r"\b\d+\.\d+s\b"), "#s"), (re.compile(r"\b[0-9a-f]{32}\b"), "<id>"))


class DigestTools:
    def __init__(self, view: Path, *, candidate: Path | None = None,
                 protected: list[Path] | None = None) -> None:
        self.opener = Opener(protected_paths() if protected is None else protected)
        self.runs = ViewRuns(self.opener, Target(VIEW, view, ()))
        self.candidate = candidate

    def overview(self, candidate: str) -> str:
        run = self._train(candidate)
        parent = self.runs.parent_of(run)
        records = task_records(run.episodes, parent.episodes if parent else None)
        lines = [_headline(run, parent), *self._signatures(run), ""]
        ranked = attention_order(records)
        lines.append("Tasks ranked for attention:" if ranked else "Every task passed every trial.")
        group, in_group = "", 0
        for record in ranked:
            if group_name(record) != group:
                if in_group > PER_GROUP:
                    lines.append(f"    … {in_group - PER_GROUP} more — failures() lists them")
                group, in_group = group_name(record), 0
                lines.append(f"  {group}:")
            in_group += 1
            if in_group <= PER_GROUP:
                lines.append(f"    {shown(record.task_id)}  {record.rate()}")
        if in_group > PER_GROUP:
            lines.append(f"    … {in_group - PER_GROUP} more — failures() lists them")
        fixed = [r for r in records.values() if r.fixed]
        if fixed:
            more = f" … and {len(fixed) - PER_GROUP} more" if len(fixed) > PER_GROUP else ""
            lines.append("  fixed against the parent: " + ", ".join(
                f"{shown(r.task_id)} ({r.rate()})" for r in fixed[:PER_GROUP]) + more)
        lines.append(f"Next: failures({run.tag!r}), trace({run.tag!r}, task_id, trial), "
                     "contrast(task_id)")
        return bounded("\n".join(lines))

    def failures(self, candidate: str, limit: int = 20) -> str:
        run = self._train(candidate)
        limit = min(max(int(limit), 1), 500)
        parent = self.runs.parent_of(run)
        order = {r.task_id: i for i, r in enumerate(attention_order(
            task_records(run.episodes, parent.episodes if parent else None)))}
        failed = sorted((e for e in run.episodes if not e.passed),
                        key=lambda e: (order.get(e.task_id, len(order)), e.task_id, e.trial))
        if not failed:
            return f"{run.tag}: no failed train episode ({len(run.episodes)} episodes)"
        lines = [f"{run.tag}: {len(failed)} failed train episodes of {len(run.episodes)}"]
        lines += [self._failure_line(run, e) for e in failed[:limit]]
        if len(failed) > limit:
            lines.append(f"… {len(failed) - limit} more failed episodes — raise limit")
        return bounded("\n".join(lines), hint="lower limit")

    def contrast(self, task_id: str) -> str:
        found = [(run, e) for run in self.runs.all() for e in run.of_task(task_id)
                 if e.status != "error"]
        if not found:
            raise ToolError(self._unknown_task(task_id))
        pair = _pick_pair(found)
        if pair is None:
            passing = sum(e.passed for _, e in found)
            what = "passed" if passing else "failed"
            return (f"no contrast for {shown(task_id)}: all {len(found)} of its train episodes "
                    f"{what} (in {', '.join(sorted({r.tag for r, _ in found}))}); "
                    "read one with trace")
        half = MAX_RESULT_CHARS // 2 - 600
        blocks = [f"Task {shown(task_id)}: a passing and a failing episode"]
        for label, (run, e) in zip(("PASSING", "FAILING"), pair, strict=True):
            blocks += ["", f"=== {label}: {run.tag} trial {e.trial} ===", self._facts(run, e),
                       "--- transcript ---", _head(self.runs.transcript(run, e), half, run, e)]
        return bounded("\n".join(blocks))

    def trace(self, candidate: str, task_id: str, trial: int = 0, offset: int = 0,
              limit: int = 200) -> str:
        run = self._train(candidate)
        episode = self._episode(run, task_id, trial)
        lines = self.runs.transcript(run, episode)
        return bounded(f"{run.tag} · task {shown(task_id)} · trial {episode.trial} "
                       f"({len(lines)} lines)\n" + page(lines, offset, limit, numbered=False))

    def diff_code(self, a: str, b: str) -> str:
        left, right = self._code(a), self._code(b)
        names = sorted(set(left) | set(right))
        out: list[str] = []
        for name in names:
            before, after = left.get(name), right.get(name)
            if before == after:
                continue
            out += _file_diff(name, before, after, self._label(a), self._label(b))
        if not out:
            return f"no difference between the code of {self._label(a)} and {self._label(b)}"
        return bounded("\n".join(out), hint="diff fewer files, or read them with read_file")

    def diff_traces(self, a: str, b: str, task_id: str) -> str:
        runs = [self._train(a), self._train(b)]
        episodes = [run.of_task(task_id) for run in runs]
        for run, found in zip(runs, episodes, strict=True):
            if not found:
                raise ToolError(f"{run.tag} has no train episode of task {shown(task_id)}")
        lines = [f"Task {shown(task_id)}: {runs[0].tag} → {runs[1].tag}"]
        for run, found in zip(runs, episodes, strict=True):
            lines += [f"{run.tag} trial {e.trial}: {self._facts(run, e, one_line=True)}"
                      for e in found]
        first = [_masked(self.runs.transcript(run, found[0]))
                 for run, found in zip(runs, episodes, strict=True)]
        names = [f"{run.tag}/trial{found[0].trial}" for run, found in
                 zip(runs, episodes, strict=True)]
        diff = list(difflib.unified_diff(first[0], first[1], names[0], names[1], n=2,
                                         lineterm=""))
        lines += ["", "Transcripts of the first trials (timings and ids masked):"]
        lines += diff or ["(identical)"]
        return bounded("\n".join(lines), hint="read each with trace(candidate, task_id, trial)")

    # -- helpers ---------------------------------------------------------------------------

    def _train(self, candidate: str) -> TrainRun:
        run = self.runs.run(candidate)
        if run.result is None:
            status = run.summary.get("status", "?")
            reason = str(run.summary.get("reason", ""))
            raise ToolError(f"{run.tag} has no train run ({status}: {shown(reason)})")
        return run

    def _signatures(self, run: TrainRun) -> list[str]:
        groups: dict[tuple[str, str], list[EpisodeResult]] = defaultdict(list)
        for e in run.episodes:
            if not e.passed:
                facts = self.runs.facts(run, e) if e.status == "scored" else None
                errors = facts.tool_errors if facts else []
                groups[signature(failure_mode(e, len(errors)), error_line(e, errors))].append(e)
        failed = sum(len(items) for items in groups.values())
        if not failed:
            return []
        lines = [f"Failures by signature ({failed} failed episodes):"]
        for (mode, line), items in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            tasks = sorted({e.task_id for e in items})
            more = f" (+{len(tasks) - 6} more)" if len(tasks) > 6 else ""
            lines.append(f"  {len(items)}× {mode}" + (f" — {shown(line, 160)}" if line else "")
                         + f"    tasks: {', '.join(shown(t, 60) for t in tasks[:6])}{more}")
        return lines

    def _failure_line(self, run: TrainRun, e: EpisodeResult) -> str:
        return f"{shown(e.task_id, 80)} · trial {e.trial} · " + self._facts(run, e, True)

    def _facts(self, run: TrainRun, e: EpisodeResult, one_line: bool = False) -> str:
        facts = self.runs.facts(run, e)
        mode = "passed" if e.passed else failure_mode(e, len(facts.tool_errors))
        answer = "(not visible)" if facts.answer is None else repr(shown(facts.answer, 200))
        parts = [f"category {shown(e.category, 40) or '-'}", f"{e.status} {mode}",
                 f"score {e.score:g}", f"answer {answer}", f"detail {shown(e.detail, 200)!r}",
                 f"{e.model_calls} calls, {e.tool_calls} tool calls",
                 f"{e.input_tokens}+{e.output_tokens} tokens"]
        line = error_line(e, facts.tool_errors) if not e.passed else ""
        if line and line != e.detail:
            parts.append(f"error {shown(line, 200)}")
        return " · ".join(parts) if one_line else "\n".join(parts)

    def _episode(self, run: TrainRun, task_id: str, trial: int) -> EpisodeResult:
        found = run.of_task(task_id)
        if not found:
            raise ToolError(f"{run.tag} has no train episode of task {shown(task_id)}"
                            + ("" if self._known(task_id) else f"; {self._unknown_task(task_id)}"))
        for e in found:
            if e.trial == int(trial):
                return e
        raise ToolError(f"{run.tag} has no trial {trial} of {shown(task_id)}; trials: "
                        + ", ".join(str(e.trial) for e in found))

    def _known(self, task_id: str) -> bool:
        return any(run.of_task(task_id) for run in self.runs.all())

    def _unknown_task(self, task_id: str) -> str:
        ids = sorted({e.task_id for run in self.runs.all() for e in run.episodes})
        sample = ", ".join(shown(t, 60) for t in ids[:10]) + (" …" if len(ids) > 10 else "")
        return (f"task {shown(task_id)} is not among the train tasks in the view "
                f"({len(ids)} tasks: {sample})")

    def _label(self, name: str) -> str:
        return CANDIDATE if name.strip() == CANDIDATE else self.runs.run(name).tag

    def _code(self, name: str) -> dict[str, str]:
        """A candidate's files as text (binary ones summarised), read without links."""
        if name.strip() == CANDIDATE:
            if self.candidate is None:
                raise ToolError("the candidate folder is not known to these tools")
            top = Target(CANDIDATE, self.candidate, ())
        else:
            number = self.runs.resolve(name)
            top = self.runs.at("candidates", f"exp-{number:04d}")
        try:
            with self.opener.folder(top):
                pass
        except NotFound:
            raise ToolError(f"{shown(name)}: its code is not in the view (never committed, "
                            "or quarantined)") from None
        files: dict[str, str] = {}
        entries = list(walk(self.opener, top, WalkStats()))
        for entry in entries:
            rel = "/".join(entry.target.parts[len(top.parts):])
            if entry.is_link or not (entry.is_file or entry.is_dir):
                files[rel] = "(a link or special file; not read)\n"
            elif entry.is_file:
                files[rel] = self._text(entry.target)
        return files

    def _text(self, target: Target) -> str:
        try:
            data = self.opener.read_bytes(target, MAX_CODE_FILE)
        except ToolError as error:
            return f"({error})\n"
        if b"\0" in data[:8192]:
            return f"(binary file, {len(data):,} bytes)\n"
        return data.decode("utf-8", errors="replace")


def _headline(run: TrainRun, parent: TrainRun | None) -> str:
    s = run.summary
    result = run.result
    assert result is not None
    passed = sum(e.passed for e in run.episodes)
    tasks = len({e.task_id for e in run.episodes})
    errors = sum(e.status == "error" for e in run.episodes)
    mean = result.aggregate.mean_score if result.aggregate else None
    line = (f"{run.tag} ({s.get('status', '?')}, parent {parent.tag if parent else 'none'}): "
            f"train {'-' if mean is None else f'{mean:.3f}'} over {tasks} tasks × "
            f"{result.trials} trials; {passed} of {len(run.episodes)} episodes passed")
    if errors:
        line += f"; {errors} infrastructure errors (not the agent's failures, not counted)"
    if s.get("held_out") is not None:
        line += f"\nheld-out {s['held_out']:.3f}" + (
            f" (delta {s['delta']:+.3f}, p {s['p_value']:.3g})"
            if s.get("delta") is not None and s.get("p_value") is not None else "")
    if s.get("description"):
        line += f"\nchange: {shown(str(s['description']), 300)}"
    return line


def _pick_pair(found: list[tuple[TrainRun, EpisodeResult]]
               ) -> tuple[tuple[TrainRun, EpisodeResult], tuple[TrainRun, EpisodeResult]] | None:
    """Prefer both from the latest candidate that has both; else the latest of each."""
    by_run: dict[int, list[tuple[TrainRun, EpisodeResult]]] = defaultdict(list)
    for item in found:
        by_run[item[0].number].append(item)
    for number in sorted(by_run, reverse=True):
        good = [i for i in by_run[number] if i[1].passed]
        bad = [i for i in by_run[number] if not i[1].passed]
        if good and bad:
            return good[0], bad[0]
    good = [i for i in found if i[1].passed]
    bad = [i for i in found if not i[1].passed]
    return (good[-1], bad[-1]) if good and bad else None


def _head(lines: list[str], budget: int, run: TrainRun, e: EpisodeResult) -> str:
    out: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        if used + len(line) + 1 > budget:
            return "\n".join([*out, f"… {len(lines) - index} more lines — trace({run.tag!r}, "
                              f"{e.task_id!r}, trial={e.trial}, offset={index})"])
        out.append(line)
        used += len(line) + 1
    return "\n".join(out)


def _masked(lines: list[str]) -> list[str]:
    for pattern, replacement in _MASKS:
        lines = [pattern.sub(replacement, line) for line in lines]
    return lines


def _file_diff(name: str, before: str | None, after: str | None, a: str, b: str) -> list[str]:
    if before is None:
        return [f"=== added in {b}: {name}"] + [f"+{line}" for line in (after or "").split("\n")]
    if after is None:
        return [f"=== removed in {b}: {name} (it had {before.count(chr(10))} lines)"]
    return list(difflib.unified_diff(before.split("\n"), after.split("\n"), f"{a}/{name}",
                                     f"{b}/{name}", lineterm=""))

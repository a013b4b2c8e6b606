"""Reading the TRAIN runs the view holds: summaries, results, trace facts and transcripts.

Every file is read through the confined opener rooted at the view (no link followed, protected
paths refused), and a trace store is opened read-only and immutable through the descriptor
that was checked, so nothing outside the view is read and nothing in it is written.
Layout (see `harness.optimize.view`): `experiments/NNNN/summary.json` and
`experiments/NNNN/train/{results.json, traces.sqlite, transcripts/}`.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from harness.optimize.view import transcript_name
from harness.runner.results import EpisodeResult, RunResult
from meta_agent.tools.confine import (
    VIEW,
    NotFound,
    Opener,
    Target,
    ToolError,
    real_path,
    refuse_special,
    shown,
)
from traces import conventions as c
from traces.records import SpanRecord
from traces.render import render_spans

MAX_JSON_BYTES = 64 * 1024 * 1024
MAX_TRANSCRIPT_BYTES = 64 * 1024 * 1024
_CANDIDATE_NAME = re.compile(r"^\s*(?:exp-?|experiments/)?0*(\d{1,6})\s*$", re.IGNORECASE)
_SPAN_COLUMNS = ("span_id, trace_id, parent_id, name, kind, start_ns, end_ns, status_code, "
                 "status_description, attributes, events, episode_id, task_id, schema_version")


def tag(number: int) -> str:
    return f"exp-{number:04d}"


@dataclass
class TrainRun:
    number: int
    summary: dict[str, Any]
    result: RunResult | None  # None: the experiment has no train run (invalid before it)

    @property
    def tag(self) -> str:
        return tag(self.number)

    @property
    def episodes(self) -> list[EpisodeResult]:
        return self.result.episodes if self.result else []

    def of_task(self, task_id: str) -> list[EpisodeResult]:
        return sorted((e for e in self.episodes if e.task_id == task_id), key=lambda e: e.trial)


@dataclass
class TraceFacts:
    answer: str | None = None
    tool_errors: list[str] = field(default_factory=list)


class ViewRuns:
    """The view's experiments, loaded lazily and cached (the view does not change while a
    proposer runs)."""

    def __init__(self, opener: Opener, view_root: Target) -> None:
        self.opener = opener
        self.root = view_root
        self._runs: dict[int, TrainRun] = {}

    def at(self, *parts: str) -> Target:
        return Target(VIEW, self.root.root, parts)

    def numbers(self) -> list[int]:
        try:
            with self.opener.folder(self.at("experiments")) as fd, os.scandir(fd) as found:
                names = [item.name for item in found]
        except NotFound:
            return []
        return sorted(int(name) for name in names if name.isdigit() and len(name) == 4)

    def resolve(self, name: str | int) -> int:
        match = _CANDIDATE_NAME.match(str(name))
        numbers = self.numbers()
        if match is None or int(match.group(1)) not in numbers:
            known = ", ".join(tag(n) for n in numbers[-12:]) or "none yet"
            raise ToolError(f"unknown candidate '{shown(str(name))}': name one as exp-NNNN or its "
                            f"number; in the view: {known}")
        return int(match.group(1))

    def run(self, name: str | int) -> TrainRun:
        number = self.resolve(name)
        if number not in self._runs:
            self._runs[number] = self._load(number)
        return self._runs[number]

    def all(self) -> list[TrainRun]:
        return [self.run(n) for n in self.numbers()]

    def parent_of(self, run: TrainRun) -> TrainRun | None:
        parent = str(run.summary.get("parent") or "")
        if not parent:
            return None
        try:
            found = self.run(parent)
        except ToolError:
            return None
        return found if found.number != run.number else None

    def _load(self, number: int) -> TrainRun:
        folder = ("experiments", f"{number:04d}")
        summary = self._json(self.at(*folder, "summary.json"))
        try:
            data = self.opener.read_bytes(self.at(*folder, "train", "results.json"),
                                          MAX_JSON_BYTES)
        except NotFound:
            return TrainRun(number, summary if isinstance(summary, dict) else {}, None)
        try:
            result = RunResult.model_validate_json(data)
        except ValidationError as error:
            raise ToolError(f"{tag(number)}: its train results.json cannot be read "
                            f"({error.error_count()} problems)") from None
        return TrainRun(number, summary if isinstance(summary, dict) else {}, result)

    def _json(self, target: Target) -> Any:
        try:
            return json.loads(self.opener.read_bytes(target, MAX_JSON_BYTES))
        except NotFound:
            return {}
        except ValueError:
            raise ToolError(f"{target.shown} is not valid JSON") from None

    # -- traces ----------------------------------------------------------------------------

    def facts(self, run: TrainRun, episode: EpisodeResult) -> TraceFacts:
        with self._store(run) as db:
            if db is None:
                return TraceFacts()
            rows = db.execute(
                "SELECT span_id, parent_id, status_code, status_description, attributes "
                "FROM spans WHERE episode_id = ? ORDER BY start_ns, rowid",
                (episode.episode_id,)).fetchall()
        return _facts(rows)

    def transcript(self, run: TrainRun, episode: EpisodeResult) -> list[str]:
        """The rendered transcript the loop stored, else rendered here from the spans."""
        target = self.at("experiments", f"{run.number:04d}", "train", "transcripts",
                         transcript_name(episode))
        try:
            text = self.opener.read_bytes(target, MAX_TRANSCRIPT_BYTES).decode(errors="replace")
            return text.rstrip("\n").split("\n")
        except NotFound:
            pass
        with self._store(run) as db:
            if db is None:
                return [f"(no trace of this episode in {run.tag}'s train run)"]
            rows = db.execute(f"SELECT {_SPAN_COLUMNS} FROM spans WHERE episode_id = ? "
                              "ORDER BY start_ns, rowid", (episode.episode_id,)).fetchall()
        return render_spans([_span(row) for row in rows]) or ["(the episode left no spans)"]

    @contextmanager
    def _store(self, run: TrainRun) -> Iterator[sqlite3.Connection | None]:
        """The run's trace store, read-only, through the descriptor that was checked."""
        target = self.at("experiments", f"{run.number:04d}", "train", "traces.sqlite")
        fd = self._open_store(target)
        if fd is None:
            yield None
            return
        try:
            self.opener.check_protected(fd, target)
            path = real_path(fd, target) if _no_proc() else f"/proc/self/fd/{fd}"
            try:
                db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
            except sqlite3.Error as error:
                raise ToolError(f"{target.shown}: the trace store cannot be read ({error})") \
                    from None
            with closing(db):
                try:
                    yield db
                except sqlite3.Error as error:
                    raise ToolError(f"{target.shown}: the trace store cannot be read "
                                    f"({error})") from None
        finally:
            os.close(fd)

    def _open_store(self, target: Target) -> int | None:
        try:
            with self.opener.parent(target) as parent:
                listed = self.opener.lstat(parent, target)
                if listed is None:
                    return None
                refuse_special(target, listed)
                return self.opener.open_file(parent, target, listed)
        except NotFound:
            return None


def _no_proc() -> bool:
    return not os.path.isdir("/proc/self/fd")


def _facts(rows: list[tuple[Any, ...]]) -> TraceFacts:
    ids = {row[0] for row in rows}
    facts = TraceFacts()
    last_reply: str | None = None
    for _, parent_id, status, description, raw in rows:
        attributes = _loads(raw)
        operation = attributes.get(c.GEN_AI_OPERATION_NAME)
        if operation == c.OP_INVOKE_AGENT and parent_id not in ids:
            root_answer = _output_text(attributes)
            if root_answer is not None:
                facts.answer = root_answer
        elif operation == c.OP_CHAT:
            last_reply = _output_text(attributes) or last_reply
        elif operation == c.OP_EXECUTE_TOOL and status == "ERROR":
            name = attributes.get(c.GEN_AI_TOOL_NAME, "?")
            facts.tool_errors.append(f"{name}: {key_line(description or 'error')}")
    if facts.answer is None:
        facts.answer = last_reply
    return facts


def _output_text(attributes: dict[str, Any]) -> str | None:
    messages = _loads(attributes.get(c.GEN_AI_OUTPUT_MESSAGES))
    if not isinstance(messages, list):
        return None
    texts: list[str] = []
    calls: list[str] = []
    for message in messages:
        for part in message.get("parts", []) if isinstance(message, dict) else []:
            if part.get("type") == "text" and part.get("content"):
                texts.append(str(part["content"]))
            elif part.get("type") == "tool_call":
                calls.append(f"tool call {part.get('name')}({_compact(part.get('arguments'))})")
    return "\n".join(texts) if texts else "; ".join(calls) if calls else None


def _compact(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _loads(raw: Any) -> Any:
    if not isinstance(raw, str):
        return raw if raw is not None else {}
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _span(row: tuple[Any, ...]) -> SpanRecord:
    (span_id, trace_id, parent_id, name, kind, start, end, status, description, attributes,
     events, episode_id, task_id, version) = row
    return SpanRecord(schema_version=version, trace_id=trace_id, span_id=span_id,
                      parent_id=parent_id, name=name, kind=kind, start_ns=start, end_ns=end,
                      status_code=status, status_description=description,
                      attributes=json.loads(attributes), events=json.loads(events),
                      episode_id=episode_id, task_id=task_id)


def key_line(text: str) -> str:
    """The informative line of an error: a traceback's last line, else the first line."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    if not lines:
        return ""
    if any(line.startswith("Traceback (most recent call last)") for line in lines):
        return lines[-1]
    return lines[0]

"""The local trace store: finished spans in one SQLite file per run.

Rules:
- `SQLiteSpanExporter` is the one writer of its file: a lock serialises `export` across
  threads, each batch is one transaction (`executemany`), the journal is WAL so readers
  never block the writer, and `busy_timeout` covers a second process appending to the file.
- Every span row carries `episode_id` / `task_id` (indexed), copied from its own attributes
  `harness.episode_id` / `harness.task_id`; `EpisodeAttributesProcessor` puts those on every
  span below an episode root.
- Attribute and event values are stored as JSON; OTel tuples come back as lists.
- `TraceStore` is the reader; its records are pydantic models with a `schema_version`.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import format_span_id, format_trace_id

from traces import conventions as c
from traces.records import SCHEMA_VERSION, EpisodeSummary, SpanNode, SpanRecord, build_tree

__all__ = [
    "EpisodeSummary",
    "SQLiteSpanExporter",
    "SpanNode",
    "SpanRecord",
    "TraceStore",
    "build_tree",
]
logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spans (
    span_id TEXT NOT NULL,
    trace_id TEXT NOT NULL,
    parent_id TEXT,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER NOT NULL,
    status_code TEXT NOT NULL,
    status_description TEXT,
    attributes TEXT NOT NULL,
    events TEXT NOT NULL,
    resource TEXT NOT NULL,
    episode_id TEXT,
    task_id TEXT,
    schema_version INTEGER NOT NULL,
    PRIMARY KEY (trace_id, span_id)
);
CREATE INDEX IF NOT EXISTS spans_episode ON spans (episode_id, start_ns);
CREATE INDEX IF NOT EXISTS spans_task ON spans (task_id);
CREATE INDEX IF NOT EXISTS spans_trace ON spans (trace_id, start_ns);
"""

_COLUMNS = (
    "span_id, trace_id, parent_id, name, kind, start_ns, end_ns, status_code, "
    "status_description, attributes, events, resource, episode_id, task_id, schema_version"
)

_INSERT = f"INSERT OR REPLACE INTO spans ({_COLUMNS}) VALUES ({', '.join('?' * 15)})"


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False, timeout=30.0)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.executescript(_SCHEMA)
    return conn


def _plain(attributes: Any) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dict(attributes or {}).items()}


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def span_row(span: ReadableSpan) -> tuple[Any, ...]:
    ctx = span.get_span_context()
    assert ctx is not None
    attributes = _plain(span.attributes)
    events = [
        {"name": e.name, "timestamp_ns": e.timestamp, "attributes": _plain(e.attributes)}
        for e in span.events
    ]
    return (
        format_span_id(ctx.span_id),
        format_trace_id(ctx.trace_id),
        format_span_id(span.parent.span_id) if span.parent else None,
        span.name,
        span.kind.name,
        span.start_time or 0,
        span.end_time or 0,
        span.status.status_code.name,
        span.status.description,
        c.to_json(attributes),
        c.to_json(events),
        c.to_json(_plain(span.resource.attributes)),
        _optional_str(attributes.get(c.HARNESS_EPISODE_ID)),
        _optional_str(attributes.get(c.HARNESS_TASK_ID)),
        SCHEMA_VERSION,
    )


class SQLiteSpanExporter(SpanExporter):
    """Writes finished spans to `path` (created with its folder if missing)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = connect(self.path)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        rows = [span_row(span) for span in spans]
        with self._lock:
            if self._conn is None:
                return SpanExportResult.FAILURE
            try:
                with self._conn:
                    self._conn.executemany(_INSERT, rows)
            except sqlite3.Error:
                logger.exception("could not store %d spans in %s", len(rows), self.path)
                return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True

    def shutdown(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


_EPISODES_SQL = """
SELECT episode_id, MIN(start_ns), MAX(end_ns), COUNT(*),
       SUM(status_code = 'ERROR'),
       SUM(json_extract(attributes, '$."gen_ai.operation.name"') = 'chat'),
       SUM(json_extract(attributes, '$."gen_ai.operation.name"') = 'execute_tool'),
       COALESCE(SUM(json_extract(attributes, '$."gen_ai.usage.input_tokens"')), 0),
       COALESCE(SUM(json_extract(attributes, '$."gen_ai.usage.output_tokens"')), 0)
FROM spans WHERE episode_id IS NOT NULL {where}
GROUP BY episode_id ORDER BY MIN(start_ns)
"""

# An episode's root: its first span whose parent is not in the same episode.
_ROOTS_SQL = """
SELECT episode_id, task_id, trace_id, name, status_code FROM spans s
WHERE episode_id IS NOT NULL {where} AND NOT EXISTS (
    SELECT 1 FROM spans p WHERE p.trace_id = s.trace_id AND p.span_id = s.parent_id
    AND p.episode_id = s.episode_id)
ORDER BY start_ns DESC
"""


class TraceStore:
    """Reads a trace file written by `SQLiteSpanExporter`."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"no trace store at {self.path}")
        self._conn = connect(self.path)
        self._lock = threading.Lock()  # one connection, shared safely across threads

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    def __enter__(self) -> TraceStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def episodes(self, task_id: str | None = None) -> list[EpisodeSummary]:
        where, args = ("AND task_id = ?", (task_id,)) if task_id is not None else ("", ())
        rows = self._query(_EPISODES_SQL.format(where=where), args)
        roots_sql = _ROOTS_SQL.format(where=where.replace("task_id", "s.task_id"))
        # Newest first, so the dict keeps each episode's earliest root.
        roots = {row[0]: row for row in self._query(roots_sql, args)}
        return [_summary(row, roots[row[0]]) for row in rows]

    def spans(self, episode_id: str) -> list[SpanRecord]:
        """All spans of an episode, oldest first."""
        rows = self._query(
            f"SELECT {_COLUMNS} FROM spans WHERE episode_id = ? ORDER BY start_ns, rowid",
            (episode_id,),
        )
        return [_record(row) for row in rows]

    def span_tree(self, episode_id: str) -> list[SpanNode]:
        """The episode's spans as trees; roots are spans whose parent is not in the episode."""
        return build_tree(self.spans(episode_id))


def _summary(row: tuple[Any, ...], root: tuple[Any, ...]) -> EpisodeSummary:
    episode_id, start, end, count, errors, chats, tools, tokens_in, tokens_out = row
    _, task_id, trace_id, name, status = root
    return EpisodeSummary(
        episode_id=episode_id,
        task_id=task_id,
        trace_id=trace_id,
        root_name=name,
        start_ns=start,
        end_ns=end,
        status_code=status,
        span_count=count,
        error_count=errors or 0,
        chat_count=chats or 0,
        tool_count=tools or 0,
        input_tokens=int(tokens_in),
        output_tokens=int(tokens_out),
    )


def _record(row: tuple[Any, ...]) -> SpanRecord:
    (
        span_id,
        trace_id,
        parent_id,
        name,
        kind,
        start,
        end,
        status,
        description,
        attributes,
        events,
        _resource,
        episode_id,
        task_id,
        version,
    ) = row
    return SpanRecord(
        schema_version=version,
        trace_id=trace_id,
        span_id=span_id,
        parent_id=parent_id,
        name=name,
        kind=kind,
        start_ns=start,
        end_ns=end,
        status_code=status,
        status_description=description,
        attributes=json.loads(attributes),
        events=json.loads(events),
        episode_id=episode_id,
        task_id=task_id,
    )

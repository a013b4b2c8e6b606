"""The SQLite trace store: round trip, episode index, tree, concurrent writers."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from traces import TraceStore, TracingHandle, setup_tracing
from traces import conventions as c
from traces.store import SCHEMA_VERSION


def explode() -> None:
    raise KeyError("missing")


def record_episode(tracing: TracingHandle, episode_id: str, task_id: str, fail: bool) -> None:
    tool = tracing.tool("lookup", lambda key: {"key": key, "value": 42})
    with tracing.agent_span(
        "solver",
        task_id=task_id,
        episode_id=episode_id,
        attributes={"harness.candidate": "abc123", "meta": {"k": 1}},
    ):
        tool(key="x")
        with tracing.agent_span("checker"):
            if fail:
                with pytest.raises(KeyError):
                    tracing.tool("explode", explode)()
            else:
                tool(key="y")


def test_round_trip_and_index(tracing: TracingHandle, db_path: Path) -> None:
    record_episode(tracing, "ep-a", "task-1", fail=False)
    record_episode(tracing, "ep-b", "task-2", fail=True)
    record_episode(tracing, "ep-c", "task-1", fail=False)
    tracing.shutdown()
    with TraceStore(db_path) as store:
        episodes = store.episodes()
        assert [e.episode_id for e in episodes] == ["ep-a", "ep-b", "ep-c"]
        a, b, _ = episodes
        assert (a.task_id, a.root_name, a.span_count, a.tool_count) == (
            "task-1",
            "invoke_agent solver",
            4,
            2,
        )
        assert (a.error_count, b.error_count, a.status_code) == (0, 1, "UNSET")
        assert a.duration_s >= 0 and a.schema_version == SCHEMA_VERSION
        assert [e.episode_id for e in store.episodes(task_id="task-1")] == ["ep-a", "ep-c"]
        spans = store.spans("ep-a")
    assert [s.name for s in spans] == [
        "invoke_agent solver",
        "execute_tool lookup",
        "invoke_agent checker",
        "execute_tool lookup",
    ]
    root = spans[0]
    assert root.parent_id is None and len(root.trace_id) == 32 and len(root.span_id) == 16
    assert root.attributes["harness.candidate"] == "abc123"
    assert root.attributes["meta"] == '{"k": 1}'
    assert all(s.episode_id == "ep-a" and s.task_id == "task-1" for s in spans)
    assert all(s.trace_id == root.trace_id and s.end_ns >= s.start_ns for s in spans)
    assert spans[1].attributes[c.GEN_AI_TOOL_CALL_RESULT] == '{"key": "x", "value": 42}'


def test_span_tree_and_error_events(tracing: TracingHandle) -> None:
    record_episode(tracing, "ep-b", "task-2", fail=True)
    [root] = tracing.store().span_tree("ep-b")
    assert root.span.name == "invoke_agent solver"
    assert [n.span.name for n in root.children] == ["execute_tool lookup", "invoke_agent checker"]
    [boom] = root.children[1].children
    assert boom.span.name == "execute_tool explode" and boom.span.status_code == "ERROR"
    event = boom.span.events[0]
    assert event["name"] == "exception"
    assert event["attributes"]["exception.type"] == "KeyError"
    assert "missing" in event["attributes"]["exception.stacktrace"]


def test_wal_and_concurrent_writers(db_path: Path) -> None:
    handle = setup_tracing(db_path)  # batched, as in a real run
    threads_n, per_thread = 8, 50

    def work(n: int) -> None:
        tool = handle.tool("noop", lambda i: i)
        with handle.agent_span("worker", episode_id=f"ep-{n}", task_id=f"t-{n % 2}"):
            for i in range(per_thread - 1):
                tool(i)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    handle.shutdown()
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT COUNT(*) FROM spans").fetchone()[0] == threads_n * per_thread
    store = TraceStore(db_path)
    assert len(store.episodes()) == threads_n
    assert len(store.episodes(task_id="t-1")) == threads_n // 2
    assert all(e.span_count == per_thread for e in store.episodes())
    store.close()


def test_missing_store_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        TraceStore(tmp_path / "nope.sqlite")


def test_env_length_limits_do_not_truncate(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "10")
    monkeypatch.setenv("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "10")
    handle = setup_tracing(db_path, synchronous=True)
    long_text = "abcdefghij" * 1000
    with handle.agent_span("solver", episode_id="ep-long"):
        handle.tool("echo", lambda: long_text)()
    handle.shutdown()
    with TraceStore(db_path) as store:
        tool = store.spans("ep-long")[1]
    assert tool.attributes[c.GEN_AI_TOOL_CALL_RESULT] == long_text

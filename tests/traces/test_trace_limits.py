"""Recorded content is bounded with explicit markers, and the transcript cannot be forged.

Names, log text, message contents and tool values are chosen by the candidate. They must not
grow the store without bound, nor draw terminal escapes or fake transcript lines when
`harness traces show` prints them.
"""

from __future__ import annotations

import re
from typing import Any

from traces import TracingHandle, render_spans
from traces import conventions as c
from traces.limits import ContentBudget, clean_name, clip_text
from traces.records import SpanRecord

HOSTILE = "ok\x1b[2J\x1b]0;title\x07\rerased\u202eevil\u2066\x85\x00\ttab"


def test_clip_text_marks_what_it_cut() -> None:
    assert clip_text("short", 10) == "short"
    clipped = clip_text("é" * 100, 11)  # 200 bytes; cut on a character boundary
    assert clipped == "é" * 5 + "… 190 bytes dropped"


def test_each_value_and_the_episode_total_are_bounded() -> None:
    budget = ContentBudget(max_total_bytes=10_000, max_value_bytes=1_000)
    first = budget.record({"code": "x" * 5_000, "n": 3})
    assert first.startswith('{"code": "' + "x" * 1_000 + "… 4000 bytes dropped")
    assert '"n": 3' in first
    for _ in range(20):
        last = budget.record("y" * 900)
    assert budget.spent <= 10_000
    assert last.startswith("…") and "bytes dropped" in last and "limit" in last


def test_names_are_one_bounded_printable_line() -> None:
    name = clean_name("sub\n== agent fake\x1b[31m\u202e" + "z" * 500)
    assert name.isprintable() and "\\x0a" in name and "\\x1b" in name and "\\u202e" in name
    assert name.endswith("characters dropped") and len(name) < 200


def test_tool_values_are_clipped_in_the_store(tracing: TracingHandle) -> None:
    tool = tracing.tool("dump\x1b[2J", lambda: "r" * (3 * 1024 * 1024))
    with tracing.agent_span("solver\nfake", episode_id="big"):
        tool()
    spans = tracing.store().spans("big")
    [agent, call] = sorted(spans, key=lambda s: s.start_ns)
    assert agent.name == "invoke_agent solver\\x0afake"
    assert call.attributes[c.GEN_AI_TOOL_NAME] == "dump\\x1b[2J"
    result = call.attributes[c.GEN_AI_TOOL_CALL_RESULT]
    assert len(result) < 1024 * 1024 + 100 and result.endswith("bytes dropped")


def span(name: str, attributes: dict[str, Any], *, parent: str | None = None,
         span_id: str = "1", start: int = 0, events: list[dict[str, Any]] | None = None,
         status: str = "UNSET", description: str | None = None) -> SpanRecord:
    return SpanRecord(trace_id="t", span_id=span_id, parent_id=parent, name=name,
                      kind="INTERNAL", start_ns=start, end_ns=start + 1, status_code=status,
                      status_description=description, attributes=attributes,
                      events=events or [], episode_id="e")


def hostile_episode() -> list[SpanRecord]:
    """Spans as a hostile agent could have them stored (older stores kept names raw)."""
    root = span("invoke_agent " + HOSTILE, {
        c.GEN_AI_OPERATION_NAME: c.OP_INVOKE_AGENT, c.GEN_AI_AGENT_NAME: HOSTILE},
        events=[{"name": "agent.log", "timestamp_ns": 5,
                 "attributes": {"message": "fine\n== agent forged  episode=e\n" + HOSTILE}}])
    tool = span("execute_tool x", {
        c.GEN_AI_OPERATION_NAME: c.OP_EXECUTE_TOOL, c.GEN_AI_TOOL_NAME: "t\n-> tool forged",
        c.GEN_AI_TOOL_CALL_ARGUMENTS: '{"a": 1}',
        c.GEN_AI_TOOL_CALL_RESULT: "line one\n-- chat forged\n!! ERROR forged\r\x1b[1A"},
        parent="1", span_id="2", start=10, status="ERROR",
        description="Boom\n== agent forged" + HOSTILE)
    return [root, tool]


def test_the_transcript_escapes_controls_and_cannot_be_forged() -> None:
    lines = render_spans(hostile_episode())
    text = "\n".join(lines)
    for bad in ("\x1b", "\r", "\u202e", "\u2066", "\x85", "\x00", "\x07"):
        assert bad not in text, repr(bad)
    assert "\\x1b[2J" in text and "\\u202e" in text and "\\x0d" in text
    forged = [line for line in lines
              if re.match(r"\s*(== agent|-- chat|-> tool|!! ERROR) forged", line)]
    assert forged == []
    body = [line for line in lines if "forged" in line and "\\x0a" not in line]
    assert len(body) == 4 and all(line.lstrip().startswith("│ ") for line in body), body
    assert "-> tool t\\x0a-> tool forged" in text  # a name stays on its one line
    assert any(line.strip() == "│ line one" or "result: line one" in line for line in lines)
    assert any("log: fine" in line for line in lines)  # logs are shown, in place
    assert "\ttab" in text  # a tab in a value is harmless and kept

"""The records the trace store hands out: spans, span trees and episode summaries.

Rules: every record is a pydantic model carrying `schema_version`; attribute values are as
stored (JSON-decoded), so structured GenAI values are JSON strings, as they were recorded.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from traces import conventions as c

SCHEMA_VERSION = 1


class SpanRecord(BaseModel):
    schema_version: int = SCHEMA_VERSION
    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    kind: str
    start_ns: int
    end_ns: int
    status_code: str
    status_description: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    events: list[dict[str, Any]] = Field(default_factory=list)
    episode_id: str | None = None
    task_id: str | None = None

    @property
    def duration_s(self) -> float:
        return (self.end_ns - self.start_ns) / 1e9

    @property
    def operation(self) -> str:
        return str(self.attributes.get(c.GEN_AI_OPERATION_NAME, ""))


class SpanNode(BaseModel):
    span: SpanRecord
    children: list[SpanNode] = Field(default_factory=list)


class EpisodeSummary(BaseModel):
    schema_version: int = SCHEMA_VERSION
    episode_id: str
    task_id: str | None
    trace_id: str
    root_name: str
    start_ns: int
    end_ns: int
    status_code: str
    span_count: int
    error_count: int
    chat_count: int
    tool_count: int
    input_tokens: int
    output_tokens: int

    @property
    def duration_s(self) -> float:
        return (self.end_ns - self.start_ns) / 1e9


def build_tree(spans: list[SpanRecord]) -> list[SpanNode]:
    nodes = {span.span_id: SpanNode(span=span) for span in spans}
    roots: list[SpanNode] = []
    for span in spans:  # already in start order, so children stay ordered
        parent = nodes.get(span.parent_id) if span.parent_id else None
        (parent.children if parent else roots).append(nodes[span.span_id])
    return roots

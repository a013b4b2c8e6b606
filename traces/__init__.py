"""Tracing: GenAI-convention spans, the harness-owned wrappers, the SQLite store, rendering.

Typical use by the runner:

    handle = setup_tracing(run_dir / "traces.sqlite")
    client = handle.wrap_client(model_client)
    with handle.agent_span("solver", task_id=task.task_id, episode_id=episode_id):
        ...
    handle.shutdown()
    lines = render_episode(TraceStore(run_dir / "traces.sqlite"), episode_id)
"""

from traces.instrument import TracedModelClient, TracedTool, agent_span, traced_tool
from traces.render import render_episode, render_page, render_spans
from traces.setup import EpisodeAttributesProcessor, TracingHandle, setup_tracing
from traces.store import (
    EpisodeSummary,
    SpanNode,
    SpanRecord,
    SQLiteSpanExporter,
    TraceStore,
)

__all__ = [
    "EpisodeAttributesProcessor",
    "EpisodeSummary",
    "SQLiteSpanExporter",
    "SpanNode",
    "SpanRecord",
    "TraceStore",
    "TracedModelClient",
    "TracedTool",
    "TracingHandle",
    "agent_span",
    "render_episode",
    "render_page",
    "render_spans",
    "setup_tracing",
    "traced_tool",
]

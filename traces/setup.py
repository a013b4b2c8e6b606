"""Building the tracer provider for a run: the SQLite store, and OTLP/HTTP when asked.

Rules:
- `setup_tracing` does not touch the global tracer provider; the runner gets the provider and
  tracer in a `TracingHandle` and decides (`handle.install_global()` if it wants to).
- The SQLite exporter is always there. An OTLP/HTTP exporter is added when `otlp_endpoint` is
  given (a base URL; `/v1/traces` is appended unless present) or when
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT is set (the SDK reads them,
  with OTEL_EXPORTER_OTLP_HEADERS etc.).
- `synchronous=True` exports every span as it ends (tests); otherwise batched.
- `handle.shutdown()` flushes and closes every exporter; spans ended before it are stored.
- Attribute values are never truncated (the OTel length-limit variables are overridden).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanLimits, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.trace import Tracer

from harness.models.types import ModelClient
from traces import conventions as c
from traces.instrument import TracedModelClient, TracedTool, agent_span
from traces.store import SQLiteSpanExporter, TraceStore

INHERITED_ATTRIBUTES = (c.HARNESS_EPISODE_ID, c.HARNESS_TASK_ID)
# Attribute values are never cut, whatever OTEL_*ATTRIBUTE_VALUE_LENGTH_LIMIT says: the store
# is the meta-agent's evidence, and nothing may be truncated silently.
NO_TRUNCATION = SpanLimits(
    max_attribute_length=SpanLimits.UNSET, max_span_attribute_length=SpanLimits.UNSET,
    # The runner caps agent log events per episode (and says so); the SDK's default of 128
    # would drop the earliest ones silently.
    max_events=2_000, max_attributes=512,
)
# A full export queue drops spans; sized so that a burst of episodes does not lose any.
QUEUE_SIZE = 200_000


class EpisodeAttributesProcessor(SpanProcessor):
    """Copies `harness.episode_id` / `harness.task_id` from the parent span to each new span.

    Works for any parent that is a live SDK span in this process, which is what the context
    holds inside asyncio tasks and LangGraph branches; a span's own values win.
    """

    def on_start(self, span: Span, parent_context: context_api.Context | None = None) -> None:
        parent = trace.get_current_span(parent_context)
        parent_attributes = getattr(parent, "attributes", None)
        if not parent_attributes:
            return
        own = span.attributes or {}
        for key in INHERITED_ATTRIBUTES:
            if key not in own and key in parent_attributes:
                span.set_attribute(key, parent_attributes[key])

    def on_end(self, span: ReadableSpan) -> None:
        return None


def otlp_traces_endpoint(endpoint: str) -> str:
    base = endpoint.rstrip("/")
    return base if base.endswith("/v1/traces") else f"{base}/v1/traces"


def otlp_exporter(endpoint: str | None) -> SpanExporter | None:
    """An OTLP/HTTP exporter for `endpoint`, or from the environment, or None."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    if endpoint:
        return OTLPSpanExporter(endpoint=otlp_traces_endpoint(endpoint))
    if os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    ):
        return OTLPSpanExporter()
    return None


@dataclass
class TracingHandle:
    """What the runner holds: the provider, a tracer, the store path, and helpers."""

    provider: TracerProvider
    tracer: Tracer
    db_path: Path
    otlp_enabled: bool = False
    _closed: bool = field(default=False, repr=False)

    def wrap_client(self, client: ModelClient, **kwargs: Any) -> TracedModelClient:
        return TracedModelClient(client, tracer=self.tracer, **kwargs)

    def tool(self, name: str, fn: Callable[..., Any], description: str = "") -> TracedTool:
        return TracedTool(name, fn, description=description, tracer=self.tracer)

    def agent_span(
        self,
        name: str,
        *,
        task_id: str | None = None,
        episode_id: str | None = None,
        attributes: Mapping[str, Any] | None = None,
    ) -> AbstractContextManager[trace.Span]:
        return agent_span(
            name,
            task_id=task_id,
            episode_id=episode_id,
            attributes=attributes,
            tracer=self.tracer,
        )

    def install_global(self) -> None:
        """Make this provider the process-wide one (OTel allows setting it once)."""
        trace.set_tracer_provider(self.provider)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.provider.force_flush(timeout_millis)

    def store(self) -> TraceStore:
        self.force_flush()
        return TraceStore(self.db_path)

    def shutdown(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.provider.force_flush()
        self.provider.shutdown()


def setup_tracing(
    db_path: Path,
    *,
    service_name: str = "harness",
    otlp_endpoint: str | None = None,
    synchronous: bool = False,
    resource_attributes: Mapping[str, Any] | None = None,
) -> TracingHandle:
    resource = Resource.create({"service.name": service_name, **(resource_attributes or {})})
    provider = TracerProvider(resource=resource, span_limits=NO_TRUNCATION)
    provider.add_span_processor(EpisodeAttributesProcessor())
    def processor(exporter: SpanExporter) -> SpanProcessor:
        if synchronous:
            return SimpleSpanProcessor(exporter)
        return BatchSpanProcessor(exporter, max_queue_size=QUEUE_SIZE, schedule_delay_millis=500)

    provider.add_span_processor(processor(SQLiteSpanExporter(Path(db_path))))
    exporter = otlp_exporter(otlp_endpoint)
    if exporter is not None:
        provider.add_span_processor(processor(exporter))
    return TracingHandle(
        provider=provider,
        tracer=provider.get_tracer("harness.traces"),
        db_path=Path(db_path),
        otlp_enabled=exporter is not None,
    )

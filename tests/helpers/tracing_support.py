"""Spans in memory: `shared.tracing` exporting to OpenTelemetry's in-memory exporter."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared import tracing


class Spans:
    """The spans exported so far, with the lookups the tests make."""

    def __init__(self, exporter: InMemorySpanExporter) -> None:
        self.exporter = exporter

    def all(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def named(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.all() if s.name == name]

    def one(self, name: str) -> ReadableSpan:
        found = self.named(name)
        assert len(found) == 1, f"{len(found)} spans named {name!r}: {self.names()}"
        return found[0]

    def names(self) -> list[str]:
        return [s.name for s in self.all()]

    def parent_of(self, span: ReadableSpan) -> ReadableSpan | None:
        parent = span.parent
        if parent is None:
            return None
        return next((s for s in self.all() if s.context.span_id == parent.span_id), None)

    def children(self, span: ReadableSpan) -> list[ReadableSpan]:
        own = span.context.span_id
        return [s for s in self.all() if s.parent is not None and s.parent.span_id == own]


def trace_hex(span: ReadableSpan) -> str:
    return f"{span.context.trace_id:032x}"


def span_hex(span: ReadableSpan) -> str:
    return f"{span.context.span_id:016x}"


def attributes(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


@contextmanager
def exported_spans(sample_ratio: float = 1.0) -> Iterator[Spans]:
    """Export every span to memory while the block runs (each as it ends)."""
    exporter = InMemorySpanExporter()
    tracing.configure(exporter, sample_ratio=sample_ratio, batch=False)
    try:
        yield Spans(exporter)
    finally:
        tracing.configure(None)

"""Traces: one run is one trace, from the caller's request to each model call.

The trace context (W3C: a 32-hex trace id, a 16-hex span id, a sampled
flag) is tracked here whether or not spans are exported, because log lines
carry it (`shared.logs` writes `logging.googleapis.com/trace`, `spanId` and
`trace_sampled`) and a run keeps its trace id (the run view's `traceId`):
the api request continues the caller's `traceparent` (or Cloud Run's
`X-Cloud-Trace-Context`), the run is created in that trace, Pub/Sub carries
it as the message attribute `traceparent`, and every delivery of the run
opens its spans in the run's trace (`shared.engine.runner`).

Exporting is off by default: `span` then only draws a span id and sets a
context variable, and nothing of OpenTelemetry is imported (measured in
bench/tracing.py). `configure` with a span exporter (TRACE_EXPORTER,
`shared.services`) installs the OpenTelemetry SDK and every `span` becomes
an OpenTelemetry span with the same ids.

Sampling (TRACE_SAMPLE_RATIO) is decided by the trace id, so every span of
a trace decides alike: a run's trace is kept or dropped whole. A caller's
`traceparent` marked sampled is honoured; one marked not sampled (as Cloud
Run's front end marks most requests) is sampled at the ratio. A step
attempt that fails in a trace that was not sampled is kept anyway
(`Span.fail`): its span is exported on its own, in the run's trace, so the
failures an operator chases are never sampled away, while the healthy
runs' volume follows the ratio.
"""

from __future__ import annotations

import contextvars
import random
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Literal, NamedTuple, Protocol

from shared.redaction import redact

__all__ = [
    "CLOUD_TRACE_HEADER",
    "TRACEPARENT",
    "Span",
    "TraceContext",
    "configure",
    "continued",
    "current",
    "enabled",
    "flush",
    "from_headers",
    "parse_cloud_trace",
    "parse_traceparent",
    "span",
]

TRACEPARENT = "traceparent"
CLOUD_TRACE_HEADER = "X-Cloud-Trace-Context"

AttributeValue = str | bool | int | float | Sequence[str]
SpanKind = Literal["internal", "server", "client", "producer", "consumer"]

_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
# "TRACE_ID/SPAN_ID;o=OPTIONS", the span id in decimal (Cloud Run's header).
_CLOUD_TRACE = re.compile(r"([0-9a-fA-F]{32})/([0-9]{1,20})(?:;o=([0-9]+))?")
_INVALID_TRACE = "0" * 32
_INVALID_SPAN = "0" * 16


class TraceContext(NamedTuple):
    """Where a span sits: its trace, its own id, whether the trace is sampled.

    A named tuple: built for every span, even with tracing off, and a frozen
    dataclass costs several times as much to build.
    """

    trace_id: str
    span_id: str
    sampled: bool

    @property
    def traceparent(self) -> str:
        """The W3C `traceparent` value (a header, or a Pub/Sub attribute)."""
        return f"00-{self.trace_id}-{self.span_id}-{'01' if self.sampled else '00'}"


def parse_traceparent(value: object) -> TraceContext | None:
    """A W3C `traceparent`, or None when it is absent or invalid (then it is ignored)."""
    if not isinstance(value, str) or len(value) > 512:
        return None
    match = _TRACEPARENT.fullmatch(value.strip())
    if match is None or match[1] == "ff" or (match[1] == "00" and match[5]):
        return None
    trace_id, span_id = match[2], match[3]
    if trace_id == _INVALID_TRACE or span_id == _INVALID_SPAN:
        return None
    return TraceContext(trace_id, span_id, bool(int(match[4], 16) & 1))


def parse_cloud_trace(value: object) -> TraceContext | None:
    """Cloud Run's `X-Cloud-Trace-Context`, or None when absent or invalid."""
    if not isinstance(value, str) or len(value) > 512:
        return None
    match = _CLOUD_TRACE.fullmatch(value.strip())
    if match is None:
        return None
    span = int(match[2])
    trace_id = match[1].lower()
    if trace_id == _INVALID_TRACE or not 0 < span < 2**64:
        return None
    return TraceContext(trace_id, f"{span:016x}", match[3] == "1")


class _Headers(Protocol):
    def get(self, key: str) -> str | None: ...


def from_headers(headers: _Headers) -> TraceContext | None:
    """The caller's trace context: `traceparent` first, else Cloud Run's header."""
    return parse_traceparent(headers.get(TRACEPARENT)) or parse_cloud_trace(
        headers.get(CLOUD_TRACE_HEADER)
    )


_current: contextvars.ContextVar[TraceContext | None] = contextvars.ContextVar(
    "trace_context", default=None
)


def current() -> TraceContext | None:
    """The context of the span this code runs in (None outside any request or run)."""
    return _current.get()


@contextmanager
def continued(context: TraceContext | None) -> Iterator[None]:
    """Code in here logs (and opens spans) under `context`, as if inside that span."""
    if context is None:
        yield
        return
    token = _current.set(context)
    try:
        yield
    finally:
        _current.reset(token)


def new_trace_id() -> str:
    """A random W3C trace id (as OpenTelemetry's SDK draws them: not secret, just unique)."""
    return f"{random.getrandbits(128) or 1:032x}"


def _new_span_id() -> str:
    return f"{random.getrandbits(64) or 1:016x}"


class Span:
    """A span being recorded: add facts to it, mark it failed. Not exported (tracing off)."""

    def __init__(self, context: TraceContext) -> None:
        self.context = context
        self.failed = False

    def set(self, key: str, value: AttributeValue | None) -> None:
        """One attribute (None: left out)."""

    def set_many(self, attributes: Mapping[str, AttributeValue | None]) -> None:
        for key, value in attributes.items():
            self.set(key, value)

    def fail(self, message: str, error_type: str | None = None) -> None:
        """Mark the span failed with a (redacted) message; kept even if not sampled."""
        self.failed = True

    def _end(self) -> None:
        """Finish the span (exported spans only)."""


# What `span` uses when a parent is not given: the current context.
_CURRENT: Any = object()


def span(
    name: str,
    *,
    parent: TraceContext | None = _CURRENT,
    kind: SpanKind = "internal",
    attributes: Mapping[str, AttributeValue | None] | None = None,
    links: Sequence[TraceContext] = (),
    start: datetime | None = None,
) -> _Scope:
    """A span named `name`, the current one while the `with` block runs.

    `parent` defaults to the current context; None starts a new trace. An
    exception leaving the block marks the span failed with its (redacted)
    message (unless its class sets `traced_as_error = False`), and is
    raised on.
    """
    if parent is _CURRENT:
        parent = _current.get()
    backend = _backend
    if backend is None:
        # Off: an id and a context variable, nothing more (bench/tracing.py).
        if parent is None:
            context = TraceContext(new_trace_id(), _new_span_id(), False)
        else:
            context = TraceContext(parent.trace_id, _new_span_id(), parent.sampled)
        return _Scope(Span(context))
    return _Scope(backend.start(name, parent, kind, attributes or {}, links, start))


class _Scope:
    """`with span(...) as s`: `s` is the current span inside, ended on the way out.

    A class rather than a generator-based context manager: it costs a third
    as much, which is most of what a span costs when tracing is off.
    """

    __slots__ = ("_span", "_token")

    def __init__(self, opened: Span) -> None:
        self._span = opened

    def __enter__(self) -> Span:
        self._token = _current.set(self._span.context)
        return self._span

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        opened = self._span
        # An exception that is control flow, not a failure (the engine's
        # `Stop`: the run was cancelled or taken over), says so.
        if exc is not None and not opened.failed and getattr(exc, "traced_as_error", True):
            opened.fail(f"{type(exc).__name__}: {exc}", type(exc).__name__)
        _current.reset(self._token)
        opened._end()


class _Backend:
    """The OpenTelemetry SDK behind `span` (built by `configure`; imported only then)."""

    def __init__(self, provider: Any, keep: Any) -> None:
        from opentelemetry import trace as otel_trace

        self._otel = otel_trace
        self._provider = provider
        self._tracer = provider.get_tracer("genjobs")
        # Exports failed spans the sampler dropped (see `_OtelSpan._end`).
        self._keep = keep
        self._kinds = {
            "internal": otel_trace.SpanKind.INTERNAL,
            "server": otel_trace.SpanKind.SERVER,
            "client": otel_trace.SpanKind.CLIENT,
            "producer": otel_trace.SpanKind.PRODUCER,
            "consumer": otel_trace.SpanKind.CONSUMER,
        }

    def otel_context(self, context: TraceContext | None) -> Any:
        if context is None:
            return None
        span_context = self._otel.SpanContext(
            trace_id=int(context.trace_id, 16),
            span_id=int(context.span_id, 16),
            is_remote=True,
            trace_flags=self._otel.TraceFlags(1 if context.sampled else 0),
        )
        return self._otel.set_span_in_context(self._otel.NonRecordingSpan(span_context))

    def start(
        self,
        name: str,
        parent: TraceContext | None,
        kind: SpanKind,
        attributes: Mapping[str, AttributeValue | None],
        links: Sequence[TraceContext],
        start: datetime | None,
    ) -> Span:
        values = {k: v for k, v in attributes.items() if v is not None}
        otel_links = [
            self._otel.Link(self._otel.get_current_span(self.otel_context(link)).get_span_context())
            for link in links
        ]
        started = _nanos(start) if start is not None else None
        inner = self._tracer.start_span(
            name,
            context=self.otel_context(parent),
            kind=self._kinds[kind],
            attributes=values,
            links=otel_links,
            start_time=started,
        )
        ids = inner.get_span_context()
        context = TraceContext(
            f"{ids.trace_id:032x}", f"{ids.span_id:016x}", bool(ids.trace_flags & 1)
        )
        return _OtelSpan(context, inner, self, name, parent, kind, values, started)

    def keep(self, span: _OtelSpan, end_time: int) -> None:
        """Export a failed span that sampling dropped, with its own ids, in the same trace.

        Its ids are the dropped span's (`_PresetIds`), so the log lines that
        named it, and its failed children kept the same way, still point at it.
        """
        _preset.ids = (int(span.context.trace_id, 16), int(span.context.span_id, 16))
        try:
            kept = self._keep.start_span(
                span.name,
                context=self.otel_context(
                    TraceContext(span.context.trace_id, span.parent_span_id, True)
                    if span.parent_span_id
                    else None
                ),
                kind=self._kinds[span.kind],
                attributes={**span.values, "genjobs.kept_because": "error"},
                start_time=span.started,
            )
        finally:
            _preset.ids = None
        kept.set_status(self._otel.Status(self._otel.StatusCode.ERROR, span.error))
        kept.end(end_time=end_time)

    def flush(self, timeout_millis: int) -> None:
        self._provider.force_flush(timeout_millis)

    def shutdown(self) -> None:
        self._provider.shutdown()


class _OtelSpan(Span):
    def __init__(
        self,
        context: TraceContext,
        inner: Any,
        backend: _Backend,
        name: str,
        parent: TraceContext | None,
        kind: SpanKind,
        values: dict[str, Any],
        started: int | None,
    ) -> None:
        super().__init__(context)
        self._inner = inner
        self._backend = backend
        self.name = name
        self.parent_span_id = parent.span_id if parent else None
        self.kind = kind
        # Kept only while not recording: a failure then exports them (`keep`).
        self.values = values if not inner.is_recording() else {}
        self.started = started if started is not None else _now_nanos()
        self.error = ""

    def set(self, key: str, value: AttributeValue | None) -> None:
        if value is None:
            return
        if self._inner.is_recording():
            self._inner.set_attribute(key, value)
        else:
            self.values[key] = value

    def fail(self, message: str, error_type: str | None = None) -> None:
        self.failed = True
        self.error = redact(message)[:1000]
        if error_type:
            self.set("error.type", error_type)
        if self._inner.is_recording():
            otel = self._backend._otel
            self._inner.set_status(otel.Status(otel.StatusCode.ERROR, self.error))

    def _end(self) -> None:
        ended = _now_nanos()
        self._inner.end(end_time=ended)
        if self.failed and not self._inner.is_recording() and not self.context.sampled:
            self._backend.keep(self, ended)


class _Preset(threading.local):
    ids: tuple[int, int] | None = None


# The ids the next span of the keeper provider takes (this thread only).
_preset = _Preset()


def _preset_ids() -> Any:
    """An OpenTelemetry `IdGenerator` that hands out `_preset.ids` when set."""
    from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator

    class PresetIds(IdGenerator):
        def __init__(self) -> None:
            self._random = RandomIdGenerator()

        def generate_span_id(self) -> int:
            ids = _preset.ids
            return ids[1] if ids else self._random.generate_span_id()

        def generate_trace_id(self) -> int:
            ids = _preset.ids
            return ids[0] if ids else self._random.generate_trace_id()

    return PresetIds()


def _nanos(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000_000)


def _now_nanos() -> int:
    import time

    return time.time_ns()


_backend: _Backend | None = None
_lock = threading.Lock()


def enabled() -> bool:
    """Whether spans are exported (a span exporter is configured)."""
    return _backend is not None


def configure(exporter: Any, *, sample_ratio: float = 1.0, batch: bool = True) -> None:
    """Export spans to `exporter` (an OpenTelemetry `SpanExporter`), sampled at `sample_ratio`.

    `batch`: a background thread exports batches (production); otherwise
    each span is exported as it ends (tests, the file and console exporters).
    Replaces an earlier configuration; `None` turns exporting off.
    """
    global _backend
    with _lock:
        if _backend is not None:
            _backend.shutdown()
            _backend = None
        if exporter is None:
            return
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
        from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased, TraceIdRatioBased

        processor = BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
        resource = Resource.create({"service.name": "genjobs"})
        # A caller's "sampled" is honoured; its "not sampled" is not the last
        # word: Cloud Run's front end marks most requests so, which would
        # drop nearly every trace. The ratio decides by trace id, so every
        # later span of a trace (all parents here are remote) decides alike.
        ratio = TraceIdRatioBased(sample_ratio)
        provider = TracerProvider(
            sampler=ParentBased(ratio, remote_parent_not_sampled=ratio), resource=resource
        )
        provider.add_span_processor(processor)
        # Failed spans the sampler dropped go out through a provider that keeps everything.
        keeper = TracerProvider(sampler=ALWAYS_ON, resource=resource, id_generator=_preset_ids())
        keeper.add_span_processor(processor)
        _backend = _Backend(provider, keeper.get_tracer("genjobs"))


def flush(timeout_millis: int = 5_000) -> None:
    """Export what is buffered now (end of a worker's delivery: the instance may idle next)."""
    backend = _backend
    if backend is not None:
        backend.flush(timeout_millis)

"""Where spans go (TRACE_EXPORTER): Cloud Trace, stdout, or a JSON-lines file.

Built by `shared.services` only when TRACE_EXPORTER is not `none`: the
OpenTelemetry SDK and the Cloud Trace exporter (and its gRPC client) are
imported here and nowhere else, so a deployment that does not export pays
nothing for them at cold start (bench/tracing.py measures it).
"""

from __future__ import annotations

from typing import Any, Literal

Exporter = Literal["cloud", "console", "file"]


def span_exporter(kind: Exporter, *, project: str, path: str) -> Any:
    """The OpenTelemetry `SpanExporter` for `kind`.

    `cloud`: Cloud Trace in `project` (the functions' service accounts hold
    roles/cloudtrace.agent, infra/iam.tf); `console`: one JSON object per
    span on stdout, between the log lines (debugging only); `file`: one JSON
    object per line appended to `path`.
    """
    if kind == "cloud":
        from opentelemetry.exporter.cloud_trace import CloudTraceSpanExporter

        return CloudTraceSpanExporter(project_id=project)  # type: ignore[no-untyped-call]
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter

    def one_line(span: Any) -> str:
        return str(span.to_json(indent=None)) + "\n"

    if kind == "console":
        return ConsoleSpanExporter(formatter=one_line)
    # Line-buffered: each span is on disk once exported (SimpleSpanProcessor).
    out = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - lives as long as the process
    return ConsoleSpanExporter(out=out, formatter=one_line)

"""One run is one trace: the api request, the publish, the worker's delivery, each step
attempt and each model call, through the real emulators and the OpenAI double
(spans exported to memory)."""

from __future__ import annotations

import io
import json
import logging
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.trace import StatusCode

from devtools.openai_server import Reply
from shared import logs
from tests.helpers.stack import PROJECT, Stack
from tests.helpers.tracing_support import (
    Spans,
    attributes,
    exported_spans,
    span_hex,
    trace_hex,
)

WORKFLOW = "brainstorm.generate-seeds"
STEPS = ["load-session", "generate-seeds", "save-seeds", "update-session"]


@pytest.fixture
def spans(stack: Stack) -> Iterator[Spans]:
    # After the stack: building it configures tracing from the (empty) settings.
    with exported_spans() as exported:
        yield exported


def _parent_name(spans: Spans, name: str) -> str | None:
    parent = spans.parent_of(spans.one(name))
    return parent.name if parent else None


def test_a_brainstorm_run_is_one_trace_from_the_request_to_the_model_call(
    stack: Stack, spans: Spans
):
    stack.llm.script(Reply(usage=(123, 45)))
    created = stack.create_brainstorm()
    stack.deliver_all()

    exported = {trace_hex(s) for s in spans.all()}
    assert exported == {stack.run_view(created["runId"])["traceId"]}
    request = spans.one("POST /v1/brainstorm-sessions")
    assert request.parent is None
    assert _parent_name(spans, "create run") == request.name
    assert _parent_name(spans, "commit run") == "create run"
    assert _parent_name(spans, "publish run") == "create run"
    assert _parent_name(spans, f"deliver {WORKFLOW}") == "publish run"
    delivery = spans.one(f"deliver {WORKFLOW}")
    assert sorted(s.name for s in spans.children(delivery)) == sorted(f"step {s}" for s in STEPS)
    assert _parent_name(spans, "chat test-model") == "step generate-seeds"


def test_the_model_call_span_has_the_genai_attributes_and_the_reported_tokens(
    stack: Stack, spans: Spans
):
    stack.llm.script(Reply(usage=(123, 45)))
    stack.create_brainstorm()
    stack.deliver_all()

    call = attributes(spans.one("chat test-model"))
    assert call["gen_ai.operation.name"] == "chat"
    assert call["gen_ai.system"] == call["gen_ai.provider.name"] == "openai"
    assert call["gen_ai.request.model"] == call["gen_ai.response.model"] == "test-model"
    assert call["gen_ai.usage.input_tokens"] == 123
    assert call["gen_ai.usage.output_tokens"] == 45
    assert list(call["gen_ai.response.finish_reasons"]) == ["stop"]
    assert call["genjobs.llm.retry"] == 0


def test_a_retried_step_shows_two_attempt_spans_the_first_failed(stack: Stack, spans: Spans):
    stack.llm.script(Reply(status=500))
    created = stack.create_brainstorm()
    stack.deliver_all()

    attempts = sorted(
        spans.named("step generate-seeds"), key=lambda s: attributes(s)["genjobs.step.attempt"]
    )
    assert [attributes(s)["genjobs.step.attempt"] for s in attempts] == [1, 2]
    failed, succeeded = attempts
    assert failed.status.status_code is StatusCode.ERROR
    assert "HTTP 500" in (failed.status.description or "")
    assert attributes(failed)["genjobs.step.will_retry"] is True
    assert succeeded.status.status_code is StatusCode.UNSET
    exported = {trace_hex(s) for s in spans.all()}
    assert exported == {stack.run_view(created["runId"])["traceId"]}
    assert [_parent(spans, s) for s in attempts] == [f"deliver {WORKFLOW}"] * 2


def _parent(spans: Spans, span: Any) -> str | None:
    parent = spans.parent_of(span)
    return parent.name if parent else None


def test_every_log_line_of_a_run_carries_its_trace_for_cloud_logging(stack: Stack, spans: Spans):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter(PROJECT))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        created = stack.create_brainstorm()
        stack.deliver_all()
    finally:
        root.removeHandler(handler)

    run_id = created["runId"]
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    run_lines = [line for line in lines if line.get("runId") == run_id]
    assert len(run_lines) >= 9  # a start and an end for each step, and the delivery's end
    trace_id = stack.run_view(run_id)["traceId"]
    span_ids = {span_hex(s) for s in spans.all()}
    for line in run_lines:
        assert line["logging.googleapis.com/trace"] == f"projects/{PROJECT}/traces/{trace_id}"
        assert line["logging.googleapis.com/spanId"] in span_ids
        assert line["logging.googleapis.com/trace_sampled"] is True


def test_a_callers_traceparent_is_the_parent_of_the_runs_trace(stack: Stack, spans: Spans):
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    response = stack.post(
        "/v1/brainstorm-sessions",
        {"prompt": "A youth exchange about climate and art", "seedCount": 5},
        traceparent=f"00-{trace_id}-{span_id}-01",
    )
    assert response.status_code == 202
    stack.deliver_all()

    request = spans.one("POST /v1/brainstorm-sessions")
    assert request.parent is not None
    assert f"{request.parent.span_id:016x}" == span_id
    assert {trace_hex(s) for s in spans.all()} == {trace_id}  # before the GET's own span
    assert stack.run_view(response.get_json()["runId"])["traceId"] == trace_id


def test_a_trigger_events_traceparent_is_the_trace_of_the_run_it_starts(stack: Stack, spans: Spans):
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    event = {
        "name": WORKFLOW,
        "data": {"prompt": "A youth exchange about climate and street art", "seedCount": 5},
        "id": "evt-traced",
    }
    stack.publish_event(event, tenantId="org-a", traceparent=f"00-{trace_id}-{span_id}-01")
    stack.deliver_events()
    stack.deliver_all()

    trigger = spans.one("trigger event")
    assert trigger.parent is not None
    assert f"{trigger.parent.span_id:016x}" == span_id
    assert _parent_name(spans, "create run") == "trigger event"
    assert _parent_name(spans, f"deliver {WORKFLOW}") == "publish run"
    assert {trace_hex(s) for s in spans.all()} == {trace_id}


def test_the_run_view_lists_each_attempts_model_calls_for_the_waterfall(stack: Stack):
    stack.llm.script(Reply(status=500), Reply(usage=(123, 45)))
    created = stack.create_brainstorm()
    stack.deliver_all()

    [step] = [s for s in stack.run_view(created["runId"])["steps"] if s["id"] == "generate-seeds"]
    failed, succeeded = step["history"]
    assert (failed["status"], succeeded["status"]) == ("RETRYING", "COMPLETED")
    [failed_call] = failed["modelCalls"]
    assert "HTTP 500" in failed_call["error"]
    [call] = succeeded["modelCalls"]
    assert (call["model"], call["promptTokens"], call["completionTokens"]) == (
        "test-model",
        123,
        45,
    )
    assert call["finishReason"] == "stop"
    assert succeeded["startedAt"] <= call["startedAt"] <= call["finishedAt"]
    assert call["finishedAt"] <= succeeded["finishedAt"]


def test_cloud_runs_trace_header_is_continued_when_no_traceparent_is_sent(
    stack: Stack, spans: Spans
):
    trace_id, span_id = secrets.token_hex(16), 4_242_424_242
    response = stack.post(
        "/v1/brainstorm-sessions",
        {"prompt": "A youth exchange about climate and art", "seedCount": 5},
        **{"X-Cloud-Trace-Context": f"{trace_id}/{span_id};o=1"},
    )
    assert response.status_code == 202

    request = spans.one("POST /v1/brainstorm-sessions")
    assert request.parent is not None
    assert request.parent.span_id == span_id
    assert trace_hex(request) == trace_id

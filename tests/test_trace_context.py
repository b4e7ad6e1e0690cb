"""The trace context on its own (no emulators): headers parsed, one run one trace over
deliveries, failed attempts kept when sampling drops the rest, nothing loaded when off."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from opentelemetry.trace import StatusCode

from shared import tracing
from shared.errors import TransientError
from shared.tracing import TraceContext, parse_cloud_trace, parse_traceparent
from tests.helpers.engine_support import Harness, Recorder, linear_workflow
from tests.helpers.tracing_support import attributes, exported_spans, span_hex, trace_hex

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def test_a_w3c_traceparent_is_read_with_its_sampled_flag():
    assert parse_traceparent(f"00-{TRACE}-00f067aa0ba902b7-01") == TraceContext(
        TRACE, "00f067aa0ba902b7", True
    )
    assert parse_traceparent(f"00-{TRACE}-00f067aa0ba902b7-00") == TraceContext(
        TRACE, "00f067aa0ba902b7", False
    )


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "garbage",
        f"00-{'0' * 32}-00f067aa0ba902b7-01",  # the invalid trace id
        f"00-{TRACE}-{'0' * 16}-01",  # the invalid span id
        f"ff-{TRACE}-00f067aa0ba902b7-01",  # the forbidden version
        f"00-{TRACE.upper()}-00f067aa0ba902b7-01",  # upper case is not W3C
        f"00-{TRACE}-00f067aa0ba902b7-01-extra",  # version 00 has nothing after the flags
    ],
)
def test_an_invalid_traceparent_is_ignored(value: Any):
    assert parse_traceparent(value) is None


def test_cloud_runs_trace_header_is_read_with_its_decimal_span_id():
    assert parse_cloud_trace(f"{TRACE}/12345;o=1") == TraceContext(TRACE, f"{12345:016x}", True)
    assert parse_cloud_trace(f"{TRACE}/12345") == TraceContext(TRACE, f"{12345:016x}", False)
    assert parse_cloud_trace(f"{TRACE}/0;o=1") is None
    assert parse_cloud_trace(f"{TRACE};o=1") is None


def test_a_later_delivery_joins_the_runs_trace_and_links_the_message_that_brought_it(
    engine: Harness, recorder: Recorder
):
    with exported_spans() as spans:
        engine.start(linear_workflow(recorder))
        run = engine.run()
        # A sweep's re-publish, say: its message is in the sweep's own trace.
        sweep = TraceContext(tracing.new_trace_id(), "00f067aa0ba902b7", True)
        engine.engine.deliver("run-1", sweep)

    delivery = spans.one("deliver test.linear")
    assert trace_hex(delivery) == run.trace_id
    assert delivery.parent is not None
    assert (
        f"{delivery.parent.span_id:016x}" == run.trace_span_id == span_hex(spans.one("create run"))
    )
    assert [f"{link.context.trace_id:032x}" for link in delivery.links] == [sweep.trace_id]


def test_a_failed_attempt_is_kept_when_sampling_drops_its_trace(
    engine: Harness, recorder: Recorder
):
    def fail(ctx: Any) -> None:
        raise TransientError("provider hiccup")

    recorder.on["compute"] = fail
    with exported_spans(sample_ratio=0.0) as spans:
        engine.start(linear_workflow(recorder))
        engine.deliver()

    # The attempt and the delivery it failed (handed back for a retry); nothing else.
    assert sorted(spans.names()) == ["deliver test.linear", "step compute"]
    step = spans.one("step compute")
    assert step.status.status_code is StatusCode.ERROR
    assert step.status.description == "provider hiccup"
    assert attributes(step)["genjobs.kept_because"] == "error"
    assert trace_hex(step) == engine.run().trace_id
    assert spans.parent_of(step) == spans.one("deliver test.linear")


def test_with_tracing_off_a_run_loads_nothing_of_the_opentelemetry_sdk():
    code = (
        "import sys\n"
        "from tests.helpers.engine_support import Harness, Recorder, linear_workflow\n"
        "engine = Harness()\n"
        "engine.start(linear_workflow(Recorder()))\n"
        "assert engine.deliver() == 'COMPLETED'\n"
        "assert engine.run().trace_id\n"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry.sdk')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


def test_a_caller_that_did_not_sample_its_trace_is_sampled_at_our_ratio(
    engine: Harness, recorder: Recorder
):
    # Cloud Run's front end marks most requests "not sampled".
    caller = TraceContext(TRACE, "00f067aa0ba902b7", False)
    with exported_spans(sample_ratio=1.0) as spans, tracing.continued(caller):
        engine.start(linear_workflow(recorder))

    created = spans.one("create run")
    assert trace_hex(created) == TRACE
    assert engine.run().trace_sampled is True

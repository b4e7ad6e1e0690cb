"""What tracing costs: `python -m bench.tracing [--runs N] [--samples N]`.

1. A run's latency with tracing off and on. Runs execute in process on the
   engine's in-memory store (no emulator noise: the spans' own cost is tens
   of microseconds, which a round trip to an emulator would hide), four
   steps, one of which calls the model through the real OpenAI adapter over
   HTTP against the local double (devtools/openai_server.py) with zero
   latency. The run is created (`create run`, `commit run`, `publish run`)
   and delivered (`deliver`, four `step`s, one `chat`): 9 spans a run.
   Modes: off (TRACE_EXPORTER=none: ids only, nothing of OpenTelemetry),
   on with every span exported as it ends to memory, and on in batches to
   a JSON-lines file (what TRACE_EXPORTER=cloud does, less the network).
   Modes alternate run by run so the machine's load hits them alike.
2. Cold start: `import main` of each function in a fresh interpreter with
   TRACE_EXPORTER unset, `file` (the OpenTelemetry SDK imported and set up),
   and `file` plus the Cloud Trace exporter module imported first (what
   `cloud` imports; building its client needs Google credentials, which a
   benchmark does not have).

3. One span on its own, off and on (what the 9 spans of a run add up to).

Prints figures only; it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from bench.common import show, summarize, table
from devtools import REPO_ROOT
from devtools.openai_server import OpenAIServer
from shared import tracing
from shared.engine import Engine, EngineSettings, StepContext, Workflow
from shared.engine.testing import EngineHarness
from shared.llm.openai_model import OpenAILanguageModel
from shared.workflows.deps import WorkflowDeps, llm


class Topic(BaseModel):
    prompt: str = "A youth exchange about climate and art"


class Idea(BaseModel):
    title: str = Field(min_length=1, max_length=200)


class Ideas(BaseModel):
    ideas: list[Idea] = Field(min_length=1, max_length=5)


class Count(BaseModel):
    n: int


def _workflow() -> Workflow[Topic]:
    wf: Workflow[Topic] = Workflow(
        id="bench.tracing", input_model=Topic, description="four steps", deadline=timedelta(hours=1)
    )

    @wf.step("load")
    def load(ctx: StepContext[Topic]) -> Topic:
        return ctx.input

    @wf.step("generate")
    def generate(ctx: StepContext[Topic]) -> Ideas:
        return (
            llm(ctx)
            .generate(Ideas, system="s", prompt=ctx.output(load).prompt, temperature=0)
            .value
        )

    @wf.step("save")
    def save(ctx: StepContext[Topic]) -> Count:
        return Count(n=len(ctx.output(generate).ideas))

    @wf.step("finish")
    def finish(ctx: StepContext[Topic]) -> Count:
        return ctx.output(save)

    return wf


def _harness(model: OpenAILanguageModel) -> EngineHarness:
    def deps(engine: Engine) -> object:
        return WorkflowDeps(lambda: model)

    return EngineHarness(EngineSettings(), deps=deps)


Mode = tuple[str, Callable[[], None]]
IN_MEMORY = "on, each span to memory"


class _Kept:
    """An exporter that outlives each `tracing.configure` (which shuts the previous one down)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def export(self, spans: Any) -> Any:
        return self.inner.export(spans)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True

    def shutdown(self) -> None:
        """Left open: the next mode's turn uses it again."""


def _modes(trace_file: Path, memory: Any) -> list[Mode]:
    from shared.adapters.trace_export import span_exporter

    to_file = _Kept(span_exporter("file", project="bench", path=str(trace_file)))
    kept_memory = _Kept(memory)

    def off() -> None:
        tracing.configure(None)

    def in_memory() -> None:
        memory.clear()  # keeps memory flat over thousands of runs
        tracing.configure(kept_memory, batch=False)

    def batched() -> None:
        tracing.configure(to_file, batch=True)

    return [("off", off), (IN_MEMORY, in_memory), ("on, batches to a file", batched)]


def run_latency(runs: int) -> None:
    with OpenAIServer() as server, tempfile.TemporaryDirectory() as tmp:
        model = OpenAILanguageModel(
            api_key="bench-" + os.urandom(8).hex(),
            base_url=server.base_url,
            model="test-model",
            timeout_seconds=10,
            schema_retries=0,
        )
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        workflow = _workflow()
        memory = InMemorySpanExporter()
        modes = _modes(Path(tmp) / "spans.jsonl", memory)
        wall: dict[str, list[float]] = {name: [] for name, _ in modes}
        cpu: dict[str, list[float]] = {name: [] for name, _ in modes}
        spans_per_run = 0
        harness = _harness(model)
        for index in range(runs + 5):
            for name, configure in modes:  # alternating: load hits every mode alike
                configure()
                run_id = f"run-{index}-{len(wall[name])}-{modes.index((name, configure))}"
                started, started_cpu = time.perf_counter(), time.process_time()
                harness.start(workflow, Topic(), run_id=run_id)
                outcome = harness.deliver(run_id)
                elapsed, elapsed_cpu = (
                    time.perf_counter() - started,
                    time.process_time() - started_cpu,
                )
                assert outcome == "COMPLETED", outcome
                if index >= 5:  # the first runs warm up (imports, connections)
                    wall[name].append(elapsed * 1000)
                    cpu[name].append(elapsed_cpu * 1000)
                if name == IN_MEMORY:
                    spans_per_run = len(memory.get_finished_spans())
        tracing.configure(None)
    off_wall, off_cpu = summarize(wall["off"]).median, summarize(cpu["off"]).median
    rows: list[list[object]] = []
    for name, _ in modes:
        w, c = summarize(wall[name]), summarize(cpu[name])
        rows.append(
            [
                name,
                w.n,
                f"{w.median:.2f}",
                f"{w.p90:.2f}",
                f"{c.median:.2f}",
                f"{w.median - off_wall:+.2f}",
                f"{c.median - off_cpu:+.2f}",
            ]
        )
    show(
        table(
            f"1. One run (create + one delivery, 4 steps, 1 model call over HTTP), ms; "
            f"{spans_per_run} spans a run when exported",
            ["tracing", "N", "wall median", "wall p90", "CPU median", "wall vs off", "CPU vs off"],
            rows,
        )
    )
    show()


def span_cost(spans: int = 20_000) -> None:
    """One `with tracing.span(...)` on its own, off and on (to memory, dropped as it ends)."""
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    rows: list[list[object]] = []
    memory = InMemorySpanExporter()
    for name, exporter in (("off", None), ("on", _Kept(memory))):
        tracing.configure(exporter, batch=False)
        samples: list[float] = []
        for _ in range(5):
            started = time.perf_counter()
            for _ in range(spans):
                with tracing.span("bench", attributes={"genjobs.step": "x"}):
                    pass
            samples.append((time.perf_counter() - started) / spans * 1_000_000)
            memory.clear()
        rows.append([name, spans * 5, f"{summarize(samples).median:.1f}"])
    tracing.configure(None)
    show(table("3. One span, microseconds (median of 5 rounds)", ["tracing", "spans", "us"], rows))
    show()


_IMPORT_PROBE = (
    "import sys, time\n"
    "start = time.process_time()\n"
    "if sys.argv[1] == 'cloud':\n"
    "    import opentelemetry.exporter.cloud_trace\n"
    "import main\n"
    "print(repr(time.process_time() - start))\n"
)


def import_seconds(function: str, mode: str, trace_file: Path) -> float:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    if mode != "off":
        env["TRACE_EXPORTER"] = "file"
        env["TRACE_FILE"] = str(trace_file)
    done = subprocess.run(
        [sys.executable, "-c", _IMPORT_PROBE, mode],
        cwd=REPO_ROOT / "functions" / function,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return float(done.stdout.strip().splitlines()[-1])


def import_times(samples: int) -> None:
    modes = ("off", "file", "cloud")
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        trace_file = Path(tmp) / "spans.jsonl"
        for function in ("api", "worker"):
            measured: dict[str, list[float]] = {m: [] for m in modes}
            for _ in range(samples):
                for mode in modes:  # alternating: load hits every mode alike
                    measured[mode].append(import_seconds(function, mode, trace_file) * 1000)
            off = summarize(measured["off"]).median
            for mode in modes:
                s = summarize(measured[mode])
                rows.append(
                    [
                        function,
                        mode,
                        s.n,
                        f"{s.median:.0f}",
                        f"{s.minimum:.0f}",
                        f"{s.median - off:+.0f}",
                    ]
                )
    show(
        table(
            "2. `import main` CPU time (ms), fresh interpreter per sample: TRACE_EXPORTER unset, "
            "=file, =file with the Cloud Trace exporter imported too",
            ["function", "tracing", "N", "median", "min", "vs off"],
            rows,
        )
    )
    show()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300, help="runs per mode (default 300)")
    parser.add_argument("--samples", type=int, default=7, help="imports per mode (default 7)")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    show(f"genjobs tracing benchmark (python {sys.version.split()[0]}, load average {load:.1f})")
    show()
    run_latency(args.runs)
    import_times(args.samples)
    span_cost()
    show(f"load average at the end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

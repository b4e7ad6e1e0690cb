"""Live output's lag and cost: `python -m bench.live [--runs N] [--seeds N] [--pace S]`.

Starts the emulators, the OpenAI double streaming at a set pace (default:
10 seeds over 10 s, one a second) and the api served as on Cloud Run
(functions-framework's gunicorn); the worker's engine runs in this process on
a Firestore client that counts billed operations. For each brainstorm run a
client follows `GET /v1/brainstorm-sessions/{id}/events` over real HTTP and
notes when each `item` event arrives; the double notes when it wrote the
piece that closed each item. The lag of an item is the first minus the
second (same machine, same wall clock).

Figures: time to the first and to the last item as the SSE client sees them
(from the run's start, and after the model emitted it), the median and p90
lag over all items (goal: median <= 300 ms on the emulators), and the
Firestore writes per run with LLM_STREAM on (at the set pace, and unpaced)
and off. Prints figures only; it asserts nothing.
"""

from __future__ import annotations

import argparse
import threading
import time
from typing import Any

import httpx

from bench.common import Bench, bench_stack, show, summarize, table, totals
from devtools.openai_server import Pace
from devtools.sse_client import events
from devtools.worker_process import WorkerProcess
from shared.errors import RetryLater


class Follower(threading.Thread):
    """One client following one session's event stream to its end."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.headers = headers
        self.opened = threading.Event()
        self.items: dict[int, float] = {}
        self.finals = 0
        self.failure: str | None = None

    def run(self) -> None:
        try:
            with httpx.stream("GET", self.url, headers=self.headers, timeout=120) as response:
                for event in events(response):
                    self.opened.set()
                    if event.name == "item":
                        data = event.json()
                        if data["attempt"] == 1:
                            self.items.setdefault(data["index"], time.time())
                    elif event.name == "final":
                        self.finals += 1
        except Exception as error:  # a figure, not a crash: reported below
            self.failure = f"{type(error).__name__}: {error}"
            self.opened.set()


def one_run(bench: Bench, api: WorkerProcess, seeds: int) -> dict[str, Any]:
    created = bench.create_brainstorm(seeds)
    url = f"{api.url}/v1/brainstorm-sessions/{created['sessionId']}/events"
    follower = Follower(url, bench.headers())
    follower.start()
    follower.opened.wait(30)
    emitted_before = len(bench.llm.emitted)
    started = time.time()
    with bench.counter.phase("run") as records:
        deliver(bench, created["runId"])
    follower.join(60)
    emitted = {e.index: e.at for e in bench.llm.emitted[emitted_before:]}
    lags = [follower.items[i] - emitted[i] for i in sorted(follower.items) if i in emitted]
    reads, writes = totals(records)
    live_writes = sum(1 for r in records if r.method == "Commit" and r.targets == ["runs/*/live/*"])
    return {
        "failure": follower.failure,
        "items": len(follower.items),
        "first": min(follower.items.values(), default=started) - started,
        "last": max(follower.items.values(), default=started) - started,
        "first_lag": lags[0] if lags else None,
        "last_lag": lags[-1] if lags else None,
        "lags": lags,
        "reads": reads,
        "writes": writes,
        "live_writes": live_writes,
    }


def streaming(runs: int, seeds: int, pace: float) -> list[dict[str, Any]]:
    with bench_stack({"LLM_STREAM": "true"}) as bench:
        env = {**bench.worker_env(), "LOG_LEVEL": "WARNING"}
        api = WorkerProcess(bench.workdir, env, "live-api", target="api")
        bench.workers.append(api)
        api.start()
        bench.llm.pace = Pace(items_per_second=seeds / pace)
        one_run(bench, api, seeds)  # warm-up: imports, channels, the first listener
        results = [one_run(bench, api, seeds) for _ in range(runs)]
        bench.llm.pace = Pace()
        unpaced = [one_run(bench, api, seeds) for _ in range(runs)]
    return [*results, *[{**r, "unpaced": True} for r in unpaced]]


def streaming_off(runs: int, seeds: int, pace: float) -> dict[str, list[dict[str, Any]]]:
    """Writes per run with whole answers: a model as slow as the paced stream, and instant."""
    found: dict[str, list[dict[str, Any]]] = {"paced": [], "instant": []}
    with bench_stack({"LLM_STREAM": "false"}) as bench:
        for kind, delay in (("instant", 0.0), ("paced", pace)):
            bench.llm.delay = delay
            for n in range(runs + 1):
                created = bench.create_brainstorm(seeds)
                with bench.counter.phase("run") as records:
                    deliver(bench, created["runId"])
                reads, writes = totals(records)
                if n:  # the first is a warm-up
                    found[kind].append({"reads": reads, "writes": writes})
    return found


def deliver(bench: Bench, run_id: str) -> None:
    """Deliver until the run has ended (a step the busy emulator failed is delivered again)."""
    for _ in range(5):
        try:
            bench.services.engine.deliver(run_id)
            return
        except RetryLater:
            continue


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--pace", type=float, default=10.0, help="seconds the model takes")
    args = parser.parse_args(argv)

    results = streaming(args.runs, args.seeds, args.pace)
    paced = [r for r in results if not r.get("unpaced")]
    unpaced = [r for r in results if r.get("unpaced")]
    off = streaming_off(args.runs, args.seeds, args.pace)

    failures = [r["failure"] for r in results if r["failure"]]
    if failures:
        show(f"stream failures: {failures}")
    lags = summarize([lag * 1000 for r in paced for lag in r["lags"]])
    first = summarize([r["first_lag"] * 1000 for r in paced if r["first_lag"] is not None])
    last = summarize([r["last_lag"] * 1000 for r in paced if r["last_lag"] is not None])
    seen_first = summarize([r["first"] for r in paced]).median
    seen_last = summarize([r["last"] for r in paced]).median
    arrival = "SSE arrival - model emit, ms"
    show(
        table(
            f"{args.runs} brainstorm runs, {args.seeds} seeds streamed over {args.pace:g} s",
            ["figure", "median", "p90"],
            [
                ["first item seen, s after the run's start", f"{seen_first:.2f}", ""],
                ["last item seen, s after the run's start", f"{seen_last:.2f}", ""],
                [f"first item: {arrival}", f"{first.median:.0f}", f"{first.p90:.0f}"],
                [f"last item: {arrival}", f"{last.median:.0f}", f"{last.p90:.0f}"],
                [f"every item: {arrival}", f"{lags.median:.0f}", f"{lags.p90:.0f}"],
                ["items seen per run", f"{summarize([r['items'] for r in paced]).median:.0f}", ""],
            ],
        )
    )

    def per_run(rows: list[dict[str, Any]], key: str) -> str:
        return f"{summarize([r[key] for r in rows]).median:.0f}" if rows else "-"

    show(
        table(
            f"Firestore per run (worker side: the run's deliveries, seedCount {args.seeds})",
            ["LLM_STREAM", "reads", "writes", "of which live-log flushes"],
            [
                [
                    f"on, {args.pace:g} s pace",
                    per_run(paced, "reads"),
                    per_run(paced, "writes"),
                    per_run(paced, "live_writes"),
                ],
                [
                    "on, unpaced",
                    per_run(unpaced, "reads"),
                    per_run(unpaced, "writes"),
                    per_run(unpaced, "live_writes"),
                ],
                [
                    f"off, a {args.pace:g} s model",
                    per_run(off["paced"], "reads"),
                    per_run(off["paced"], "writes"),
                    "0",
                ],
                [
                    "off, an instant model",
                    per_run(off["instant"], "reads"),
                    per_run(off["instant"], "writes"),
                    "0",
                ],
            ],
        )
    )


if __name__ == "__main__":
    main()

"""What open run event streams cost the api: `python -m bench.events`.

Starts the api as Cloud Run does (functions-framework's gunicorn, THREADS
above the number of streams), creates N queued brainstorm runs, opens one
`GET /v1/runs/{runId}/events` stream per run (each a real HTTP client that
reads Server-Sent Events), then cancels every run through the api.

Figures: the api worker process's RSS and thread count before and with the N
streams open (per stream), and the delay from each cancel's answer to its
stream's terminal `run` event (the Firestore listener's latency on the
emulator). Prints figures only; it asserts nothing.
"""

from __future__ import annotations

import argparse
import threading
import time

import httpx

from bench.common import Bench, bench_stack, serving_pid, show, status_kib, summarize, table
from devtools.sse_client import events
from devtools.worker_process import WorkerProcess

STREAMS = 40
SEEDS = 5


class Follower(threading.Thread):
    """One client following one run's stream until its terminal state."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.headers = headers
        self.opened = threading.Event()
        self.ended_at: float | None = None
        self.failure: str | None = None

    def run(self) -> None:
        try:
            with httpx.stream("GET", self.url, headers=self.headers, timeout=120) as response:
                for event in events(response):
                    if event.name == "run" and not self.opened.is_set():
                        self.opened.set()
                    elif event.name == "run" and event.json()["status"] == "CANCELLED":
                        self.ended_at = time.perf_counter()
        except Exception as error:  # a figure, not a crash: reported below
            self.failure = f"{type(error).__name__}: {error}"
            self.opened.set()


def measure(bench: Bench, streams: int) -> None:
    env = {**bench.worker_env(), "THREADS": str(streams + 8), "LOG_LEVEL": "WARNING"}
    env.pop("WORKERS", None)
    api = WorkerProcess(bench.workdir, env, "events-api", target="api")
    bench.workers.append(api)
    api.start()
    pid = serving_pid(api)
    run_ids = [bench.create_brainstorm(SEEDS)["runId"] for _ in range(streams)]

    # One stream first, so imports and the Firestore channel are not counted per stream.
    warm = Follower(f"{api.url}/v1/runs/{run_ids[0]}/events", bench.headers())
    warm.start()
    warm.opened.wait(30)
    rss_before, threads_before = status_kib(pid, "VmRSS"), status_kib(pid, "Threads")

    followers = [
        Follower(f"{api.url}/v1/runs/{run_id}/events", bench.headers()) for run_id in run_ids[1:]
    ]
    started = time.perf_counter()
    for follower in followers:
        follower.start()
    for follower in followers:
        follower.opened.wait(60)
    opened_in = time.perf_counter() - started
    time.sleep(1.0)  # let the listeners settle
    rss_open, threads_open = status_kib(pid, "VmRSS"), status_kib(pid, "Threads")

    cancelled_at: dict[str, float] = {}
    for run_id in run_ids:
        bench.post(f"/v1/runs/{run_id}/cancel", {})
        cancelled_at[run_id] = time.perf_counter()
    for follower in [warm, *followers]:
        follower.join(60)

    delays = [
        (f.ended_at - cancelled_at[run_id]) * 1000
        for f, run_id in zip([warm, *followers], run_ids, strict=True)
        if f.ended_at is not None
    ]
    failures = [f.failure for f in [warm, *followers] if f.failure]
    extra = len(followers)
    delay = summarize(delays) if delays else None
    show(
        table(
            f"{streams} run event streams on one api process (THREADS={streams + 8})",
            ["figure", "value"],
            [
                [f"{extra} streams opened (first event received)", f"{opened_in:.2f} s"],
                [
                    "api RSS before / with the streams (MiB)",
                    f"{rss_before / 1024:.0f} / {rss_open / 1024:.0f}",
                ],
                ["RSS per open stream (KiB)", f"{(rss_open - rss_before) / extra:.0f}"],
                ["threads before / with the streams", f"{threads_before} / {threads_open}"],
                ["threads per open stream", f"{(threads_open - threads_before) / extra:.1f}"],
                [
                    "cancel answered -> CANCELLED event, median / p90 (ms)",
                    f"{delay.median:.0f} / {delay.p90:.0f}" if delay else "none arrived",
                ],
                ["streams that saw CANCELLED", f"{len(delays)} of {streams}"],
                ["client errors", str(len(failures))],
            ],
        )
    )
    for failure in failures[:3]:
        show(f"  {failure}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--streams", type=int, default=STREAMS)
    args = parser.parse_args(argv)
    with bench_stack() as bench:
        measure(bench, args.streams)


if __name__ == "__main__":
    main()

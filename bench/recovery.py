"""Recovery benchmark: `python -m bench.recovery [--kills N] [--heartbeat-seconds S]`.

How fast another instance continues a stopped instance's runs, with the
default engine settings (LEASE_SECONDS 12, LEASE_WAIT_SECONDS 15) and
Terraform's subscription (10 s minimum backoff), through `devtools.push`;
worker processes (`devtools.function_server`, as `make dev` runs them):

1. **SIGTERM** (Cloud Run's deploy or scale-in): worker A holds 10 runs,
   each in its first model call (held 60 s by the model double). Push is
   pointed at worker B, A's process group gets SIGTERM. Times from the
   signal: A's pushes answered, each run's model call made again on B (the
   step running there), all 10 COMPLETED, A's exit. Goal: steps running on
   B within 2 s.
2. **SIGKILL** (OOM, crash), N times: the victim holds one run in its
   model call; it is SIGKILLed at a random point of its lease's heartbeat
   cycle. The sweep ticks every 60 s as Cloud Scheduler's does. Times from
   the kill: the push's redelivery, the step running on B, COMPLETED; which
   of the redelivery and the sweep took the run over. Goal: under 20 s.
3. **Heartbeat writes**: one run whose model call is held S s; every lease
   renewal changes the run's `leaseExpiresAt`, read every 0.25 s.

Each worker serves one run first, so the instance taking over is warm, as
a serving Cloud Run instance is (a fresh process builds its clients on its
first delivery: seconds on a busy machine). Prints figures only; exit status
1 if a run did not complete.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bench.common import Bench, bench_stack, show, summarize, table
from devtools.polling import until
from devtools.worker_process import WorkerProcess

RUNS = 10
SEEDS = 5
HELD_SECONDS = 60.0
SWEEP_SECONDS = 60.0  # Cloud Scheduler's tick (infra/scheduler.tf)
BOUND_SECONDS = 90.0
HANDOVER_GOAL = 2.0
KILL_GOAL = 20.0
# Enough threads for ten pushes at once, and every run of the tenant at once.
EXTRA_ENV = {"THREADS": "16", "TENANT_MAX_ACTIVE_RUNS": "16"}
# Firestore's list price per 100,000 document writes (us-central1, Standard edition).
USD_PER_100K_WRITES = 0.18


class ModelCalls:
    """When each request reached the model double (time.monotonic()), polled every 5 ms."""

    def __init__(self, bench: Bench) -> None:
        self.requests = bench.llm.requests
        self.arrivals: list[float] = []
        self._seen = len(self.requests)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="model-calls", daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.wait(0.005):
            count = len(self.requests)
            now = time.monotonic()
            self.arrivals.extend([now] * (count - self._seen))
            self._seen = count

    def after(self, at: float) -> list[float]:
        return [t - at for t in self.arrivals if t >= at]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


class Sweeper:
    """Publishes the sweep tick every SWEEP_SECONDS, as Cloud Scheduler does."""

    def __init__(self, bench: Bench) -> None:
        self.publisher = bench.services.publisher
        self.ticks: list[float] = []  # time.monotonic() of each tick
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sweeper", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(SWEEP_SECONDS):
            try:
                self.publisher.publish_sweep()
                self.ticks.append(time.monotonic())
            except Exception as exc:
                print(f"sweep tick failed: {exc}", file=sys.stderr)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=15)


def _done(bench: Bench, session_ids: list[str]) -> Callable[[], bool]:
    def done() -> bool:
        return all(bench.get_session(s)["status"] != "IN_PROGRESS" for s in session_ids)

    return done


def _warm(bench: Bench, workers: list[WorkerProcess], calls: ModelCalls) -> None:
    """One run on each worker, side by side (see the module's docstring)."""
    sessions = []
    for worker in workers:
        bench.push_to(worker)
        reached = len(calls.arrivals) + 1
        sessions.append(bench.create_brainstorm(SEEDS)["sessionId"])
        if not until(lambda n=reached: len(calls.arrivals) >= n, 60):  # type: ignore[misc]
            raise RuntimeError(f"warm-up run never reached worker {worker.name}")
    if not until(_done(bench, sessions), 60):
        raise RuntimeError("warm-up runs did not end")


def _log_time(entry: dict[str, Any]) -> float | None:
    try:
        return datetime.fromisoformat(str(entry["time"])).timestamp()
    except (KeyError, ValueError):
        return None


def sigterm(bench: Bench, a: WorkerProcess, b: WorkerProcess, calls: ModelCalls) -> bool:
    from devtools.openai_server import Reply

    pusher = bench.push_to(a)
    bench.llm.script(*[Reply(delay=HELD_SECONDS) for _ in range(RUNS)])
    reached = len(calls.arrivals) + RUNS
    created = [bench.create_brainstorm(SEEDS) for _ in range(RUNS)]
    if not until(lambda: len(calls.arrivals) >= reached, 60):
        show("the runs never all reached the model on A; nothing measured")
        return False
    bench.push_to(b)
    assert a.process is not None
    os.killpg(a.process.pid, signal.SIGTERM)
    at, wall = time.monotonic(), time.time()
    exited: list[float] = []
    process = a.process

    def wait_for_exit() -> None:
        process.wait()
        exited.append(time.monotonic())

    threading.Thread(target=wait_for_exit, daemon=True).start()
    retaken = until(lambda: len(calls.arrivals) >= reached + RUNS, BOUND_SECONDS)
    sessions = [c["sessionId"] for c in created]
    completed_ok = until(_done(bench, sessions), BOUND_SECONDS)
    completed = time.monotonic() - at
    until(lambda: bool(exited), 15)

    again = sorted(calls.after(at))
    events_topic = bench.settings.events_topic
    answered = sorted(
        d.ended - at
        for d in pusher.deliveries(events_topic)
        if d.started < at < d.ended and d.acked
    )
    entries = [
        e for e in a.log_entries() if e.get("message") == "instance stopping: runs handed over"
    ]
    inside = entries[0].get("durationMs") if entries else None
    statuses, seeds, deliveries, attempts = [], [], [], []
    for c in created:
        statuses.append(bench.get_session(c["sessionId"])["status"])
        seeds.append(
            len(bench.plain_db.collection(f"brainstormSessions/{c['sessionId']}/seeds").get())
        )
        run = bench.run_doc(c["runId"])
        deliveries.append(run.get("deliveries"))
        attempts.append(((run.get("steps") or {}).get("generate-seeds") or {}).get("attempts"))

    def span(values: list[float]) -> str:
        return "-" if not values else f"{values[0]:.2f} / {values[-1]:.2f}"

    rows: list[list[object]] = [
        ["A's hand-over, inside the process (release + publish of 10 runs)", f"{inside} ms"],
        [f"A's {len(answered)} pushes answered 2xx (first / last)", span(answered)],
        [f"the {len(again)} runs' model calls made again on B (first / last)", span(again)],
        [
            f"all {RUNS} sessions {'COMPLETED' if completed_ok else 'NOT completed'}",
            f"{completed:.2f}",
        ],
        ["A's process group exited", f"{exited[0] - at:.2f}" if exited else "-"],
    ]
    show(
        table(
            f"SIGTERM to worker A with {RUNS} runs in their model call (held {HELD_SECONDS:.0f} s);"
            f" push pointed at B; started {datetime.fromtimestamp(wall, UTC):%H:%M:%S} UTC",
            ["event", "s after SIGTERM"],
            rows,
        )
    )
    show(
        f"   sessions {sorted(set(statuses))}; seeds per session {sorted(set(seeds))} "
        f"(expected {SEEDS}); deliveries per run {sorted(set(map(str, deliveries)))}; "
        f"generate-seeds attempts {sorted(set(map(str, attempts)))}; model calls "
        f"{RUNS} abandoned on A + {len(again)} on B"
    )
    if again and retaken:
        verdict = "within" if again[-1] < HANDOVER_GOAL else "OVER"
        show(f"SIGTERM -> last run's step running on B: {again[-1]:.2f} s ({verdict} the 2 s goal)")
    show()
    return completed_ok and retaken


def sigkill(
    bench: Bench, victim: WorkerProcess, b: WorkerProcess, calls: ModelCalls, sweeper: Sweeper
) -> dict[str, Any] | None:
    from devtools.openai_server import Reply

    pusher = bench.push_to(victim)
    bench.llm.script(Reply(delay=HELD_SECONDS))
    reached = len(calls.arrivals) + 1
    created = bench.create_brainstorm(SEEDS)
    if not until(lambda: len(calls.arrivals) >= reached, 60):
        return None
    # A random point of the heartbeat's cycle (it renews every 4 s).
    time.sleep(random.uniform(0.5, 4.5))
    bench.push_to(b)
    at_kill = bench.run_doc(created["runId"])
    victim.kill()
    at, wall = time.monotonic(), time.time()
    retaken = until(lambda: len(calls.arrivals) >= reached + 1, BOUND_SECONDS)
    running = time.monotonic() - at
    completed_ok = until(_done(bench, [created["sessionId"]]), BOUND_SECONDS)
    completed = time.monotonic() - at
    expires = at_kill.get("leaseExpiresAt")
    lease_left = expires.timestamp() - wall if isinstance(expires, datetime) else None
    events_topic = bench.settings.events_topic

    def redeliveries() -> list[float]:
        return [d.started - at for d in pusher.deliveries(events_topic) if d.started > at]

    until(lambda: bool(redeliveries()), 5)  # recorded once its answer is in
    redelivered = redeliveries()
    swept = [
        t
        for e in b.log_entries()
        if e.get("runId") == created["runId"]
        and e.get("message") == "run re-published by the sweep"
        for t in [_log_time(e)]
        if t is not None
    ]
    return {
        "lease_left": lease_left,
        "redelivery": min(redelivered) if redelivered else None,
        "running": running if retaken else None,
        "completed": completed if completed_ok else None,
        "by": "sweep" if swept else "redelivery",
        "ticks": sum(1 for t in sweeper.ticks if t > at),
    }


def kills(bench: Bench, b: WorkerProcess, calls: ModelCalls, count: int) -> bool:
    sweeper = Sweeper(bench)
    results: list[dict[str, Any]] = []
    try:
        for number in range(count):
            victim = bench.start_worker(f"victim-{number}")
            _warm(bench, [victim], calls)
            result = sigkill(bench, victim, b, calls, sweeper)
            if result is None:
                show(f"kill {number + 1}: the run never reached the model; skipped")
                continue
            results.append(result)
    finally:
        sweeper.stop()

    def cell(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    rows = [
        [
            i + 1,
            cell(r["lease_left"]),
            cell(r["redelivery"]),
            cell(r["running"]),
            cell(r["completed"]),
            r["by"],
        ]
        for i, r in enumerate(results)
    ]
    show(
        table(
            f"SIGKILL of a worker holding one run in its model call (N={len(results)}; lease "
            f"{bench.settings.lease_seconds:g} s, LEASE_WAIT_SECONDS "
            f"{bench.settings.lease_wait_seconds:g}, backoff 10 s, sweep every "
            f"{SWEEP_SECONDS:.0f} s)",
            [
                "kill",
                "lease left at kill",
                "push redelivered",
                "step running on B",
                "COMPLETED",
                "taken over by",
            ],
            rows,
        )
    )
    running = [r["running"] for r in results if r["running"] is not None]
    if running:
        s = summarize(running)
        verdict = "within" if s.maximum < KILL_GOAL else "OVER"
        show(
            f"SIGKILL -> step running on B: median {s.median:.2f} s, max {s.maximum:.2f} s "
            f"({verdict} the 20 s goal)"
        )
    show()
    return len(running) == len(results) and bool(results)


def heartbeat(bench: Bench, worker: WorkerProcess, calls: ModelCalls, seconds: float) -> bool:
    from devtools.openai_server import Reply

    bench.push_to(worker)
    bench.llm.script(Reply(delay=seconds))
    reached = len(calls.arrivals) + 1
    created = bench.create_brainstorm(SEEDS)
    if not until(lambda: len(calls.arrivals) >= reached, 60):
        return False
    start = time.monotonic()
    values: set[Any] = set()
    while time.monotonic() - start < seconds - 0.5:
        run = bench.run_doc(created["runId"])
        if run.get("leaseExpiresAt") is not None:
            values.add(run["leaseExpiresAt"])
        time.sleep(0.25)
    renewals = max(0, len(values) - 1)
    ok = until(_done(bench, [created["sessionId"]]), BOUND_SECONDS)
    per_minute = renewals * 60.0 / seconds
    interval = bench.settings.lease_seconds / 3
    show(
        table(
            f"Lease renewals during one model call held {seconds:.0f} s "
            f"(lease {bench.settings.lease_seconds:g} s: renewed every {interval:.0f} s)",
            ["figure", "value"],
            [
                ["renewal writes seen (distinct leaseExpiresAt)", renewals],
                ["per minute of a step that writes nothing else", f"{per_minute:.1f}"],
                [
                    "cost per 1,000 runs with 1 minute of model calls",
                    f"${per_minute * 1000 * USD_PER_100K_WRITES / 100_000:.3f}",
                ],
            ],
        )
    )
    show()
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kills", type=int, default=3, help="SIGKILL trials (default 3)")
    parser.add_argument(
        "--heartbeat-seconds", type=float, default=40.0, help="the held call of part 3"
    )
    args = parser.parse_args(argv)
    show(f"genjobs recovery benchmark (started {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC)")
    show()
    try:
        with bench_stack(EXTRA_ENV) as bench:
            calls = ModelCalls(bench)
            try:
                a, b = bench.start_worker("A"), bench.start_worker("B")
                _warm(bench, [b, a], calls)
                ok = sigterm(bench, a, b, calls)
                ok = kills(bench, b, calls, args.kills) and ok
                ok = heartbeat(bench, b, calls, args.heartbeat_seconds) and ok
            finally:
                calls.stop()
            return 0 if ok else 1
    except KeyboardInterrupt:
        show("interrupted; everything started was stopped")
        return 130


if __name__ == "__main__":
    sys.exit(main())

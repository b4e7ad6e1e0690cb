"""Flow control: `python -m bench.flow`.

1. Noisy neighbour. Tenant A creates FLOOD brainstorm runs at once, then
   tenant B creates one; the model answers after MODEL_SECONDS. Run events
   are pulled from the real Pub/Sub emulator and executed by CAPACITY
   threads at once (today's deployment: 10 instances serving one request
   each), first come first served. Figure: B's time from creation to
   COMPLETED, and A's most runs in flight, with TENANT_MAX_ACTIVE_RUNS=3
   and with no limit.
2. What the limits cost: Firestore reads and writes per run (counted at the
   gRPC level) for runs executed one after another, so no limit is hit,
   with the tenant limit and without it.

Prints figures only; it asserts nothing.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from google.cloud.pubsub_v1 import SubscriberClient

from bench.common import PROMPT, USER, Bench, bench_stack, show, table, totals
from devtools.devauth import mint_token
from shared.engine import Engine

FLOOD = 30
LIMIT = 3
MODEL_SECONDS = 2.0
CAPACITY = 10
COUNTED_RUNS = 10
SEEDS = 5


class Dispatcher:
    """Pulls run events and executes each on a pool of CAPACITY threads, in arrival order."""

    def __init__(self, bench: Bench, name: str, engine: Engine) -> None:
        s = bench.settings
        self.bench = bench
        self.engine = engine
        self.subscriber = SubscriberClient()
        self.subscription = self.subscriber.subscription_path(s.project, f"flow-{name}")
        topic = f"projects/{s.project}/topics/{s.events_topic}"
        self.subscriber.create_subscription(
            request={"name": self.subscription, "topic": topic, "ack_deadline_seconds": 60}
        )
        self.pool = ThreadPoolExecutor(CAPACITY)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Dispatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.subscriber.delete_subscription(subscription=self.subscription)
        self.subscriber.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            response = self.subscriber.pull(
                request={
                    "subscription": self.subscription,
                    "max_messages": 100,
                    "return_immediately": True,
                },
                timeout=5,
            )
            received = list(response.received_messages)
            if not received:
                time.sleep(0.05)
                continue
            self.subscriber.acknowledge(
                request={
                    "subscription": self.subscription,
                    "ack_ids": [m.ack_id for m in received],
                }
            )
            for message in received:
                run_id = message.message.attributes.get("runId")
                if run_id:
                    self.pool.submit(self._run, run_id)

    def _run(self, run_id: str) -> None:
        try:
            self.engine.deliver(run_id)
        except Exception:  # a retry: the bench's model does not fail
            time.sleep(1)
            self.pool.submit(self._run, run_id)


def _create(bench: Bench, tenant: str) -> str:
    token = mint_token(bench.keys, tenant, USER)
    response = bench.api.post(
        "/v1/brainstorm-sessions",
        json={"prompt": PROMPT, "seedCount": SEEDS},
        headers={"Authorization": f"Bearer {token}"},
    )
    if response.status_code != 202:
        raise RuntimeError(f"create answered {response.status_code}: {response.get_data()!r}")
    run_id: str = response.get_json()["runId"]
    return run_id


def _wait_completed(bench: Bench, run_ids: list[str], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    for run_id in run_ids:
        while bench.run_doc(run_id).get("status") != "COMPLETED":
            if time.monotonic() > deadline:
                raise RuntimeError(f"run {run_id} did not complete: {bench.run_doc(run_id)}")
            time.sleep(0.1)


def noisy_neighbour(bench: Bench, limit: int | None) -> dict[str, Any]:
    engine = bench.services.engine.with_settings(
        tenant_max_active_runs=limit if limit is not None else FLOOD + 1
    )
    in_flight: list[int] = []
    sampling = threading.Event()

    def sample(run_ids: list[str]) -> None:
        while not sampling.wait(0.1):
            docs = [bench.run_doc(r) for r in run_ids]
            in_flight.append(sum(1 for d in docs if d.get("status") == "RUNNING"))

    with Dispatcher(bench, f"limit-{limit}", engine):
        flood = [_create(bench, "org-a") for _ in range(FLOOD)]
        sampler = threading.Thread(target=sample, args=(flood,), daemon=True)
        sampler.start()
        time.sleep(0.5)
        start = time.monotonic()
        neighbour = _create(bench, "org-b")
        _wait_completed(bench, [neighbour])
        b_seconds = time.monotonic() - start
        _wait_completed(bench, flood)
        a_seconds = time.monotonic() - start
        sampling.set()
        sampler.join()
    return {"b": b_seconds, "a": a_seconds, "peak": max(in_flight, default=0)}


def cost_per_run(bench: Bench) -> list[list[object]]:
    rows: list[list[object]] = []
    figures = {}
    for name, limited in (("no tenant limit", False), ("TENANT_MAX_ACTIVE_RUNS=5", True)):
        engine = bench.services.engine.with_settings(tenant_max_active_runs=5 if limited else None)
        run_ids = [_create(bench, "org-cost") for _ in range(COUNTED_RUNS)]
        with bench.counter.phase(f"cost-{name}") as records:
            for run_id in run_ids:
                engine.deliver(run_id)
        reads, writes = totals(records)
        figures[name] = (reads / COUNTED_RUNS, writes / COUNTED_RUNS)
        rows.append([name, f"{reads / COUNTED_RUNS:g}", f"{writes / COUNTED_RUNS:g}"])
    (r0, w0), (r1, w1) = figures.values()
    rows.append(["extra per run", f"{r1 - r0:+g}", f"{w1 - w0:+g} (goal <= +2)"])
    return rows


def main() -> int:
    with bench_stack({"LOG_LEVEL": "WARNING"}) as bench:
        bench.llm.delay = MODEL_SECONDS
        results = {
            f"TENANT_MAX_ACTIVE_RUNS={LIMIT}": noisy_neighbour(bench, LIMIT),
            "no limit": noisy_neighbour(bench, None),
        }
        show(
            table(
                f"1. Noisy neighbour: tenant A creates {FLOOD} runs at once, then tenant B one; "
                f"model {MODEL_SECONDS:g} s, {CAPACITY} runs executing at once in all",
                ["setting", "B to COMPLETED (s)", "A all COMPLETED (s)", "A most in flight"],
                [
                    [name, f"{r['b']:.1f}", f"{r['a']:.1f}", r["peak"]]
                    for name, r in results.items()
                ],
            )
        )
        show()
        bench.llm.delay = 0.0
        show(
            table(
                f"2. Firestore documents per brainstorm run, {COUNTED_RUNS} runs one after "
                "another (no limit hit), counted at the gRPC level",
                ["setting", "reads per run", "writes per run"],
                cost_per_run(bench),
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

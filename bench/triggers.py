"""Trigger events and admission: `python -m bench.triggers`.

1. Events per second one worker instance admits. N trigger events (one
   tenant, distinct ids) wait on the triggers topic; a worker started as on
   Cloud Run (functions-framework's gunicorn, THREADS = Terraform's
   `worker_concurrency`) receives them from the local stack's push
   (`devtools.push`, many at once, as Cloud's push), and each delivery
   validates the event and commits its session and run. Only the triggers
   subscription is delivered, so the runs stay QUEUED: this is admission,
   not execution. Measured without admission limits and with them set (high
   enough never to refuse, so every check is paid and none refuses).
2. The Firestore operations an admission check adds to a create, counted at
   the gRPC level in process: the same creates (an HTTP create route, and a
   trigger event through the worker's handler) without limits and with
   TENANT_CREATES_PER_MINUTE and the daily limits set.

Prints figures only; it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from typing import Any

from google.cloud.pubsub_v1 import PublisherClient

from bench.common import TENANT, Bench, bench_stack, show, table, totals
from bench.concurrency import terraform_threads
from devtools.provision import provision, push_envelope
from devtools.push import LocalPush
from devtools.worker_process import WorkerProcess
from shared.adapters.firestore_budget import ADMISSION, FirestoreBudgetCounter
from shared.admission import Admission, Limits

EVENTS = 300
COUNTED = 20
NAME = "brainstorm.generate-seeds"
DATA = {"prompt": "A youth exchange about climate and art in a small coastal town", "seedCount": 5}
# High enough never to refuse (20,000 a minute is above what one worker
# admits here): every check is paid, none refuses.
LIMITS_ENV = {
    "TENANT_CREATES_PER_MINUTE": "20000",
    "TENANT_DAILY_TOKEN_LIMIT": "1000000000000",
    "TENANT_DAILY_COST_LIMIT_USD": "1000000",
}
LIMITS = Limits(creates_per_minute=20_000, daily_tokens=10**12, daily_cost_usd=1e6)
# The daily limits' read: at every create, and as deployed (reused for 10 s).
CACHES = (0.0, 10.0)


def _event(prefix: str, i: int) -> bytes:
    return json.dumps({"name": NAME, "data": DATA, "id": f"{prefix}-{i}"}).encode()


def admitted_per_second(bench: Bench, label: str, env: dict[str, str], events: int) -> list[Any]:
    s = bench.settings
    topic = PublisherClient.topic_path(s.project, s.triggers_topic)
    routes = provision(
        s.project, s.events_topic, s.dead_letter_topic, triggers_topic=s.triggers_topic
    )
    worker_env = {**bench.worker_env(), **env, "LOG_LEVEL": "WARNING"}
    worker_env["THREADS"] = str(terraform_threads())
    worker_env.pop("WORKERS", None)
    worker = WorkerProcess(bench.workdir, worker_env, f"triggers-{label}")
    bench.workers.append(worker)
    worker.start()
    publisher = PublisherClient()
    only_triggers = {s.triggers_topic: routes[s.triggers_topic]}
    # One event first: the worker's first delivery opens its channels.
    publisher.publish(topic, _event(f"{label}-warm", 0), tenantId=TENANT).result()
    with LocalPush(s.project, only_triggers, worker.url) as warm:
        _wait_for(warm, 1)
    warm.join()  # its pulls still hanging would take (and hold) some of the events below
    futures = [publisher.publish(topic, _event(label, i), tenantId=TENANT) for i in range(events)]
    for future in futures:
        future.result()
    start = time.monotonic()
    with LocalPush(s.project, only_triggers, worker.url) as pusher:
        _wait_for(pusher, events)
        deliveries = pusher.deliveries()
    # Until every event had its first answer: a failed attempt's redelivery
    # waits for the retry policy's backoff (10 s), which is not the worker's pace.
    first: dict[str, float] = {}
    for d in deliveries:
        first[d.message_id] = min(first.get(d.message_id, d.ended), d.ended)
    wall = max(first.values()) - start
    # A failed attempt comes back after the backoff and is counted again when acked.
    failed = Counter(f"{d.status or d.error}" for d in deliveries if not d.acked)
    worker.stop()
    if failed:
        show(f"({label}: failed attempts {dict(failed)}, why: {_errors(worker)})")
    return [label, events, f"{wall:.2f}", f"{events / wall:.0f}", sum(failed.values())]


def _errors(worker: WorkerProcess) -> dict[str, int]:
    """The worker's logged errors by message (its JSON log lines)."""
    found: Counter[str] = Counter()
    for line in worker.log.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("severity") == "ERROR":
            found[str(entry.get("errorMessage") or entry.get("message"))[:80]] += 1
    return dict(found)


def _wait_for(pusher: LocalPush, acked: int, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while sum(1 for d in pusher.deliveries() if d.acked) < acked:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(pusher.deliveries())} deliveries in {timeout:.0f} s")
        time.sleep(0.05)


def operations_per_create(bench: Bench) -> list[list[object]]:
    """Reads and writes per create, HTTP and trigger, without and with admission limits."""
    from shared.worker import handle_pubsub

    services = bench.services
    s = bench.settings
    source = f"//pubsub.googleapis.com/projects/{s.project}/topics/{s.triggers_topic}"
    figures: dict[tuple[str, str], tuple[float, float]] = {}
    configurations = [("none", Limits(), 0.0)]
    configurations += [(f"cache {cache:g} s", LIMITS, cache) for cache in CACHES]
    for label, limits, cache in configurations:
        services.override(
            admission=Admission(
                limits,
                counter=FirestoreBudgetCounter(services.db, ADMISSION),
                usage=services.usage,
                clock=services.now,
                quota_cache_seconds=cache,
            )
        )
        with bench.counter.phase(f"http-{label}") as http:
            for _ in range(COUNTED):
                bench.create_brainstorm(5)
        with bench.counter.phase(f"trigger-{label}") as trigger:
            for i in range(COUNTED):
                data = _event(f"counted-{label}", i)
                envelope = push_envelope(s.project, data, {"tenantId": TENANT}, f"m-{label}-{i}")
                handle_pubsub(services, source, envelope)
        for kind, records in (("HTTP create", http), ("trigger event", trigger)):
            reads, writes = totals(records)
            figures[(kind, label)] = (reads / COUNTED, writes / COUNTED)
    rows: list[list[object]] = []
    for kind in ("HTTP create", "trigger event"):
        r0, w0 = figures[(kind, "none")]
        row: list[object] = [kind, f"{r0:.2f} / {w0:.2f}"]
        for label, _, _ in configurations[1:]:
            r1, w1 = figures[(kind, label)]
            row.append(f"{r1:.2f} / {w1:.2f} (+{r1 - r0:.2f} / +{w1 - w0:.2f})")
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=EVENTS)
    args = parser.parse_args()
    with bench_stack() as bench:
        s = bench.settings
        provision(
            s.project,
            s.events_topic,
            s.dead_letter_topic,
            subscriptions=False,
            triggers_topic=s.triggers_topic,
        )
        show(
            table(
                f"Firestore reads / writes per create, {COUNTED} creates of one tenant "
                "(in process, counted at the gRPC level)",
                ["create", "no limits", *(f"limits, day read cache {c:g} s" for c in CACHES)],
                operations_per_create(bench),
            )
        )
        show()
        rows = [admitted_per_second(bench, "no limits", {}, args.events)]
        for cache in CACHES:
            env = {**LIMITS_ENV, "TENANT_QUOTA_CACHE_SECONDS": str(cache)}
            rows.append(admitted_per_second(bench, f"limits, cache {cache:g} s", env, args.events))
        show(
            table(
                f"trigger events admitted by one worker (THREADS={terraform_threads()}), "
                "pushed by devtools.push",
                ["admission", "events", "seconds", "events/s", "failed attempts (redelivered)"],
                rows,
            )
        )


if __name__ == "__main__":
    main()

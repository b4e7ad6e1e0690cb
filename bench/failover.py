"""Failover benchmark: `python -m bench.failover`.

Time from `POST /v1/brainstorm-sessions` to the run's end while the primary
model is down, without and with a fallback model (LLM_FALLBACKS), for two
kinds of outage of the primary (the local OpenAI-compatible server):
answering HTTP 500 at once, and not answering until the client's timeout
(OPENAI_TIMEOUT_SECONDS). The fallback is a second local server answering in
MODEL_SECONDS, the "one model latency".

Runs execute in-process (`services.engine.deliver`, one call per Pub/Sub
delivery) on the official emulators; the breaker's state is in Firestore,
as deployed. A delivery that asks for a retry is delivered again after the
backoff the push subscription's retry policy gives (10 s doubling up to
600 s, infra/pubsub.tf): that backoff is added to the figure, not slept
(the emulator redelivers at once), and shown apart. Runs follow each other,
so with a fallback the first LLM_BREAKER_FAILURES runs pay for the primary's
failure and the later ones find its breaker open.

Prints figures only; it asserts nothing (exit status 1 if a run ended
otherwise than expected).
"""

from __future__ import annotations

import json
import os
import secrets
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Any

from bench.common import Bench, bench_stack, show, table
from devtools.openai_server import OpenAIServer, Reply
from devtools.provision import MAX_BACKOFF_SECONDS, MIN_BACKOFF_SECONDS
from shared.adapters.firestore_breaker import BREAKERS
from shared.errors import RetryLater

MODEL_SECONDS = 1.0  # the fallback's latency (one model call)
TIMEOUT_SECONDS = 3.0  # OPENAI_TIMEOUT_SECONDS for every run here
BREAKER_FAILURES = 5  # LLM_BREAKER_FAILURES (the default)
RUNS_WITH_FALLBACK = BREAKER_FAILURES + 3
MAX_DELIVERIES = 10
SEEDS = 5


@dataclass
class Timed:
    outcome: str
    deliveries: int
    measured: float  # wall time of the POST and every delivery
    backoff: float  # Pub/Sub's retry backoff between deliveries (added, not slept)
    answered_by: str | None

    @property
    def total(self) -> float:
        return self.measured + self.backoff


class BenchFailure(Exception):
    pass


def _backoff(redelivery: int) -> float:
    return float(min(MAX_BACKOFF_SECONDS, MIN_BACKOFF_SECONDS * 2 ** (redelivery - 1)))


def engine_with(bench: Bench, fallback: OpenAIServer | None) -> Any:
    """An engine built from the environment, with or without LLM_FALLBACKS (same Firestore)."""
    from shared import services as services_module

    if fallback is None:
        os.environ.pop("LLM_FALLBACKS", None)
    else:
        entry = {"model": fallback.model, "baseUrl": fallback.base_url, "apiKeyEnv": "FB_KEY"}
        os.environ["LLM_FALLBACKS"] = json.dumps([entry])
        os.environ["FB_KEY"] = "bench-" + secrets.token_hex(8)
    services_module.from_environment.cache_clear()
    services = services_module.from_environment()
    services.override(db=bench.services.db)
    return services.engine


def reset_breakers(bench: Bench) -> None:
    for doc in bench.plain_db.collection(BREAKERS).list_documents():
        doc.delete()


def timed_run(bench: Bench, engine: Any) -> Timed:
    start = time.perf_counter()
    created = bench.create_brainstorm(SEEDS)
    backoff = 0.0
    for delivery in range(1, MAX_DELIVERIES + 1):
        try:
            engine.deliver(created["runId"])
        except RetryLater:
            backoff += _backoff(delivery)
            continue
        measured = time.perf_counter() - start
        run = bench.run_doc(created["runId"])
        step = (run.get("steps") or {}).get("generate-seeds") or {}
        return Timed(run["status"], delivery, measured, backoff, step.get("model"))
    raise BenchFailure(f"run {created['runId']} did not end after {MAX_DELIVERIES} deliveries")


def scenario(bench: Bench, fallback: OpenAIServer, outage: str, with_fallback: bool) -> list[Timed]:
    primary = bench.llm
    if outage == "HTTP 500":
        primary.responder = lambda request: Reply(status=500)
    else:
        primary.responder = lambda request: Reply(delay=TIMEOUT_SECONDS + 1.0)
    reset_breakers(bench)
    engine = engine_with(bench, fallback if with_fallback else None)
    runs = RUNS_WITH_FALLBACK if with_fallback else 1
    try:
        return [timed_run(bench, engine) for _ in range(runs)]
    finally:
        primary.responder = None


def main() -> int:
    extra = {"OPENAI_TIMEOUT_SECONDS": str(TIMEOUT_SECONDS), "LOG_LEVEL": "ERROR"}
    with (
        bench_stack(extra) as bench,
        OpenAIServer(delay=MODEL_SECONDS, model="bench-fallback") as fallback,
    ):
        rows: list[list[object]] = []
        failures: list[str] = []
        for outage in ("HTTP 500", "timeout"):
            for with_fallback in (False, True):
                results = scenario(bench, fallback, outage, with_fallback)
                expected = "COMPLETED" if with_fallback else "FAILED"
                failures += [
                    f"{outage}, fallback={with_fallback}: {r.outcome}"
                    for r in results
                    if r.outcome != expected
                ]
                first = results[:BREAKER_FAILURES] if with_fallback else results
                later = results[BREAKER_FAILURES:]
                rows.append(
                    [
                        outage,
                        "yes" if with_fallback else "no",
                        results[0].outcome,
                        len(results),
                        f"{statistics.median(r.total for r in first):.2f}",
                        f"{statistics.median(r.total for r in later):.2f}" if later else "-",
                        f"{statistics.median(r.backoff for r in results):.0f}",
                        statistics.median(r.deliveries for r in results),
                        ",".join(sorted({r.answered_by or "-" for r in results})),
                    ]
                )
        show(
            table(
                "Time from POST to the run's end while the primary model is down (s); "
                f"fallback model {MODEL_SECONDS:.1f} s per call, OPENAI_TIMEOUT_SECONDS="
                f"{TIMEOUT_SECONDS:g}, STEP_MAX_ATTEMPTS=5, LLM_BREAKER_FAILURES="
                f"{BREAKER_FAILURES}; Pub/Sub backoff {MIN_BACKOFF_SECONDS}-"
                f"{MAX_BACKOFF_SECONDS} s added, not slept; emulators, worker in-process",
                [
                    "primary",
                    "fallback",
                    "run ends",
                    "runs",
                    f"median, runs 1-{BREAKER_FAILURES} (s)",
                    "median, breaker open (s)",
                    "of which backoff (s)",
                    "deliveries",
                    "answered by",
                ],
                rows,
            )
        )
        if failures:
            show("unexpected ends: " + "; ".join(failures))
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

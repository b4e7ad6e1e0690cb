"""Operator benchmarks: `python -m bench.operations`.

Figures, on the official emulators, counted at the gRPC level:

1. `GET /v1/runs` over 10,000 runs of one tenant: document reads and wall
   time per page (first page, every page to the end, a filtered page).
2. `POST /v1/runs/bulk-resume` of 1,000 FAILED runs: the operation's run
   executed in-process; wall time, reads and writes per resumed run.
3. Usage accounting per LLM step and the results outbox per run: the writes
   they add to a brainstorm run.

Prints figures only; it asserts nothing.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

from bench.common import TENANT, USER, Bench, RpcRecord, bench_stack, show, table, totals

LISTED = 10_000
RESUMED = 1_000
PAGE_SIZES = (50, 200)
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def seed(bench: Bench, count: int, workflow: str, status: str, start: datetime) -> None:
    """Run documents as the engine writes them, 500 to a batch, with an uncounted client."""
    db = bench.plain_db
    for first in range(0, count, 500):
        batch = db.batch()
        for i in range(first, min(first + 500, count)):
            run_id = uuid.uuid4().hex
            created = start + timedelta(seconds=i)
            batch.set(
                db.collection("runs").document(run_id),
                {
                    "runId": run_id,
                    "workflow": workflow,
                    "tenantId": TENANT,
                    "userId": USER,
                    "subject": f"brainstormSessions/{run_id}",
                    "input": {},
                    "status": status,
                    "createdAt": created,
                    "deadlineAt": created + timedelta(minutes=15),
                    "finishedAt": created + timedelta(minutes=1),
                    "error": "generate-seeds: provider unavailable" if status == "FAILED" else None,
                    "steps": {},
                    "stepOrder": [],
                },
            )
        batch.commit()


def listing(bench: Bench) -> None:
    seed(bench, LISTED, "brainstorm.generate-seeds", "COMPLETED", T0)
    rows: list[list[object]] = []
    for size in PAGE_SIZES:
        token = ""
        pages = 0
        reads: list[int] = []
        elapsed: list[float] = []
        while True:
            suffix = f"&pageToken={token}" if token else ""
            with bench.counter.phase(f"list-{size}") as records:
                began = time.perf_counter()
                body = bench.get(f"/v1/runs?pageSize={size}{suffix}")
                elapsed.append((time.perf_counter() - began) * 1000)
            reads.append(totals(records)[0])
            pages += 1
            token = body.get("nextPageToken", "")
            if not token:
                break
        rows.append(
            [
                f"pageSize={size}",
                pages,
                f"{reads[0]}",
                f"{sum(reads) / pages:.1f}",
                f"{elapsed[0]:.0f}",
                f"{sum(elapsed) / pages:.0f}",
            ]
        )
    with bench.counter.phase("list-filtered") as records:
        began = time.perf_counter()
        bench.get("/v1/runs?pageSize=50&status=FAILED&workflow=brainstorm.generate-seeds")
        ms = (time.perf_counter() - began) * 1000
    rows.append(["status+workflow, no match", 1, totals(records)[0], "", f"{ms:.0f}", ""])
    show(
        table(
            f"GET /v1/runs over {LISTED:,} runs of one tenant",
            ["query", "pages", "reads p1", "reads/page", "ms p1", "ms/page"],
            rows,
        )
    )


def bulk_resume(bench: Bench) -> None:
    workflow = "project.generate-from-idea"
    seed(bench, RESUMED, workflow, "FAILED", T0 + timedelta(days=1))
    with bench.counter.phase("bulk-accept") as accept:
        began = time.perf_counter()
        started = bench.post("/v1/runs/bulk-resume", {"workflow": workflow, "status": ["FAILED"]})
        accepted = time.perf_counter() - began
    with bench.counter.phase("bulk-execute") as execute:
        began = time.perf_counter()
        outcome = bench.services.engine.deliver(started["operationId"])
        executed = time.perf_counter() - began
    view = bench.get(f"/v1/operations/{started['operationId']}")
    _, a_writes = totals(accept)
    e_reads, e_writes = totals(execute)
    n = max(view["succeeded"], 1)
    show(
        table(
            f"bulk-resume of {RESUMED:,} FAILED runs (operation run in-process, 8 pages at once)",
            ["figure", "value"],
            [
                ["matched / succeeded", f"{started['matched']} / {view['succeeded']}"],
                ["operation outcome", outcome.value],
                # The count is an aggregation query, billed 1 read per 1,000 matches.
                ["accept (POST): ms, writes", f"{accepted * 1000:.0f}, {a_writes} (+1 count)"],
                ["execute: wall s", f"{executed:.1f}"],
                ["execute: reads per run", f"{e_reads / n:.2f}"],
                ["execute: writes per run", f"{e_writes / n:.2f}"],
            ],
        )
    )


def usage_overhead(bench: Bench) -> None:
    with bench.counter.phase("create") as api:
        created = bench.create_brainstorm(10)
    with bench.counter.phase("run") as worker:
        bench.services.engine.deliver(created["runId"])
    records: list[RpcRecord] = [*api, *worker]
    usage_writes = sum(t.startswith("usage/") for r in records for t in r.targets)
    commits = [r for r in worker if r.method == "Commit"]
    llm_commits = [r for r in commits if any(t.startswith("usage/") for t in r.targets)]
    outbox = [r for r in worker if r.method == "Commit" and r.targets == ["runs/*"]]
    reads, writes = totals(records)
    show(
        table(
            "Usage accounting and results outbox, one brainstorm run (10 seeds)",
            ["figure", "value"],
            [
                ["reads / writes per run (api + worker)", f"{reads} / {writes}"],
                ["usage-document writes per run", usage_writes],
                [
                    "  of which at creation (runs counter)",
                    sum(t.startswith("usage/") for r in api for t in r.targets),
                ],
                [
                    "  per LLM step (same commit as its checkpoint)",
                    f"{len(llm_commits)} step(s), 1 each",
                ],
                ["extra commits for usage", 0],
                ["results outbox: extra read + write per ended run", f"1 + {len(outbox[-1:])}"],
            ],
        )
    )


def main() -> None:
    with bench_stack({"LOG_LEVEL": "ERROR"}) as bench:
        listing(bench)
        bulk_resume(bench)
        usage_overhead(bench)


if __name__ == "__main__":
    main()

"""Recovery benchmark: `python -m bench.recovery`.

With DEFAULT settings (lease 30 s; the sweep tick every 15 s, as `make dev`
publishes it), a worker process is SIGKILLed while its first LLM call (held
for 60 s by the local OpenAI-compatible server) is in flight. A second worker
is started, the push (`devtools.push`) is pointed at it, and the sweep keeps
ticking. Prints the seconds from the second worker's start until the session
is COMPLETED (target < 60 s), bounded at BOUND_SECONDS.

Prints figures only; it asserts nothing (exit status 1 if the run did not
complete within the bound).
"""

from __future__ import annotations

import sys
import threading
import time
from datetime import UTC, datetime
from typing import Any

from bench.common import Bench, bench_stack, show, table

SEEDS = 10
SWEEP_SECONDS = 15.0  # the default tick of make emulators (devtools/emulators.py)
FIRST_CALL_DELAY = 60.0
BOUND_SECONDS = 180.0
TARGET_SECONDS = 60.0
POLL_SECONDS = 0.25


class Sweeper:
    """Publishes the sweep tick every SWEEP_SECONDS, as `make dev` (Cloud Scheduler) does."""

    def __init__(self, bench: Bench) -> None:
        self.publisher = bench.services.publisher
        self.ticks: list[float] = []  # time.time() of each tick
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sweeper", daemon=True)

    def start(self) -> Sweeper:
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(SWEEP_SECONDS):
            try:
                self.publisher.publish_sweep()
                self.ticks.append(time.time())
            except Exception as exc:
                print(f"sweep tick failed: {exc}", file=sys.stderr)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=35)


def _wall(value: Any) -> float | None:
    return value.timestamp() if isinstance(value, datetime) else None


def _log_time(entry: dict[str, Any]) -> float | None:
    try:
        return datetime.fromisoformat(str(entry["time"])).timestamp()
    except (KeyError, ValueError):
        return None


def recover(bench: Bench) -> int:
    sweeper = Sweeper(bench).start()
    try:
        return _scenario(bench, sweeper)
    finally:
        sweeper.stop()


def _scenario(bench: Bench, sweeper: Sweeper) -> int:
    from devtools.openai_server import Reply

    worker_a = bench.start_worker("A")
    bench.push_to(worker_a)
    bench.llm.script(Reply(delay=FIRST_CALL_DELAY))
    created = bench.create_brainstorm(SEEDS)
    run_id, session_id = created["runId"], created["sessionId"]

    limit = time.monotonic() + 30
    while not bench.llm.requests and time.monotonic() < limit:
        time.sleep(0.02)
    if not bench.llm.requests:
        show("worker A never reached generate-seeds within 30 s; nothing measured")
        return 1
    at_kill = bench.run_doc(run_id)
    worker_a.kill()
    killed_at = time.time()

    b_started = time.time()
    b_clock = time.monotonic()
    worker_b = bench.start_worker("B")
    b_ready = time.monotonic() - b_clock
    bench.push_to(worker_b)
    repointed = time.monotonic() - b_clock

    status = "IN_PROGRESS"
    while time.monotonic() - b_clock < BOUND_SECONDS:
        status = bench.get_session(session_id)["status"]
        if status != "IN_PROGRESS":
            break
        time.sleep(POLL_SECONDS)
    elapsed = time.monotonic() - b_clock
    time.sleep(1.0)  # let B's last log lines land

    run = bench.run_doc(run_id)
    entries = worker_b.log_entries()
    redriven = [
        t
        for e in entries
        if e.get("runId") == run_id and e.get("message") == "run re-published by the sweep"
        for t in [_log_time(e)]
        if t is not None
    ]
    outcomes = worker_b.deliveries_of(run_id)
    steps = run.get("steps") or {}
    attempts = (steps.get("generate-seeds") or {}).get("attempts")

    def rel(t: float | None) -> str:
        return "-" if t is None else f"{t - b_started:+.1f}"

    lease_expiry = _wall(at_kill.get("leaseExpiresAt"))
    ticks = ", ".join(rel(t) for t in sweeper.ticks if t >= killed_at - SWEEP_SECONDS) or "-"
    rows: list[list[object]] = [
        ["worker A SIGKILLed (generate-seeds LLM call in flight)", rel(killed_at)],
        ["worker B started (process launched)", rel(b_started)],
        ["worker B answering HTTP", f"{b_ready:+.1f}"],
        ["push pointed at B", f"{repointed:+.1f}"],
        ["A's lease expires (leaseExpiresAt at kill time)", rel(lease_expiry)],
        [f"sweep ticks (every {SWEEP_SECONDS:.0f} s)", ticks],
        ["sweep re-published the run (B's log)", ", ".join(rel(t) for t in redriven) or "-"],
        [f"session {status}", f"{elapsed:+.1f}"],
    ]
    show(
        table(
            f"Recovery after SIGKILL mid-step (default settings: lease "
            f"{bench.settings.lease_seconds:.0f} s, sweep every {SWEEP_SECONDS:.0f} s; "
            f"seedCount={SEEDS}; N=1)",
            ["event", "t (s, from B's start)"],
            rows,
        )
    )
    show(
        f"   run {run.get('status')}: deliveries field {run.get('deliveries')}, "
        f"generate-seeds attempts {attempts}, LLM requests {len(bench.llm.requests)}"
    )
    show(f"   B's push requests for the run (outcomes): {outcomes or '-'}")
    if lease_expiry is not None:
        show(
            f"   expected at most: lease expiry {rel(lease_expiry)} + one sweep period "
            f"({SWEEP_SECONDS:.0f} s) + a delivery = about "
            f"{lease_expiry - b_started + SWEEP_SECONDS:+.0f} s"
        )
    show()
    if status == "COMPLETED":
        verdict = "within" if elapsed < TARGET_SECONDS else "OVER"
        show(
            f"B's start -> COMPLETED: {elapsed:.1f} s ({verdict} the {TARGET_SECONDS:.0f} s target)"
        )
        return 0
    show(f"B's start -> COMPLETED: not reached within {BOUND_SECONDS:.0f} s (status {status})")
    return 1


def main() -> int:
    show(f"genjobs recovery benchmark (started {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC)")
    show()
    try:
        with bench_stack() as bench:
            return recover(bench)
    except KeyboardInterrupt:
        show("interrupted; everything started was stopped")
        return 130


if __name__ == "__main__":
    sys.exit(main())

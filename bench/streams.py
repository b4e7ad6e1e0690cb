"""Other requests while one api instance holds 500 event streams: `python -m bench.streams`.

Starts the api as Cloud Run does (the `functions-framework` command, so
gunicorn with `shared/http/server.py`'s worker; THREADS = Terraform's
`api_concurrency`, 1000; the stream caps at their defaults, half of the
threads per instance and half of that per tenant) on the emulators. Creates
one QUEUED run per stream (nobody delivers them, so every stream stays
open), opens `--streams` run event streams over as many tenants as the
per-tenant cap needs (`--per-run N`: N streams watch each run, sharing its
listener), each held by a raw socket (no client thread per
stream), plus `--refused` more from a tenant already at its cap (answered
429). Meanwhile `CLIENTS` kept-alive clients of another tenant time
`GET /healthz` and `POST /v1/brainstorm-sessions` over HTTP; the same
requests are timed with no stream open, for comparison.

Figures: p50 / p99 latency of /healthz and of creates with no stream and
with the streams open; streams admitted and refused; the api process's RSS,
threads and TCP connections to the Firestore emulator per open stream, and
the share of a CPU the api uses with no request in flight (what idle
streams cost: a timeout wake-up per stream and second, to notice a gone
client). On a shared machine the load average (printed) moves the
latencies more than anything; the CPU share does not depend on it. Prints
figures only; it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.common import PROMPT, Bench, bench_stack, serving_pid, show, status_kib, table
from devtools.devauth import mint_token
from devtools.procfs import connections_to
from devtools.worker_process import WorkerProcess

THREADS = 1000  # Terraform's api_concurrency default
STREAMS = 500
REFUSED = 20  # streams a tenant at its cap tries on top
CLIENTS = 8
REQUESTS = 200  # per kind (healthz, create) and phase
IDLE_SECONDS = 10.0  # the api's own CPU is measured over this, no request in flight


@dataclass
class Latencies:
    healthz: list[float]
    creates: list[float]
    failures: int


def _p(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def _open_stream(port: int, run_id: str, token: str) -> tuple[int, socket.socket]:
    """One stream held open by a raw socket: (status, socket); no thread per stream."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    sock.sendall(
        f"GET /v1/runs/{run_id}/events HTTP/1.1\r\nHost: bench\r\n"
        f"Authorization: Bearer {token}\r\n\r\n".encode()
    )
    received = b""
    while b"\r\n\r\n" not in received:
        received += sock.recv(65536)
    status = int(received.split(b" ", 2)[1])
    if status == 200:
        while b"event: run" not in received:  # the stream is served: its first event came
            received += sock.recv(65536)
    return status, sock


def _queued_run(bench: Bench, token: str) -> str:
    """A run of the token's tenant that nobody delivers: its stream stays open."""
    response = bench.api.post(
        "/v1/brainstorm-sessions",
        json={"prompt": PROMPT, "seedCount": 5},
        headers={"Authorization": f"Bearer {token}"},
    )
    if response.status_code != 202:
        raise RuntimeError(f"create answered {response.status_code}: {response.get_data()!r}")
    run_id: str = response.get_json()["runId"]
    return run_id


def _cpu_share(pid: int, seconds: float = IDLE_SECONDS) -> float:
    """The share of one CPU process `pid` used over the next `seconds` (user + system)."""

    def ticks() -> int:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime, stime

    before = ticks()
    time.sleep(seconds)
    return (ticks() - before) / os.sysconf("SC_CLK_TCK") / seconds


def _time_requests(api: WorkerProcess, token: str, requests: int) -> Latencies:
    """`requests` /healthz and `requests` creates from CLIENTS kept-alive clients at once."""
    healthz: list[float] = []
    creates: list[float] = []
    failures = 0
    lock = threading.Lock()
    headers = {"Authorization": f"Bearer {token}"}
    share = [range(i, 2 * requests, CLIENTS) for i in range(CLIENTS)]

    def client_loop(turns: range) -> None:
        nonlocal failures
        # One connection per client, kept alive, as Cloud Run's front end keeps them.
        with httpx.Client(timeout=30) as client:
            for i in turns:
                started = time.perf_counter()
                if i % 2:
                    response = client.get(f"{api.url}/healthz")
                    kind, ok = healthz, response.status_code == 200
                else:
                    response = client.post(
                        f"{api.url}/v1/brainstorm-sessions",
                        json={"prompt": PROMPT, "seedCount": 5},
                        headers=headers,
                    )
                    kind, ok = creates, response.status_code == 202
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    if ok:
                        kind.append(elapsed)
                    else:
                        failures += 1

    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(client_loop, share))
    return Latencies(healthz, creates, failures)


def _row(name: str, quiet: list[float], loaded: list[float]) -> list[str]:
    return [
        name,
        f"{_p(quiet, 50):.1f} / {_p(quiet, 99):.1f}",
        f"{_p(loaded, 50):.1f} / {_p(loaded, 99):.1f}",
    ]


def measure(
    bench: Bench, streams: int, per_run: int, refused_tries: int, threads: int, requests: int
) -> None:
    env = {
        **bench.worker_env(),
        "THREADS": str(threads),
        "LOG_LEVEL": "WARNING",
        # No stream ends itself (and frees its slot) while the figures are taken.
        "EVENTS_STREAM_SECONDS": "600",
    }
    for name in ("WORKERS", "EVENTS_MAX_STREAMS", "EVENTS_MAX_STREAMS_PER_TENANT"):
        env.pop(name, None)
    api = WorkerProcess(bench.workdir, env, "streams-api", target="api", as_on_cloud=True)
    bench.workers.append(api)
    api.start(timeout=60)
    pid = serving_pid(api)
    firestore_port = int(bench.emulators.firestore_host.rsplit(":", 1)[1])
    settings = bench.settings.model_copy(update={"threads": threads})
    capacity, per_tenant = settings.stream_capacity, settings.stream_capacity_per_tenant
    timer = mint_token(bench.keys, "org-timed", "user-timed")

    # Warm the api and the emulators with a phase's worth, then the baseline.
    _time_requests(api, timer, requests)
    quiet = _time_requests(api, timer, requests)
    idle_cpu_before = _cpu_share(pid)

    plan: list[tuple[str, str]] = []
    tenants = 0
    while len(plan) < streams:
        token = mint_token(bench.keys, f"org-streams-{tenants}", "user-streams")
        tenants += 1
        share = min(per_tenant, streams - len(plan))
        runs = [_queued_run(bench, token) for _ in range(-(-share // per_run))]
        plan += [(token, runs[i // per_run]) for i in range(share)]
    # A tenant at its cap tries more: refused before they start.
    plan += [(token, _queued_run(bench, token)) for _ in range(refused_tries)]
    rss_before, threads_before = status_kib(pid, "VmRSS"), status_kib(pid, "Threads")
    connections_before = connections_to(firestore_port, pid)
    held: list[socket.socket] = []
    refused = admitted = 0
    started = time.perf_counter()
    try:
        for token, run_id in plan:
            status, sock = _open_stream(api.port, run_id, token)
            if status == 200:
                admitted += 1
                held.append(sock)
            elif status == 429:
                refused += 1
                sock.close()
            else:
                sock.close()
                raise RuntimeError(f"a stream answered {status}")
        opening = time.perf_counter() - started
        time.sleep(1.0)  # let the listeners settle
        rss_open, threads_open = status_kib(pid, "VmRSS"), status_kib(pid, "Threads")
        connections_open = connections_to(firestore_port, pid)
        idle_cpu_open = _cpu_share(pid)
        loaded = _time_requests(api, timer, requests)
    finally:
        for sock in held:
            sock.close()

    per_stream = max(1, admitted)
    show(
        table(
            f"api as on Cloud Run, THREADS={threads}, stream caps {capacity} per instance / "
            f"{per_tenant} per tenant; {CLIENTS} clients timing {requests} /healthz "
            f"and {requests} creates per phase; load average {os.getloadavg()[0]:.1f}",
            ["figure", "no stream open", f"{admitted} streams open"],
            [
                _row("GET /healthz p50 / p99 (ms)", quiet.healthz, loaded.healthz),
                _row("POST /v1/brainstorm-sessions p50 / p99 (ms)", quiet.creates, loaded.creates),
                ["failed requests", str(quiet.failures), str(loaded.failures)],
                [
                    f"api's CPU with no request in flight ({IDLE_SECONDS:g} s)",
                    f"{idle_cpu_before:.1%}",
                    f"{idle_cpu_open:.1%}",
                ],
            ],
        )
    )
    show(
        table(
            "streams",
            ["figure", "value"],
            [
                [
                    f"{streams} over {tenants} tenants ({per_run} a run), then "
                    f"{refused_tries} more of a tenant at its cap",
                    f"{admitted} admitted in {opening:.1f} s, {refused} refused (429)",
                ],
                [
                    "api RSS before / with the streams (MiB)",
                    f"{rss_before / 1024:.0f} / {rss_open / 1024:.0f}",
                ],
                ["RSS per open stream (KiB)", f"{(rss_open - rss_before) / per_stream:.0f}"],
                ["threads before / with the streams", f"{threads_before} / {threads_open}"],
                [
                    "threads per open stream",
                    f"{(threads_open - threads_before) / per_stream:.1f}",
                ],
                [
                    "connections to Firestore before / with the streams",
                    f"{connections_before} / {connections_open}",
                ],
            ],
        )
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--streams", type=int, default=STREAMS)
    parser.add_argument(
        "--per-run", type=int, default=1, help="streams watching each run (1: a run each)"
    )
    parser.add_argument("--refused", type=int, default=REFUSED)
    parser.add_argument("--threads", type=int, default=THREADS)
    parser.add_argument("--requests", type=int, default=REQUESTS)
    args = parser.parse_args(argv)
    with bench_stack() as bench:
        measure(bench, args.streams, args.per_run, args.refused, args.threads, args.requests)


if __name__ == "__main__":
    main()

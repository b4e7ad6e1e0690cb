"""Other requests with the instance's cap of event streams open: `python -m bench.streams`.

Starts the api as Cloud Run does (functions-framework's gunicorn, THREADS =
Terraform's default `api_concurrency`, 80, stream caps at their defaults:
half the threads per instance, half of that per tenant). Then, as in
issue 15, one tenant tries to open 150 run event streams (the ones beyond
its cap are refused 429), a second tenant fills the instance's cap, and
meanwhile `CLIENTS` clients of a third tenant time `GET /healthz` and
`POST /v1/brainstorm-sessions` over HTTP. The same requests are timed with no
stream open, for comparison.

Figures: p50 / p99 latency of /healthz and of creates, with 0 and with the
capped streams open; streams admitted and refused; the api process's RSS
and threads per open stream. Prints figures only; it asserts nothing.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx

from bench.common import PROMPT, Bench, bench_stack, serving_pid, show, status_kib, table
from devtools.devauth import mint_token
from devtools.worker_process import WorkerProcess

THREADS = 80  # Terraform's api_concurrency default
ATTEMPTS = 150  # streams the flooding tenant tries to open (issue 15)
CLIENTS = 8
REQUESTS = 200  # per kind (healthz, create) and phase


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
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
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


def measure(bench: Bench, attempts: int, requests: int) -> None:
    env = {**bench.worker_env(), "THREADS": str(THREADS), "LOG_LEVEL": "WARNING"}
    env.pop("WORKERS", None)
    for name in ("EVENTS_MAX_STREAMS", "EVENTS_MAX_STREAMS_PER_TENANT"):
        env.pop(name, None)
    api = WorkerProcess(bench.workdir, env, "streams-api", target="api")
    bench.workers.append(api)
    api.start()
    pid = serving_pid(api)
    capacity = bench.settings.model_copy(update={"threads": THREADS}).stream_capacity
    per_tenant = bench.settings.model_copy(update={"threads": THREADS}).stream_capacity_per_tenant
    flooder = mint_token(bench.keys, "org-flood", "user-flood")
    filler = mint_token(bench.keys, "org-fill", "user-fill")
    timer = mint_token(bench.keys, "org-timed", "user-timed")

    # Warm the api and the emulators with a phase's worth, then the baseline.
    _time_requests(api, timer, requests)
    quiet = _time_requests(api, timer, requests)

    plan = [(flooder, _queued_run(bench, flooder)) for _ in range(attempts)]
    plan += [(filler, _queued_run(bench, filler)) for _ in range(capacity - per_tenant)]
    rss_before, threads_before = status_kib(pid, "VmRSS"), status_kib(pid, "Threads")
    held: list[socket.socket] = []
    refused = admitted = 0
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
        time.sleep(1.0)  # let the listeners settle
        rss_open, threads_open = status_kib(pid, "VmRSS"), status_kib(pid, "Threads")
        loaded = _time_requests(api, timer, requests)
    finally:
        for sock in held:
            sock.close()

    per_stream_kib = (rss_open - rss_before) / max(1, admitted)
    show(
        table(
            f"api process, THREADS={THREADS}, stream caps {capacity} per instance / "
            f"{per_tenant} per tenant; {CLIENTS} clients timing {requests} /healthz "
            f"and {requests} creates per phase",
            ["figure", "no stream open", f"{admitted} streams open"],
            [
                [
                    "GET /healthz p50 / p99 (ms)",
                    f"{_p(quiet.healthz, 50):.1f} / {_p(quiet.healthz, 99):.1f}",
                    f"{_p(loaded.healthz, 50):.1f} / {_p(loaded.healthz, 99):.1f}",
                ],
                [
                    "POST /v1/brainstorm-sessions p50 / p99 (ms)",
                    f"{_p(quiet.creates, 50):.1f} / {_p(quiet.creates, 99):.1f}",
                    f"{_p(loaded.creates, 50):.1f} / {_p(loaded.creates, 99):.1f}",
                ],
                ["failed requests", str(quiet.failures), str(loaded.failures)],
            ],
        )
    )
    show(
        table(
            "streams",
            ["figure", "value"],
            [
                [
                    f"one tenant tried {attempts}, another filled the instance",
                    f"{admitted} admitted, {refused} refused (429)",
                ],
                [
                    "api RSS before / with the streams (MiB)",
                    f"{rss_before / 1024:.0f} / {rss_open / 1024:.0f}",
                ],
                ["RSS per open stream (KiB)", f"{per_stream_kib:.0f}"],
                ["threads before / with the streams", f"{threads_before} / {threads_open}"],
                [
                    "threads per open stream",
                    f"{(threads_open - threads_before) / max(1, admitted):.1f}",
                ],
            ],
        )
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--attempts", type=int, default=ATTEMPTS)
    parser.add_argument("--requests", type=int, default=REQUESTS)
    args = parser.parse_args(argv)
    with bench_stack() as bench:
        measure(bench, args.attempts, args.requests)


if __name__ == "__main__":
    main()

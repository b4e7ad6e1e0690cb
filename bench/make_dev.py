"""The local stack as a developer runs it: `python -m bench.make_dev` (issue 16's figures).

Starts `make dev` itself (the real command, in a process group of its own,
on the ports `--port-base` gives or on free ones) with TENANT_MAX_ACTIVE_RUNS=3
and this process's model double (`devtools/openai_server.py`) as its OpenAI
endpoint, then measures through its api, as a frontend would:

a. Noisy neighbour: tenant A creates 30 brainstorm runs at once, then tenant
   B one; the model takes 2 s per call. Figures: B's POST -> COMPLETED in
   model latencies (goal: within 3), A's most calls in the model at once
   (goal: never above 3), runs COMPLETED (goal 31/31).
b. Burst: 64 runs created at once (a tenant each, so no tenant limit
   applies), 5 s model. Figure: first POST -> last COMPLETED against the
   ideal of one model latency (goal: within 1.5x).
c. Zero-latency model. Latency: one client creating runs one after another,
   POST -> COMPLETED (the run's `finishedAt`) and as a client polling
   `GET /v1/runs/{id}` every 20 ms sees it (goal: median <= 100 ms).
   Throughput: 20 clients (a tenant each), each creating its next run when
   the results topic announces its last one, for `--seconds`: completed runs
   per second, for the stack's one worker process (goal >= 30), and the
   worker's CPU time per run.

Completion is learnt from the results topic (a subscription of this
benchmark, as the app's other services have), whose messages carry the
run's `finishedAt`. Prints figures only; it asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from google.cloud.pubsub_v1 import PublisherClient, SubscriberClient

from bench.common import show, summarize, table
from devtools import REPO_ROOT, supervise
from devtools.devauth import DevKeys, ensure_dev_keys, mint_token
from devtools.emulators import free_port
from devtools.openai_server import OpenAIServer, Reply

PROJECT = "demo-genjobs-make-dev"
TENANT_LIMIT = 3
BANNER = "Ctrl-C stops everything"
PROMPT = "A youth exchange about climate and art in a small coastal town, run {n}"
SEEDS = 5

FLOOD = 30
FLOOD_MODEL_SECONDS = 2.0
BURST = 64
BURST_MODEL_SECONDS = 5.0
CREATORS = 8  # clients creating the burst (more only contend for the api process)
LATENCY_RUNS = 50
POLL_SECONDS = 0.02
CLIENTS = 20
THROUGHPUT_SECONDS = 30.0
WARMUP_SECONDS = 3.0
# Variables of the caller's shell that would change what is measured.
_CLEARED = (
    "GOOGLE_CLOUD_PROJECT",
    "EVENTS_TOPIC",
    "DEAD_LETTER_TOPIC",
    "RESULTS_TOPIC",
    "OPENAI_API_KEY_SECRET",
    "LLM_FALLBACKS",
    "THREADS",
    "WORKERS",
    "WORKER_URL",
    "TENANT_MAX_ACTIVE_RUNS",
    "LLM_REQUESTS_PER_MINUTE",
    "LLM_TOKENS_PER_MINUTE",
    "MAKEFLAGS",
    "MFLAGS",
)


# -- make dev ----------------------------------------------------------------------


@dataclass
class MakeDev:
    """`make dev` in a process group of its own; its output in `log`."""

    ports: dict[str, int]
    llm: OpenAIServer
    log: Path
    process: supervise.Popen | None = None
    tokens: dict[str, str] = field(default_factory=dict)
    keys: DevKeys | None = None

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.ports['api']}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _CLEARED}
        return {
            **env,
            "FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{self.ports['firestore']}",
            "PUBSUB_EMULATOR_HOST": f"127.0.0.1:{self.ports['pubsub']}",
            "API_PORT": str(self.ports["api"]),
            "WORKER_PORT": str(self.ports["worker"]),
            "GOOGLE_CLOUD_PROJECT": PROJECT,
            "OPENAI_BASE_URL": self.llm.base_url,
            "OPENAI_API_KEY": "bench-" + secrets.token_hex(8),
            "OPENAI_MODEL": "bench-model",
            "TENANT_MAX_ACTIVE_RUNS": str(TENANT_LIMIT),
        }

    def start(self, timeout: float = 180.0) -> MakeDev:
        self.process = supervise.spawn(
            ["make", "--no-print-directory", "dev"], env=self.env(), cwd=REPO_ROOT, log=self.log
        )
        deadline = time.monotonic() + timeout
        while BANNER not in self.log.read_text(errors="replace"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"make dev did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.1)
        # The pieces talk to the emulators of this stack; so does this process.
        os.environ["FIRESTORE_EMULATOR_HOST"] = f"127.0.0.1:{self.ports['firestore']}"
        os.environ["PUBSUB_EMULATOR_HOST"] = f"127.0.0.1:{self.ports['pubsub']}"
        return self

    def stop(self) -> None:
        if self.process is not None:
            supervise.stop([self.process], timeout=20)

    def headers(self, tenant: str) -> dict[str, str]:
        """A bearer token of `tenant`, signed with make dev's own dev key (loaded once)."""
        if self.keys is None:
            self.keys = ensure_dev_keys(REPO_ROOT / ".dev")
        if tenant not in self.tokens:
            self.tokens[tenant] = mint_token(self.keys, tenant, "bench-user")
        return {"Authorization": f"Bearer {self.tokens[tenant]}"}

    def worker_pid(self) -> int:
        """The gunicorn worker process that runs the worker function."""
        assert self.process is not None
        for pid in _descendants(self.process.pid):
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"devtools.function_server" in command and b"worker" in command:
                children = _children(pid)
                return children[0] if len(children) == 1 else pid
        raise RuntimeError("no worker process under make dev")


_ROLES = (
    ("worker", (b"devtools.function_server", b"worker")),
    ("api", (b"devtools.function_server", b"api")),
    ("push", (b"devtools.push",)),
    ("Firestore emulator", (b"cloud-firestore-emulator",)),
    ("Pub/Sub emulator", (b"pubsub-emulator",)),
    ("make dev's supervisor", (b"devtools.dev",)),
)


def stack_cpu(dev: MakeDev) -> dict[str, float]:
    """CPU seconds used so far by each piece of make dev (children counted with their parent)."""
    assert dev.process is not None
    used: dict[str, float] = {}
    for pid in _descendants(dev.process.pid):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
            seconds = cpu_seconds(pid)
        except OSError:
            continue
        role = next((r for r, needles in _ROLES if all(n in command for n in needles)), None)
        if role is not None:
            used[role] = used.get(role, 0.0) + seconds
    used["this benchmark (clients, model double)"] = cpu_seconds(os.getpid())
    return used


def _children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _descendants(pid: int) -> list[int]:
    found = []
    for child in _children(pid):
        found += [child, *_descendants(child)]
    return found


def machine_busy() -> tuple[float, float]:
    """(busy, all) CPU seconds of the whole machine so far, every core (/proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(fields) - idle) / tick, sum(fields) / tick


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the results topic: how this benchmark learns that a run ended ----------------------


class Results:
    """A subscription to make dev's results topic; `wait(run_id)` returns its result message."""

    PULLERS = 2

    def __init__(self) -> None:
        self.subscriber = SubscriberClient()
        topic = PublisherClient.topic_path(PROJECT, "generation-results")
        self.subscription = self.subscriber.subscription_path(PROJECT, "bench-results")
        self.subscriber.create_subscription(
            request={"name": self.subscription, "topic": topic, "ack_deadline_seconds": 60}
        )
        self.seen: dict[str, tuple[float, dict[str, Any]]] = {}
        self._arrived = threading.Condition()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._pull, daemon=True) for _ in range(self.PULLERS)
        ]
        for thread in self._threads:
            thread.start()

    def _pull(self) -> None:
        while not self._stop.is_set():
            try:
                response = self.subscriber.pull(
                    subscription=self.subscription, max_messages=100, timeout=10, retry=None
                )
            except Exception:
                continue
            now = time.time()
            received = list(response.received_messages)
            if not received:
                continue
            with contextlib.suppress(Exception):
                self.subscriber.acknowledge(
                    subscription=self.subscription, ack_ids=[m.ack_id for m in received]
                )
            with self._arrived:
                for message in received:
                    result = json.loads(message.message.data)
                    self.seen.setdefault(result["runId"], (now, result))
                self._arrived.notify_all()

    def wait(self, run_id: str, timeout: float = 120.0) -> tuple[float, dict[str, Any]]:
        """(time.time() it arrived here, the result message) of a run's end."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while run_id not in self.seen:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no result for run {run_id} within {timeout:.0f} s")
                self._arrived.wait(left)
            return self.seen[run_id]

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(Exception):
            self.subscriber.delete_subscription(subscription=self.subscription)
        self.subscriber.close()


def _finished(result: dict[str, Any]) -> float:
    return datetime.fromisoformat(str(result["finishedAt"]).replace("Z", "+00:00")).timestamp()


# -- the model double: calls in flight per tenant -------------------------------------


class TenantCalls:
    """Answers after `delay` s and counts the calls in the model at once per tenant marker."""

    def __init__(self, llm: OpenAIServer, delay: float, markers: tuple[str, ...]) -> None:
        self.delay = delay
        self.markers = markers
        self.now: dict[str, int] = dict.fromkeys(markers, 0)
        self.peak: dict[str, int] = dict.fromkeys(markers, 0)
        self._lock = threading.Lock()
        llm.responder = self

    def __call__(self, request: dict[str, Any]) -> Reply:
        text = json.dumps(request.get("messages"))
        marker = next((m for m in self.markers if m in text), None)
        if marker is not None:
            with self._lock:
                self.now[marker] += 1
                self.peak[marker] = max(self.peak[marker], self.now[marker])
        try:
            time.sleep(self.delay)
        finally:
            if marker is not None:
                with self._lock:
                    self.now[marker] -= 1
        return Reply()


# -- the scenarios -----------------------------------------------------------------


def _create(http: httpx.Client, dev: MakeDev, tenant: str, prompt: str) -> str:
    response = http.post(
        f"{dev.api}/v1/brainstorm-sessions",
        json={"prompt": prompt, "seedCount": SEEDS},
        headers=dev.headers(tenant),
    )
    if response.status_code != 202:
        raise RuntimeError(f"create answered {response.status_code}: {response.text}")
    run_id: str = response.json()["runId"]
    return run_id


def noisy_neighbour(dev: MakeDev, results: Results) -> None:
    calls = TenantCalls(dev.llm, FLOOD_MODEL_SECONDS, ("tenant-A", "tenant-B"))
    with httpx.Client(timeout=60) as http, ThreadPoolExecutor(10) as pool:
        start = time.time()
        flood = list(
            pool.map(
                lambda n: _create(http, dev, "org-a", f"tenant-A {PROMPT.format(n=n)}"),
                range(FLOOD),
            )
        )
        b_posted = time.time()
        b_run = _create(http, dev, "org-b", f"tenant-B {PROMPT.format(n=0)}")
        _, b_result = results.wait(b_run)
        a_results = [results.wait(run_id) for run_id in flood]
        b_view = http.get(f"{dev.api}/v1/runs/{b_run}", headers=dev.headers("org-b")).json()
    dev.llm.responder = None
    statuses = [r["status"] for _, r in a_results] + [b_result["status"]]
    b_seconds = _finished(b_result) - b_posted
    a_last = max(_finished(r) for _, r in a_results) - start
    rows: list[list[object]] = [
        ["B: POST -> COMPLETED (s)", f"{b_seconds:.2f}", ""],
        ["  in model latencies", f"{b_seconds / FLOOD_MODEL_SECONDS:.2f}", "<= 3"],
        ["A: most calls in the model at once", calls.peak["tenant-A"], f"<= {TENANT_LIMIT}"],
        [
            "runs COMPLETED",
            f"{statuses.count('COMPLETED')}/{FLOOD + 1}",
            f"{FLOOD + 1}/{FLOOD + 1}",
        ],
        ["A: first POST -> last COMPLETED (s)", f"{a_last:.2f}", ""],
        ["A's 30 created in (s)", f"{b_posted - start:.2f}", ""],
    ]
    show(
        table(
            f"a. Noisy neighbour through make dev: tenant A creates {FLOOD} runs at once, then "
            f"tenant B one; model {FLOOD_MODEL_SECONDS:g} s per call, "
            f"TENANT_MAX_ACTIVE_RUNS={TENANT_LIMIT}",
            ["figure", "value", "goal"],
            rows,
        )
    )
    show(f"   B's run (s after its POST): {_timeline(b_view, b_posted)}")
    show()


def _timeline(view: dict[str, Any], posted: float) -> str:
    """When a run was created, claimed, in its model step and finished, from its view."""

    def at(value: Any) -> str:
        if not value:
            return "-"
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
        return f"{moment - posted:+.2f}"

    steps: list[dict[str, Any]] = view.get("steps") or []
    model = next((s for s in steps if s.get("id") == "generate-seeds"), {})
    return (
        f"created {at(view.get('createdAt'))}, started {at(view.get('startedAt'))}, "
        f"model step {at(model.get('startedAt'))}..{at(model.get('finishedAt'))}, "
        f"finished {at(view.get('finishedAt'))}, deliveries {view.get('deliveries')}"
    )


def burst(dev: MakeDev, results: Results) -> None:
    dev.llm.delay = BURST_MODEL_SECONDS
    dev.llm.peak_in_flight = 0
    posted: dict[str, float] = {}

    def create(n: int) -> str:
        at = time.time()
        run_id = _create(http, dev, f"org-burst-{n}", PROMPT.format(n=n))
        posted[run_id] = at
        return run_id

    for n in range(BURST):
        dev.headers(f"org-burst-{n}")  # tokens minted before the clock starts
    with httpx.Client(timeout=60) as http, ThreadPoolExecutor(CREATORS) as pool:
        start = time.time()
        runs = list(pool.map(create, range(BURST)))
        created = time.time()
        ended = [results.wait(run_id) for run_id in runs]
    dev.llm.delay = 0.0
    peak = dev.llm.peak_in_flight
    statuses = [r["status"] for _, r in ended]
    wall = max(_finished(r) for _, r in ended) - start
    each = max(_finished(r) - posted[run_id] for run_id, (_, r) in zip(runs, ended, strict=True))
    ideal = BURST_MODEL_SECONDS
    rows: list[list[object]] = [
        ["runs COMPLETED", f"{statuses.count('COMPLETED')}/{BURST}", f"{BURST}/{BURST}"],
        ["first POST -> last COMPLETED (s)", f"{wall:.2f}", f"<= {ideal * 1.5:g}"],
        ["  vs the ideal (one model latency)", f"{wall / ideal:.2f}x", "<= 1.5x"],
        ["slowest run, its POST -> COMPLETED (s)", f"{each:.2f}", f"<= {ideal * 1.5:g}"],
        ["most calls in the model at once", peak, BURST],
        [f"{BURST} runs created in (s), {CREATORS} clients", f"{created - start:.2f}", ""],
    ]
    show(
        table(
            f"b. Burst through make dev: {BURST} runs created at once (a tenant each), "
            f"model {ideal:g} s per call, one worker process",
            ["figure", "value", "goal"],
            rows,
        )
    )
    show()


def latency(dev: MakeDev, results: Results) -> None:
    committed: list[float] = []
    polled: list[float] = []
    phases: dict[str, list[float]] = {name: [] for name in _PHASES}
    with httpx.Client(timeout=60) as http:
        for n in range(LATENCY_RUNS + 3):
            posted = time.time()
            run_id = _create(http, dev, "org-latency", PROMPT.format(n=n))
            while True:
                view = http.get(
                    f"{dev.api}/v1/runs/{run_id}", headers=dev.headers("org-latency")
                ).json()
                if view.get("status") not in ("QUEUED", "RUNNING"):
                    break
                time.sleep(POLL_SECONDS)
            seen = time.time()
            _, result = results.wait(run_id)
            if n >= 3:  # the first runs warm the worker's channels
                committed.append(_finished(result) - posted)
                polled.append(seen - posted)
                for name, value in _phases(view, posted).items():
                    phases[name].append(value)
    rows = []
    for name, values in (
        ("POST -> COMPLETED committed (finishedAt)", committed),
        (f"POST -> COMPLETED seen by GET every {POLL_SECONDS * 1000:.0f} ms", polled),
        *((f"  {name}", values) for name, values in phases.items()),
    ):
        s = summarize([v * 1000 for v in values])
        rows.append([name, *(f"{v:.0f}" for v in (s.median, s.p90, s.minimum, s.maximum))])
    show(
        table(
            f"c1. Latency through make dev, zero-latency model, one client, runs one after "
            f"another (N={LATENCY_RUNS}, brainstorm seedCount={SEEDS}); goal: median <= 100 ms",
            ["ms", "median", "p90", "min", "max"],
            rows,
        )
    )
    show()


# Where a run's POST -> COMPLETED goes, from the times its view records.
_PHASES = (
    "POST -> run created (api: token, commit, publish)",
    "created -> claimed by the worker (publish, push)",
    "claimed -> model step started",
    "model step (the model double answers at once)",
    "model step ended -> COMPLETED (commits)",
)


def _phases(view: dict[str, Any], posted: float) -> dict[str, float]:
    def at(value: Any) -> float:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()

    steps: list[dict[str, Any]] = view.get("steps") or []
    model = next(s for s in steps if s.get("id") == "generate-seeds")
    marks = [
        posted,
        at(view["createdAt"]),
        at(view["startedAt"]),
        at(model["startedAt"]),
        at(model["finishedAt"]),
        at(view["finishedAt"]),
    ]
    return {name: marks[i + 1] - marks[i] for i, name in enumerate(_PHASES)}


def throughput(dev: MakeDev, results: Results, seconds: float) -> None:
    pid = dev.worker_pid()
    stop_at = time.monotonic() + WARMUP_SECONDS + seconds
    window: dict[str, float] = {}
    done: list[tuple[float, float, float]] = []  # (posted, finished, seen here)
    lock = threading.Lock()

    def client(number: int) -> None:
        tenant = f"org-client-{number}"
        with httpx.Client(timeout=60) as http:
            n = 0
            while time.monotonic() < stop_at:
                posted = time.time()
                run_id = _create(http, dev, tenant, PROMPT.format(n=n))
                seen, result = results.wait(run_id)
                n += 1
                with lock:
                    done.append((posted, _finished(result), seen))

    pieces: dict[str, dict[str, float]] = {}

    def measure() -> None:
        time.sleep(WARMUP_SECONDS)
        window["start"], window["cpu0"] = time.time(), cpu_seconds(pid)
        pieces["before"] = stack_cpu(dev)
        window["busy0"], window["all0"] = machine_busy()
        time.sleep(seconds)
        window["end"], window["cpu1"] = time.time(), cpu_seconds(pid)
        pieces["after"] = stack_cpu(dev)
        window["busy1"], window["all1"] = machine_busy()
        window["load"] = os.getloadavg()[0]

    for number in range(CLIENTS):
        dev.headers(f"org-client-{number}")
    with ThreadPoolExecutor(CLIENTS + 1) as pool:
        meter = pool.submit(measure)
        list(pool.map(client, range(CLIENTS)))
        meter.result()
    inside = [d for d in done if window["start"] <= d[1] <= window["end"]]
    rate = len(inside) / seconds
    cpu = window["cpu1"] - window["cpu0"]
    lat = summarize([(f - p) * 1000 for p, f, _ in inside])
    seen = summarize([(s - p) * 1000 for p, _, s in inside])
    rows: list[list[object]] = [
        ["runs COMPLETED per second (one worker process)", f"{rate:.1f}", ">= 30"],
        ["worker CPU per run (ms)", f"{cpu * 1000 / max(1, len(inside)):.1f}", ""],
        ["worker CPU used (cores)", f"{cpu / seconds:.2f}", ""],
        ["POST -> COMPLETED committed median / p90 (ms)", f"{lat.median:.0f} / {lat.p90:.0f}", ""],
        ["POST -> result received median / p90 (ms)", f"{seen.median:.0f} / {seen.p90:.0f}", ""],
        ["machine load average (1 min)", f"{window['load']:.1f}", ""],
    ]
    cores = (window["all1"] - window["all0"]) / seconds
    stack = sum(pieces["after"].values()) - sum(pieces["before"].values())
    busy = window["busy1"] - window["busy0"]
    rows.append(
        [
            f"machine CPU busy (cores of {cores:.0f}): this stack / everything",
            f"{stack / seconds:.2f} / {busy / seconds:.2f}",
            "",
        ]
    )
    show(
        table(
            f"c2. Throughput through make dev: {CLIENTS} clients (a tenant each) creating runs "
            f"back to back for {seconds:g} s (after {WARMUP_SECONDS:g} s of warm-up), "
            "zero-latency model",
            ["figure", "value", "goal"],
            rows,
        )
    )
    count = max(1, len(inside))
    per_piece = [
        [name, f"{(pieces['after'][name] - pieces['before'].get(name, 0.0)) * 1000 / count:.1f}"]
        for name in pieces["after"]
    ]
    total = sum(float(v) for _, v in per_piece)
    show(
        table(
            "   CPU per completed run, by process (ms; children counted with their parent)",
            ["process", "ms per run"],
            [*per_piece, ["all", f"{total:.1f}"]],
        )
    )
    show()


# -- main ----------------------------------------------------------------------------


def _ports(base: int | None) -> dict[str, int]:
    names = ("firestore", "pubsub", "worker", "api")
    if base is None:
        return {name: free_port() for name in names}
    return {name: base + i for i, name in enumerate(names)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.make_dev", description=__doc__)
    parser.add_argument("--only", choices=["a", "b", "c"], action="append", help="a scenario")
    parser.add_argument(
        "--port-base",
        type=int,
        help="Firestore, Pub/Sub, worker and api on this port and the next three (default: free)",
    )
    parser.add_argument("--seconds", type=float, default=THROUGHPUT_SECONDS)
    args = parser.parse_args(argv)
    chosen = set(args.only or ["a", "b", "c"])
    logs = Path(tempfile.mkdtemp(prefix="bench-make-dev-"))
    with contextlib.ExitStack() as stack, OpenAIServer(model="bench-model") as llm:
        dev = MakeDev(_ports(args.port_base), llm, logs / "make-dev.log")
        stack.callback(dev.stop)
        show(f"make dev on ports {dev.ports} (output in {dev.log})")
        dev.start()
        results = Results()
        stack.callback(results.close)
        show(f"make dev ready; load average {os.getloadavg()[0]:.1f}")
        show()
        if "a" in chosen:
            noisy_neighbour(dev, results)
        if "b" in chosen:
            burst(dev, results)
        if "c" in chosen:
            latency(dev, results)
            throughput(dev, results, args.seconds)
        errors = [
            line
            for line in dev.log.read_text(errors="replace").splitlines()
            if re.search(r'"severity": "(ERROR|CRITICAL)"|Traceback', line)
        ]
        show(
            f"make dev logged {len(errors)} error line(s)"
            + (f"; first: {errors[0]}" if errors else "")
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

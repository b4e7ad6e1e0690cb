"""Plumbing shared by the benchmarks.

- `bench_stack()` starts what a benchmark needs and stops it again (also on
  Ctrl-C, SIGTERM or an error): the official Firestore and Pub/Sub emulators
  on free ports, the zero-latency OpenAI-compatible server, a signing key made
  at run time, the topics, the api in-process (functions-framework's test
  client), and worker processes on demand.
- `CountingClient` is a real `google.cloud.firestore.Client` whose gRPC
  channel is intercepted to count document reads and writes the way
  Firestore bills them.
- Small helpers for statistics and tables.

Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.cloud import firestore

from devtools import REPO_ROOT
from devtools.worker_process import WorkerProcess

PROJECT = "demo-genjobs-bench"
TENANT = "org-bench"
USER = "bench-user"
PROMPT = "A youth exchange about climate and art in a small coastal town"

# Settings of shared/config.py that a benchmark pins or clears, so the caller's
# shell cannot change what is measured.
_CLEARED_SETTINGS = (
    "FIRESTORE_DATABASE",
    "EVENTS_TOPIC",
    "DEAD_LETTER_TOPIC",
    "LEASE_SECONDS",
    "LEASE_WAIT_SECONDS",
    "STEP_MAX_ATTEMPTS",
    "REDRIVE_AFTER_SECONDS",
    "AUTH_JWKS_URL",
    "AUTH_TENANT_CLAIM",
    "OPENAI_API_KEY_SECRET",
    "OPENAI_MODEL",
    "OPENAI_TIMEOUT_SECONDS",
    "LLM_SCHEMA_RETRIES",
    "MAX_PARALLEL_STEPS",
    "TENANT_MAX_ACTIVE_RUNS",
    "LLM_REQUESTS_PER_MINUTE",
    "LLM_TOKENS_PER_MINUTE",
    "LLM_PRICES",
    "RESULTS_TOPIC",
    "TRIGGERS_TOPIC",
    "TRIGGER_TENANTS",
    "TENANT_CREATES_PER_MINUTE",
    "TENANT_DAILY_TOKEN_LIMIT",
    "TENANT_DAILY_COST_LIMIT_USD",
    "K_SERVICE",
)


# -- counting Firestore operations at the gRPC level ---------------------------


@dataclass
class RpcRecord:
    """One Firestore RPC: where it came from and what it costs."""

    phase: str
    step: str | None
    method: str
    writes: int = 0
    documents: int = 0
    # For a Commit: the written documents' paths, ids replaced by `*`
    # (`runs/*`, `programmes/*/days/*`).
    targets: list[str] = field(default_factory=list)

    @property
    def reads(self) -> int:
        """Billed reads: documents returned; a query costs at least one.

        An aggregation (count, sum) is billed one read per 1000 index entries
        it matched, at least one: counted as one (the entries are not seen here).
        """
        if self.method == "RunQuery":
            return max(1, self.documents)
        if self.method == "RunAggregationQuery":
            return 1
        return self.documents


class OpCounter:
    """Collects `RpcRecord`s, labelled with the phase the benchmark is in.

    The phase is a plain attribute rather than a context variable, so RPCs
    from background threads (the runner's lease heartbeat) are labelled too.
    """

    def __init__(self) -> None:
        self.records: list[RpcRecord] = []
        self.current = "untracked"
        self._lock = threading.Lock()

    @contextmanager
    def phase(self, name: str) -> Iterator[list[RpcRecord]]:
        """Label RPCs made inside the block; yields the list of them (filled on exit)."""
        mine: list[RpcRecord] = []
        start = len(self.records)
        previous, self.current = self.current, name
        try:
            yield mine
        finally:
            self.current = previous
            with self._lock:
                mine.extend(r for r in self.records[start:] if r.phase == name)

    def record(self, method: str) -> RpcRecord:
        entry = RpcRecord(phase=self.current, step=_current_step(), method=method)
        with self._lock:
            self.records.append(entry)
        return entry


def _current_step() -> str | None:
    # The engine's log context knows which step is running (private, read only).
    try:
        from shared import logs

        value = logs._step.get()
    except (ImportError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def _pb(message: Any) -> Any:
    """The raw protobuf of a proto-plus message (or the message itself)."""
    to_pb = getattr(type(message), "pb", None)
    return to_pb(message) if callable(to_pb) else message


class _CountingStream:
    """A server-streaming call that counts documents as they are iterated."""

    def __init__(self, inner: Any, on_item: Callable[[Any], None]) -> None:
        self._inner = inner
        self._on_item = on_item

    def __iter__(self) -> _CountingStream:
        return self

    def __next__(self) -> Any:
        item = next(self._inner)
        self._on_item(item)
        return item

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _target(write: Any) -> str:
    """`runs/*` for a write to `projects/p/databases/d/documents/runs/abc`."""
    name = write.update.name if write.HasField("update") else write.delete
    parts = str(name).split("/documents/", 1)[-1].split("/")
    return "/".join(p if i % 2 == 0 else "*" for i, p in enumerate(parts))


class _Interceptor(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):  # type: ignore[misc]
    def __init__(self, counter: OpCounter) -> None:
        self.counter = counter

    @staticmethod
    def _method(details: Any) -> str:
        method = details.method
        if isinstance(method, bytes):
            method = method.decode()
        return str(method).rsplit("/", 1)[-1]

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        method = self._method(details)
        entry = self.counter.record(method)
        if method == "Commit":
            writes = _pb(request).writes
            entry.writes = len(writes)
            entry.targets = [_target(w) for w in writes]
        elif method == "GetDocument":
            entry.documents = 1
        return continuation(details, request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        method = self._method(details)
        entry = self.counter.record(method)
        call = continuation(details, request)

        def on_item(item: Any) -> None:
            raw = _pb(item)
            if method == "BatchGetDocuments":
                # A missing document is billed as a read as well.
                if raw.HasField("found") or raw.HasField("missing"):
                    entry.documents += 1
            elif method == "RunQuery" and raw.HasField("document"):
                entry.documents += 1

        return _CountingStream(call, on_item)


class CountingClient(firestore.Client):
    """A Firestore client (emulator only) whose channel counts billed operations."""

    def __init__(self, counter: OpCounter, project: str) -> None:
        super().__init__(project=project)
        self.counter = counter

    def _emulator_channel(self, transport: Any) -> Any:
        channel = super()._emulator_channel(transport)  # type: ignore[no-untyped-call]
        return grpc.intercept_channel(channel, _Interceptor(self.counter))


def totals(records: Sequence[RpcRecord]) -> tuple[int, int]:
    """(reads, writes) of some records."""
    return sum(r.reads for r in records), sum(r.writes for r in records)


# -- worker processes ---------------------------------------------------------


# -- the stack -----------------------------------------------------------------


@dataclass
class Bench:
    workdir: Path
    emulators: Any
    llm: Any
    keys: Any
    services: Any
    api: Any
    counter: OpCounter
    plain_db: firestore.Client
    workers: list[WorkerProcess] = field(default_factory=list)
    pusher: Any = None  # devtools.push.LocalPush, once push_to started it
    _token: str | None = None

    @property
    def settings(self) -> Any:
        return self.services.settings

    def headers(self) -> dict[str, str]:
        from devtools.devauth import mint_token

        if self._token is None:
            self._token = mint_token(self.keys, TENANT, USER)
        return {"Authorization": f"Bearer {self._token}"}

    def create_brainstorm(self, seed_count: int) -> dict[str, Any]:
        response = self.api.post(
            "/v1/brainstorm-sessions",
            json={"prompt": PROMPT, "seedCount": seed_count},
            headers=self.headers(),
        )
        if response.status_code != 202:
            raise RuntimeError(f"create answered {response.status_code}: {response.get_data()!r}")
        created: dict[str, Any] = response.get_json()
        return created

    def get_session(self, session_id: str) -> dict[str, Any]:
        response = self.api.get(f"/v1/brainstorm-sessions/{session_id}", headers=self.headers())
        if response.status_code != 200:
            raise RuntimeError(f"get answered {response.status_code}: {response.get_data()!r}")
        session: dict[str, Any] = response.get_json()
        return session

    def post(self, path: str, body: Any, expect: int = 202) -> dict[str, Any]:
        """POST a JSON body to the in-process api; the JSON answer (status checked)."""
        response = self.api.post(path, json=body, headers=self.headers())
        if response.status_code != expect:
            raise RuntimeError(
                f"POST {path} answered {response.status_code}: {response.get_data()!r}"
            )
        answer: dict[str, Any] = response.get_json()
        return answer

    def get(self, path: str) -> dict[str, Any]:
        """GET from the in-process api; the JSON answer (200 required)."""
        response = self.api.get(path, headers=self.headers())
        if response.status_code != 200:
            raise RuntimeError(
                f"GET {path} answered {response.status_code}: {response.get_data()!r}"
            )
        answer: dict[str, Any] = response.get_json()
        return answer

    def run_doc(self, run_id: str) -> dict[str, Any]:
        """The run document, read with an uncounted client."""
        return self.plain_db.collection("runs").document(run_id).get().to_dict() or {}

    def worker_env(self) -> dict[str, str]:
        return {
            **os.environ,
            "PYTHONPATH": str(REPO_ROOT),
            "PYTHONUNBUFFERED": "1",
            "LOG_LEVEL": "INFO",  # "delivery finished" lines are counted
        }

    def start_worker(self, name: str) -> WorkerProcess:
        worker = WorkerProcess(self.workdir, self.worker_env(), name)
        self.workers.append(worker)
        return worker.start()

    def push_to(self, worker: WorkerProcess) -> Any:
        """Deliver the worker's subscriptions to this worker as `make dev` does (`devtools.push`).

        The first call provisions Terraform's subscriptions and starts the
        deliverer; a later one points it at another worker.
        """
        from devtools.provision import provision
        from devtools.push import LocalPush

        if self.pusher is None:
            s = self.settings
            routes = provision(
                s.project, s.events_topic, s.dead_letter_topic, results_topic=s.results_topic
            )
            self.pusher = LocalPush(s.project, routes, worker.url).start()
        else:
            self.pusher.retarget(worker.url)
        return self.pusher


def status_kib(pid: int, field: str) -> int:
    """A numeric field of /proc/<pid>/status (VmRSS and VmHWM are in KiB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for process {pid}")


def serving_pid(worker: WorkerProcess) -> int:
    """The gunicorn worker process (the one that runs the function), not the master."""
    assert worker.process is not None
    pid = worker.process.pid
    path = Path(f"/proc/{pid}/task/{pid}/children")
    children = [int(p) for p in path.read_text().split()] if path.exists() else []
    if len(children) != 1:
        raise RuntimeError(f"expected one gunicorn worker (WORKERS=1), found {children}")
    return children[0]


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextmanager
def bench_stack(extra_env: dict[str, str] | None = None) -> Iterator[Bench]:
    """Start the emulators, the LLM server, auth and the in-process api; stop all at the end."""
    from devtools.devauth import DEV_AUDIENCE, DEV_ISSUER, ensure_dev_keys
    from devtools.emulators import Emulators
    from devtools.openai_server import OpenAIServer
    from devtools.provision import provision

    previous_sigterm = signal.signal(signal.SIGTERM, _raise_interrupt)
    saved_env = dict(os.environ)
    workdir = Path(tempfile.mkdtemp(prefix="genjobs-bench-"))
    with ExitStack() as stack:
        stack.push(_WorkdirCleanup(workdir))
        stack.callback(signal.signal, signal.SIGTERM, previous_sigterm)
        stack.callback(_restore_env, saved_env)
        emulators = Emulators(log_dir=workdir)
        stack.callback(emulators.stop)  # also stops a half-started pair
        emulators.start()
        llm = OpenAIServer(delay=0.0, model="bench-model")
        stack.callback(llm.stop)
        llm.start()
        keys = ensure_dev_keys(workdir / "auth")

        for name in _CLEARED_SETTINGS:
            os.environ.pop(name, None)
        os.environ.update(
            {
                **emulators.env(),
                "GOOGLE_CLOUD_PROJECT": PROJECT,
                "OPENAI_API_KEY": "bench-" + secrets.token_hex(8),
                "OPENAI_BASE_URL": llm.base_url,
                "AUTH_JWKS_FILE": str(keys.jwks_path),
                "AUTH_ISSUER": DEV_ISSUER,
                "AUTH_AUDIENCE": DEV_AUDIENCE,
                # The in-process api and runner: warnings only, so figures stay readable.
                "LOG_LEVEL": "WARNING",
                **(extra_env or {}),
            }
        )

        import functions_framework

        from shared import services as services_module

        services_module.from_environment.cache_clear()
        stack.callback(services_module.from_environment.cache_clear)
        services = services_module.from_environment()
        counter = OpCounter()
        counting = CountingClient(counter, services.settings.project)
        stack.callback(_close_client, counting)
        # Before anything touched `db`: the store and documents are built on it.
        services.override(db=counting)
        plain_db = firestore.Client(project=services.settings.project)
        stack.callback(_close_client, plain_db)

        s = services.settings
        provision(
            s.project,
            s.events_topic,
            s.dead_letter_topic,
            subscriptions=False,
            results_topic=s.results_topic,
        )
        app = functions_framework.create_app("api", str(REPO_ROOT / "functions/api/main.py"))  # type: ignore[no-untyped-call]
        bench = Bench(
            workdir=workdir,
            emulators=emulators,
            llm=llm,
            keys=keys,
            services=services,
            api=app.test_client(),
            counter=counter,
            plain_db=plain_db,
        )
        stack.callback(_stop_workers, bench)
        stack.callback(_close_publisher, services)
        yield bench


class _WorkdirCleanup:
    """Removes the logs and the run-time key; on an error keeps the logs and says where."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir

    def __call__(self, exc_type: type[BaseException] | None, *_: object) -> bool:
        shutil.rmtree(self.workdir / "auth", ignore_errors=True)
        if exc_type is None or exc_type is KeyboardInterrupt:
            shutil.rmtree(self.workdir, ignore_errors=True)
        else:
            print(f"(emulator and worker logs kept in {self.workdir})", file=sys.stderr)
        return False


def _stop_workers(bench: Bench) -> None:
    if bench.pusher is not None:
        bench.pusher.stop()
    for worker in bench.workers:
        worker.stop()


def _close_publisher(services: Any) -> None:
    client = getattr(services.__dict__.get("publisher"), "_client", None)
    stop = getattr(client, "stop", None)
    if callable(stop):
        try:
            stop()
        except Exception as exc:  # the emulator may already be gone
            print(f"(closing the Pub/Sub publisher: {exc})", file=sys.stderr)


def _close_client(client: firestore.Client) -> None:
    api = client._firestore_api_internal  # the gRPC channel, if one was opened
    if api is not None:
        api.transport.close()


def _restore_env(saved: dict[str, str]) -> None:
    os.environ.clear()
    os.environ.update(saved)


# -- figures -------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    n: int
    median: float
    p90: float
    minimum: float
    maximum: float


def summarize(values: Sequence[float]) -> Summary:
    ordered = sorted(values)
    if len(ordered) >= 2:
        p90 = statistics.quantiles(ordered, n=10, method="inclusive")[8]
    else:
        p90 = ordered[0]
    return Summary(
        n=len(ordered),
        median=statistics.median(ordered),
        p90=p90,
        minimum=ordered[0],
        maximum=ordered[-1],
    )


def table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table: numeric columns right-aligned, text left-aligned."""
    body = [[str(c) for c in row] for row in rows]
    cells = [[str(h) for h in headers], *body]
    widths = [max(len(row[i]) for row in cells if i < len(row)) for i in range(len(headers))]
    numeric = [
        i > 0 and all(_numeric(row[i]) for row in body if i < len(row)) for i in range(len(headers))
    ]

    def line(row: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if right else c.ljust(w)
            for c, w, right in zip(row, widths, numeric, strict=False)
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([title, line(cells[0]), rule, *(line(r) for r in body)])


def _numeric(text: str) -> bool:
    return text.replace(".", "", 1).replace("-", "").isdigit()


def show(text: str = "") -> None:
    print(text, flush=True)

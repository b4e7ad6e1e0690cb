"""What the `doctor` tests share: the real functions as processes, Google API doubles, a target.

The api and worker are served by `devtools.function_server` (as `make api`
and `make worker` serve them), so "the worker answers" and "/healthz" are
checked over real HTTP. The Google APIs that have no emulator (Cloud
Functions, Pub/Sub IAM, Cloud Monitoring) are a local HTTP double speaking
their REST shapes; Pub/Sub and Firestore themselves are the emulators.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from devtools import REPO_ROOT, supervise
from devtools.doctor import http_get
from devtools.emulators import free_port
from devtools.function_server import command
from devtools.local_server import LocalServer, QuietHandler, send_json


@dataclass
class FunctionProcess:
    target: str
    log: Path
    port: int = field(default_factory=free_port)
    process: supervise.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> FunctionProcess:
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        self.process = supervise.spawn(
            command(self.target, self.port), env=env, cwd=REPO_ROOT, log=self.log
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.target} exited: {self.log.read_text()[-2000:]}")
            if http_get(self.url)[0]:
                return self  # it answers (whatever it says to a bare GET)
            time.sleep(0.1)
        raise RuntimeError(f"{self.target} did not start within {timeout:.0f} s")

    def stop(self) -> None:
        if self.process is not None:
            supervise.stop([self.process])


_FUNCTION = re.compile(r"^/v2/projects/([^/]+)/locations/([^/]+)/functions/([^/?]+)$")
_IAM = re.compile(r"^/v1/(projects/[^/]+/(?:topics|subscriptions)/[^/:]+):getIamPolicy$")
_SERIES = re.compile(r"^/v3/projects/([^/]+)/timeSeries$")


class GoogleApisDouble(LocalServer):
    """Cloud Functions `functions.get`, Pub/Sub `getIamPolicy`, Monitoring `timeSeries.list`.

    `functions` maps a function name to its `serviceConfig`; `policies` a topic's
    or subscription's path to its IAM policy; `backlogs` a subscription id to its undelivered
    message count (absent: no time series).
    """

    def __init__(self) -> None:
        super().__init__()
        self.functions: dict[str, dict[str, Any]] = {}
        self.policies: dict[str, dict[str, Any]] = {}
        self.backlogs: dict[str, int] = {}

    def handler(self) -> type[BaseHTTPRequestHandler]:
        double = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                path, _, query = self.path.partition("?")
                if match := _FUNCTION.match(path):
                    config = double.functions.get(match.group(3))
                    if config is None:
                        return self._json(404, {"error": {"code": 404, "status": "NOT_FOUND"}})
                    return self._json(200, {"name": path[4:], "serviceConfig": config})
                if _SERIES.match(path):
                    from urllib.parse import parse_qs

                    wanted = parse_qs(query).get("filter", [""])[0]
                    series = [
                        {"points": [{"value": {"int64Value": str(count)}}]}
                        for sub, count in double.backlogs.items()
                        if f'subscription_id="{sub}"' in wanted
                    ]
                    return self._json(200, {"timeSeries": series} if series else {})
                self._json(404, {"error": {"code": 404, "status": "NOT_FOUND"}})

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                match = _IAM.match(self.path)
                if match and match.group(1) in double.policies:
                    return self._json(200, double.policies[match.group(1)])
                self._json(404, {"error": {"code": 404, "status": "NOT_FOUND"}})

            def _json(self, status: int, body: dict[str, Any]) -> None:
                send_json(self, status, json.dumps(body).encode())

        return Handler

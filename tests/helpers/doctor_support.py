"""What the `doctor` tests share: a double of the Google APIs that have no emulator.

The api and worker themselves run as `devtools.worker_process.WorkerProcess`
(the `functions` fixture), so "the worker answers" and "/healthz" are
checked over real HTTP. The Google APIs that have no emulator (Cloud
Functions, Pub/Sub IAM, Cloud Monitoring) are a local HTTP double speaking
their REST shapes; Pub/Sub and Firestore themselves are the emulators.
"""

from __future__ import annotations

import json
import re
from http.server import BaseHTTPRequestHandler
from typing import Any

from devtools.local_server import LocalServer, QuietHandler, send_json

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

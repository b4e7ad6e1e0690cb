"""The api function: routing, authentication and the JSON error contract.

Every outcome is JSON. A caller's mistake is a 4xx with a code and a
message; anything else is a logged 500 whose body says nothing internal.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Request, Response
from werkzeug.exceptions import MethodNotAllowed as WerkzeugMethodNotAllowed
from werkzeug.exceptions import NotFound as WerkzeugNotFound
from werkzeug.routing import Map, Rule

from shared.adapters.jwt_auth import AuthUnavailable
from shared.errors import ClientError, MethodNotAllowed, NotFound
from shared.http import brainstorm, programmes, projects, run_list, runs
from shared.http.context import RequestContext
from shared.http.responses import error_response, json_response
from shared.services import Services

log = logging.getLogger(__name__)

Handler = Callable[..., Response]

CORS_HEADERS = "Authorization, Content-Type, Idempotency-Key"

ROUTES: dict[str, Handler] = {
    "brainstorm.create": brainstorm.create_session,
    "brainstorm.get": brainstorm.get_session,
    "projects.create_session": projects.create_session,
    "projects.get_session": projects.get_session,
    "projects.get": projects.get_project,
    "programmes.create": programmes.create_programme,
    "programmes.get": programmes.get_programme,
    "runs.list": run_list.list_runs,
    "runs.get": runs.get_run,
    "runs.cancel": runs.cancel,
    "functions.list": runs.list_functions,
}

URL_MAP = Map(
    [
        Rule("/healthz", endpoint="healthz", methods=["GET"]),
        Rule("/v1/brainstorm-sessions", endpoint="brainstorm.create", methods=["POST"]),
        Rule("/v1/brainstorm-sessions/<session_id>", endpoint="brainstorm.get", methods=["GET"]),
        Rule("/v1/project-sessions", endpoint="projects.create_session", methods=["POST"]),
        Rule(
            "/v1/project-sessions/<session_id>",
            endpoint="projects.get_session",
            methods=["GET"],
        ),
        Rule("/v1/projects/<project_id>", endpoint="projects.get", methods=["GET"]),
        Rule("/v1/projects/<project_id>/programme", endpoint="programmes.create", methods=["POST"]),
        Rule("/v1/programmes/<programme_id>", endpoint="programmes.get", methods=["GET"]),
        Rule("/v1/runs", endpoint="runs.list", methods=["GET"]),
        Rule("/v1/runs/<run_id>", endpoint="runs.get", methods=["GET"]),
        Rule("/v1/runs/<run_id>/cancel", endpoint="runs.cancel", methods=["POST"]),
        Rule("/v1/functions", endpoint="functions.list", methods=["GET"]),
    ],
    strict_slashes=False,
)


class Api:
    def __init__(self, services: Services) -> None:
        self.services = services

    def handle(self, request: Request) -> Response:
        if request.method == "OPTIONS":
            return self._with_cors(request, Response(status=204), preflight=True)
        return self._with_cors(request, self._answer(request))

    def _with_cors(self, request: Request, response: Response, preflight: bool = False) -> Response:
        """CORS for the browser frontend: allowed origins only, bearer tokens (no cookies)."""
        origin = request.headers.get("Origin", "").rstrip("/")
        allowed = self.services.settings.cors_origins
        if origin and ("*" in allowed or origin in allowed):
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Vary"] = "Origin"
            response.headers["Access-Control-Expose-Headers"] = "Location"
            if preflight:
                response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
                response.headers["Access-Control-Allow-Headers"] = CORS_HEADERS
                response.headers["Access-Control-Max-Age"] = "3600"
        return response

    def _answer(self, request: Request) -> Response:
        try:
            return self._dispatch(request)
        except ClientError as error:
            return error_response(error)
        except AuthUnavailable:
            log.exception("JWKS could not be fetched")
            return json_response(
                {"error": {"code": "auth_unavailable", "message": "cannot verify tokens now"}},
                503,
                {"Retry-After": "5"},
            )
        except Exception:
            log.exception("unhandled error in the api")
            return json_response({"error": {"code": "internal", "message": "internal error"}}, 500)

    def _dispatch(self, request: Request) -> Response:
        adapter = URL_MAP.bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match()
        except WerkzeugNotFound:
            raise NotFound(f"no route for {request.path}") from None
        except WerkzeugMethodNotAllowed:
            raise MethodNotAllowed(f"{request.method} is not allowed on {request.path}") from None
        if endpoint == "healthz":
            return json_response({"status": "ok"})
        principal = self.services.verifier.verify(request.headers.get("Authorization"))
        ctx = RequestContext(request=request, principal=principal, services=self.services)
        handler = ROUTES[str(endpoint)]
        kwargs: dict[str, Any] = dict(args)
        return handler(ctx, **kwargs)

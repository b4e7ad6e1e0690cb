"""The api function: routing, authentication and the JSON error contract.

Every outcome is JSON. A caller's mistake is a 4xx with a code and a
message; anything else is a logged 500 whose body says nothing internal.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Mapping
from typing import Any

from flask import Request, Response
from pydantic.alias_generators import to_snake
from werkzeug.exceptions import MethodNotAllowed as WerkzeugMethodNotAllowed
from werkzeug.exceptions import NotFound as WerkzeugNotFound
from werkzeug.routing import Map, Rule

from shared import tracing
from shared.engine import RunView
from shared.errors import (
    AuthUnavailable,
    ClientError,
    Conflict,
    MalformedRequest,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    StaleRun,
    TenantQuotaExceeded,
    TenantRateLimited,
    TooManyRequests,
)
from shared.http import (
    brainstorm,
    bulk,
    console_page,
    openapi,
    programmes,
    projects,
    run_events,
    run_list,
    runs,
    usage,
)
from shared.http.context import RequestContext
from shared.http.responses import (
    error_json,
    error_response,
    json_response,
    parse_body,
    parse_query,
    read_body,
    unread_body_response,
)
from shared.http.routing import HandlerResult, Reply, Route, answer_headers
from shared.http.run_list import RunList
from shared.http.streams import StreamGate
from shared.models import paths
from shared.models.api import (
    BrainstormSessionView,
    FunctionList,
    Health,
    ProgrammeStarted,
    ProgrammeView,
    ProjectSessionView,
    ProjectView,
    RerunRequest,
    RerunStarted,
    RunCancelled,
    RunOutputs,
    RunResumed,
    SessionStarted,
    SignalDelivered,
    SignalPayload,
)
from shared.models.brainstorm import CreateBrainstormSession
from shared.models.programme import ProgrammeOptions
from shared.models.project import IdeaWizardAnswers
from shared.models.runs import (
    BulkRequest,
    BulkStarted,
    EventsQuery,
    LiveFinalEvent,
    LiveItemEvent,
    LiveResetEvent,
    OperationView,
    RunEnded,
    RunListQuery,
    UsageQuery,
    UsageReport,
)
from shared.services import Services

log = logging.getLogger(__name__)

CORS_HEADERS = "Authorization, Content-Type, Idempotency-Key, Last-Event-ID"
# The data of the run and subject streams' events (docs/api.md, "Live output").
STREAM_EVENTS = (RunView, LiveItemEvent, LiveResetEvent, LiveFinalEvent, RunEnded)
# What a create route answers when the tenant's admission limits refuse it.
ADMISSION = (TenantRateLimited, TenantQuotaExceeded)


def _events_route(path: str, handler: Any, summary: str, tag: str) -> Route:
    """A Server-Sent Events stream of a run's (or a subject's) run events and live items."""
    return Route(
        "GET",
        path,
        handler,
        summary,
        None,
        query=EventsQuery,
        events=STREAM_EVENTS,
        media_type="text/event-stream",
        errors=(TooManyRequests,),
        # Nor may a proxy transform (compress, buffer) the stream.
        cache_control="no-store, no-transform",
        tag=tag,
    )


def healthz() -> Health:
    return Health(status="ok")


@functools.cache
def _openapi_text() -> str:
    return json.dumps(openapi.build(ROUTES))


def openapi_document() -> Response:
    """Built on first request (not at import: the api's cold start stays short)."""
    return Response(_openapi_text(), mimetype="application/json")


# The API, one entry per operation: dispatch and /openapi.json both read it.
ROUTES: tuple[Route, ...] = (
    Route("GET", "/healthz", healthz, "Liveness", Health, auth=False, tag="meta"),
    Route(
        "GET",
        "/console",
        console_page.page,
        "The operators' console: a web page whose data calls send the user's token",
        None,
        auth=False,
        media_type="text/html",
        # The page holds no data (its calls do): a browser may keep it, revalidated.
        cache_control="no-cache",
        tag="meta",
    ),
    Route(
        "GET",
        "/openapi.json",
        openapi_document,
        "This document: OpenAPI 3.1, generated from the route table and its models",
        None,
        auth=False,
        tag="meta",
    ),
    Route(
        "POST",
        "/v1/brainstorm-sessions",
        brainstorm.create_session,
        "Start a brainstorm: a session and its run",
        SessionStarted,
        status=202,
        headers=("Location",),
        body=CreateBrainstormSession,
        idempotency_key=True,
        errors=(Conflict, *ADMISSION),
        tag="brainstorm",
    ),
    Route(
        "GET",
        "/v1/brainstorm-sessions/{sessionId}",
        brainstorm.get_session,
        "A brainstorm session: status, progress and, once completed, its seeds",
        BrainstormSessionView,
        tag="brainstorm",
    ),
    _events_route(
        "/v1/brainstorm-sessions/{sessionId}/events",
        brainstorm.session_events,
        "The session's run events and its seeds as the model writes them (Server-Sent Events)",
        "brainstorm",
    ),
    Route(
        "POST",
        "/v1/project-sessions",
        projects.create_session,
        "Start a project from the idea wizard's answers (snake_case keys, as the app sends them)",
        SessionStarted,
        status=202,
        headers=("Location",),
        body=IdeaWizardAnswers,
        idempotency_key=True,
        errors=(Conflict, *ADMISSION),
        tag="projects",
    ),
    Route(
        "GET",
        "/v1/project-sessions/{sessionId}",
        projects.get_session,
        "A project session: status, progress and, once completed, the project's id",
        ProjectSessionView,
        tag="projects",
    ),
    _events_route(
        "/v1/project-sessions/{sessionId}/events",
        projects.session_events,
        "The session's run events and streamed concept sections (Server-Sent Events)",
        "projects",
    ),
    Route(
        "GET",
        "/v1/projects/{projectId}",
        projects.get_project,
        "A project: its concept and ProjectDNA",
        ProjectView,
        tag="projects",
    ),
    Route(
        "POST",
        "/v1/projects/{projectId}/programme",
        programmes.create_programme,
        "Generate the project's next programme version (or join the one generating)",
        ProgrammeStarted,
        status=202,
        body=ProgrammeOptions,
        body_optional=True,
        headers=("Location",),
        errors=(MalformedRequest, Conflict, *ADMISSION),
        tag="programmes",
    ),
    Route(
        "GET",
        "/v1/programmes/{programmeId}",
        programmes.get_programme,
        "A programme: its days with their sessions",
        ProgrammeView,
        tag="programmes",
    ),
    _events_route(
        "/v1/programmes/{programmeId}/events",
        programmes.programme_events,
        "The programme's run events and streamed sessions, days interleaved (Server-Sent Events)",
        "programmes",
    ),
    Route(
        "GET",
        "/v1/runs",
        run_list.list_runs,
        "The tenant's runs, newest first, filtered, one page at a time",
        RunList,
        query=RunListQuery,
        errors=(MalformedRequest,),
        tag="runs",
    ),
    Route(
        "POST",
        "/v1/runs/bulk-cancel",
        bulk.bulk_cancel,
        "Cancel every QUEUED or RUNNING run that matches, as a durable operation",
        BulkStarted,
        status=202,
        body=BulkRequest,
        idempotency_key=True,
        tag="runs",
    ),
    Route(
        "POST",
        "/v1/runs/bulk-resume",
        bulk.bulk_resume,
        "Resume every FAILED or CANCELLED run that matches, as a durable operation",
        BulkStarted,
        status=202,
        body=BulkRequest,
        idempotency_key=True,
        tag="runs",
    ),
    Route(
        "GET",
        "/v1/operations/{operationId}",
        bulk.get_operation,
        "A bulk operation's progress: matched, selected, succeeded, skipped",
        OperationView,
        tag="runs",
    ),
    Route(
        "GET",
        "/v1/runs/{runId}",
        runs.get_run,
        "A run's timeline: status, deadline, deliveries and every step",
        RunView,
        tag="runs",
    ),
    Route(
        "GET",
        "/v1/runs/{runId}/outputs",
        runs.get_outputs,
        "The run's input and what each of its steps read and returned, as committed",
        RunOutputs,
        tag="runs",
    ),
    Route(
        "POST",
        "/v1/runs/{runId}/cancel",
        runs.cancel,
        "Cancel a run that has not finished",
        RunCancelled,
        status=202,
        errors=(Conflict,),
        tag="runs",
    ),
    Route(
        "POST",
        "/v1/runs/{runId}/resume",
        runs.resume,
        "Queue a FAILED or CANCELLED run again: completed steps are kept, the rest run",
        RunResumed,
        status=202,
        errors=(Conflict,),
        tag="runs",
    ),
    Route(
        "POST",
        "/v1/runs/{runId}/rerun",
        runs.rerun,
        "Rerun a finished run from a step, with input overrides: a new run reusing its "
        "checkpoints before the step, and a new session or programme version",
        RerunStarted,
        status=202,
        headers=("Location",),
        body=RerunRequest,
        idempotency_key=True,
        errors=(Conflict, *ADMISSION),
        tag="runs",
    ),
    Route(
        "POST",
        "/v1/runs/{runId}/signals/{name}",
        runs.signal,
        "Deliver a signal to a run WAITING for it (once: 409 after); the run continues at once",
        SignalDelivered,
        status=202,
        body=SignalPayload,
        errors=(Conflict,),
        tag="runs",
    ),
    _events_route(
        "/v1/runs/{runId}/events",
        run_events.stream_events,
        "The run's changes and streamed items as Server-Sent Events, until it is terminal",
        "runs",
    ),
    Route(
        "GET",
        "/v1/usage",
        usage.get_usage,
        "Runs, tokens and estimated cost per UTC day and workflow (from, to: YYYY-MM-DD)",
        UsageReport,
        query=UsageQuery,
        tag="runs",
    ),
    Route(
        "GET",
        "/v1/functions",
        runs.list_functions,
        "The workflows this deployment runs, with their steps",
        FunctionList,
        tag="runs",
    ),
)

URL_MAP = Map(
    [Rule(route.rule, endpoint=route, methods=[route.method]) for route in ROUTES],
    strict_slashes=False,
    # `//v1//runs` is not a route; merging would answer it with a redirect.
    merge_slashes=False,
)


class Api:
    def __init__(self, services: Services) -> None:
        self.services = services
        settings = services.settings
        console_page.configure(settings.project, settings.trace_exporter)
        # One per process: the streams this instance holds open.
        self.streams = StreamGate(settings.stream_capacity, settings.stream_capacity_per_tenant)

    def handle(self, request: Request) -> Response:
        """Every answer of the api, with the headers its route declares (`answer_headers`)."""
        route = _route_of(request)
        # The request's span continues the caller's trace (its `traceparent`,
        # or Cloud Run's X-Cloud-Trace-Context); a run it creates is in it.
        template = route.path if route is not None else "unmatched"
        with tracing.span(
            f"{request.method} {template}",
            parent=tracing.from_headers(request.headers),
            kind="server",
            attributes={"http.request.method": request.method, "http.route": template},
        ) as span:
            if request.method == "OPTIONS":
                response = self._with_cors(request, Response(status=204), preflight=True)
            else:
                response = self._with_cors(request, self._answer(request))
            response.headers.update(answer_headers(route))
            span.set("http.response.status_code", response.status_code)
            if response.status_code >= 500:
                span.fail(f"HTTP {response.status_code}")
        return response

    def _with_cors(self, request: Request, response: Response, preflight: bool = False) -> Response:
        """CORS for the browser frontend: allowed origins only, bearer tokens (no cookies)."""
        origin = request.headers.get("Origin", "").rstrip("/")
        allowed = self.services.settings.cors_origins
        if origin and ("*" in allowed or origin in allowed):
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Vary"] = "Origin"
            response.headers["Access-Control-Expose-Headers"] = "Location, Retry-After"
            if preflight:
                response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
                response.headers["Access-Control-Allow-Headers"] = CORS_HEADERS
                response.headers["Access-Control-Max-Age"] = "3600"
        return response

    def _answer(self, request: Request) -> Response:
        try:
            read_body(request)
            return self._dispatch(request)
        except PayloadTooLarge as error:
            return unread_body_response(error)
        except ClientError as error:
            return error_response(error)
        except StaleRun:
            # The engine reloads and retries a few times before giving up; a run
            # that kept changing under this request (a busy runner) is a 409 the
            # caller can retry, never a 500.
            log.warning("run kept changing while a request tried to change it")
            return error_response(
                Conflict("the run changed while this request was handled; try again")
            )
        except AuthUnavailable:
            log.exception("JWKS could not be fetched")
            return error_json(
                503, "auth_unavailable", "cannot verify tokens now", headers={"Retry-After": "5"}
            )
        except Exception:
            log.exception("unhandled error in the api")
            return error_json(500, "internal", "internal error")

    def _dispatch(self, request: Request) -> Response:
        adapter = URL_MAP.bind_to_environ(request.environ)
        try:
            route, args = adapter.match()
        except WerkzeugNotFound:
            raise NotFound(f"no route for {_shown(request.path)}") from None
        except WerkzeugMethodNotAllowed as exc:
            error = MethodNotAllowed(
                f"{_shown(request.method)} is not allowed on {_shown(request.path)}"
            )
            response = error_response(error)
            response.headers["Allow"] = ", ".join(sorted({*(exc.valid_methods or ()), "OPTIONS"}))
            return response
        assert isinstance(route, Route)
        kwargs: dict[str, Any] = {to_snake(name): value for name, value in args.items()}
        if route.auth:
            principal = self.services.verifier.verify(request.headers.get("Authorization"))
            ctx = RequestContext(request=request, principal=principal, services=self.services)
            kwargs["ctx"] = ctx
        _check_path_ids(args)
        if route.body is not None:
            kwargs["body"] = parse_body(request, route.body, optional=route.body_optional)
        if route.query is not None:
            kwargs["query"] = parse_query(request, route.query, lists=route.list_params)
        if not route.streams:
            return _reply(route, route.handler(**kwargs))
        # A stream holds a server thread while open: admitted within the caps,
        # its slot given back when the server closes the response (ended,
        # failed, or its client gone), or at once if the handler refuses.
        ticket = self.streams.admit(kwargs["ctx"].principal.tenant_id)
        try:
            response = _reply(route, route.handler(**kwargs))
        except BaseException:
            ticket.release()
            raise
        response.call_on_close(ticket.release)
        return response


def _route_of(request: Request) -> Route | None:
    """The route the request's method and path name, if any: its answer's headers depend on it."""
    try:
        route, _ = URL_MAP.bind_to_environ(request.environ).match()
    except (WerkzeugNotFound, WerkzeugMethodNotAllowed):
        return None
    assert isinstance(route, Route)
    return route


def _reply(route: Route, result: HandlerResult) -> Response:
    """The handler's answer as declared: its model, sent with the route's status."""
    if isinstance(result, Response):
        if route.response is not None:
            raise TypeError(f"{route.operation_id} returned a raw response")
        return result
    reply = result if isinstance(result, Reply) else Reply(result)
    if route.response is None or not isinstance(reply.body, route.response):
        raise TypeError(f"{route.operation_id} returned {type(reply.body).__name__}")
    if not set(reply.headers) <= set(route.headers):
        raise TypeError(f"{route.operation_id} sent undeclared headers {sorted(reply.headers)}")
    return json_response(reply.body, route.status, dict(reply.headers))


def _check_path_ids(args: Mapping[str, Any]) -> None:
    """A path id that cannot name a document is answered like a missing document.

    Checked before any handler runs, so no route can pass such an id to
    Firestore (which answers InvalidArgument, not "missing", for many of them).
    """
    for name, value in args.items():
        if not paths.is_document_id(str(value)):
            raise NotFound(f"{name.removesuffix('Id')} not found")


def _shown(text: str, limit: int = 100) -> str:
    """Request text echoed in a message, cut short: a URL may be megabytes long."""
    return text if len(text) <= limit else text[:limit] + "…"

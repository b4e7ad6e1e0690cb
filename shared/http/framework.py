"""What functions-framework's Flask app answers around our handler, in the JSON error shape.

The framework routes every path to the api function except a few it
answers itself (`/robots.txt`, `/favicon.ico`, a path its `<path:path>`
rule cannot match, such as one holding a newline), and it turns an
exception outside our handler into a plain-text 500. Its Flask app is only
reachable while it imports the entry point, so the entry point calls
`configure` then.
"""

from __future__ import annotations

from flask import Flask, Response
from werkzeug.exceptions import HTTPException, InternalServerError

from shared.errors import ClientError, MalformedRequest, MethodNotAllowed, NotFound, PayloadTooLarge
from shared.http.responses import error_json, error_response, unread_body_response
from shared.http.routing import answer_headers

# functions-framework marks a crash this way for the platform's request log.
CRASH_HEADER = {"X-Google-Status": "crash"}

_OURS: dict[int, type[ClientError]] = {
    400: MalformedRequest,
    404: NotFound,
    405: MethodNotAllowed,
}


def configure(app: Flask) -> None:
    # `//v1//runs` would otherwise be a 308 redirect with an HTML body.
    app.url_map.merge_slashes = False
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(InternalServerError, internal_error)
    app.after_request(with_answer_headers)


def with_answer_headers(response: Response) -> Response:
    """An answer the framework gave without our handler gets the headers ours carry.

    Ours already hold them (the route table decides, `Api.handle`), so only
    what is missing is added: `nosniff`, and `no-store` as for any answer
    outside a route.
    """
    for name, value in answer_headers(None).items():
        response.headers.setdefault(name, value)
    return response


def http_error(error: HTTPException) -> Response:
    """A status Werkzeug chose (routing, limits) as our JSON error, never its HTML page."""
    status = error.code or 500
    message = (error.name or "request refused").lower()
    if status >= 500:
        return internal_error(error)
    if status == 413:
        return unread_body_response(PayloadTooLarge(message))
    if status in _OURS:
        return error_response(_OURS[status](message))
    return error_json(status, message.replace(" ", "_"), message)


def internal_error(error: HTTPException) -> Response:
    """An exception outside our handler: Flask logs it; the answer says nothing internal."""
    return error_json(500, "internal", "internal error", headers=CRASH_HEADER)

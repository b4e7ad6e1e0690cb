"""Entry point `api` (HTTP): wires the HTTP layer to the services, nothing else."""

import functools

import flask
import functions_framework
from flask import Request, Response

import shared.workflows  # noqa: F401 - registers the workflows with the engine
from shared.http import framework, server
from shared.http.app import Api
from shared.services import from_environment

# Read and check every setting now: a bad value stops the instance at start,
# naming the variable, instead of failing requests or runs later.
_settings = from_environment().settings

# functions-framework builds its gunicorn server after importing this module:
# the one moment to give it the api's limits and error shape.
server.install(_settings)

# functions-framework imports this module inside its Flask app's context: the
# one moment its app (and so the answers it gives before ours) can be set up.
if flask.has_app_context():
    framework.configure(flask.current_app)


@functools.cache
def _api() -> Api:
    return Api(from_environment())


@functions_framework.http
def api(request: Request) -> Response:
    return _api().handle(request)

"""Entry point `api` (HTTP): wires the HTTP layer to the services, nothing else."""

import functools

import functions_framework
from flask import Request, Response

import shared.workflows  # noqa: F401 - registers the workflows with the engine
from shared.http.app import Api
from shared.services import from_environment

# Read and check every setting now: a bad value stops the instance at start,
# naming the variable, instead of failing requests or runs later.
from_environment()


@functools.cache
def _api() -> Api:
    return Api(from_environment())


@functions_framework.http
def api(request: Request) -> Response:
    return _api().handle(request)

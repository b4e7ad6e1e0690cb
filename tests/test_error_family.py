"""One error family: every error says what it becomes, and describe() trusts only it."""

from __future__ import annotations

import pytest

from shared import errors
from shared.errors import Becomes, GenjobsError, describe


def _family() -> list[type[GenjobsError]]:
    found: list[type[GenjobsError]] = []
    pending: list[type[GenjobsError]] = [GenjobsError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return [cls for cls in found if cls.__module__ == errors.__name__ and cls is not GenjobsError]


@pytest.mark.parametrize("error_type", _family(), ids=lambda cls: cls.__name__)
def test_every_error_type_declares_what_it_becomes(error_type: type[GenjobsError]):
    assert isinstance(error_type.becomes, Becomes)


def test_client_errors_become_their_http_status():
    assert errors.NotFound("x").status == 404
    assert errors.AlreadyFinished("COMPLETED").status == 409
    assert errors.AlreadyFinished("COMPLETED").becomes is Becomes.CLIENT_ERROR
    assert str(errors.AlreadyFinished("FAILED")) == "run already finished with status FAILED"


def test_describe_keeps_the_projects_own_messages_as_written():
    assert describe(errors.NonRetriableError("the session no longer exists")) == (
        "the session no longer exists"
    )


def test_describe_names_the_type_of_a_foreign_error_even_if_defined_in_shared():
    # Decided by type, not by the module the class lives in.
    foreign = type("Boom", (RuntimeError,), {"__module__": "shared.engine.anything"})
    assert describe(foreign("disk full")) == "Boom: disk full"
    assert describe(KeyError("x")) == "KeyError: 'x'"


def test_describe_is_one_bounded_line():
    assert len(describe(errors.TransientError("x" * 2000))) == 500

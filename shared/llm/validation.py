"""Turning a pydantic validation failure into one line a person can read in a timeline."""

from __future__ import annotations

from pydantic import ValidationError


def describe_validation_error(exc: ValidationError) -> str:
    """One line for a run's timeline: the first error, and how many more there were.

    pydantic's own message is many lines long and quotes the input, which can
    be a whole LLM answer.
    """
    errors = exc.errors(include_url=False, include_input=False)
    if not errors:
        return "invalid value"
    first = errors[0]
    location = ".".join(str(part) for part in first.get("loc", ()))
    message = str(first.get("msg", "invalid value"))
    summary = f"{location}: {message}" if location else message
    more = len(errors) - 1
    if more:
        summary += f" (and {more} more error{'s' if more > 1 else ''})"
    return summary

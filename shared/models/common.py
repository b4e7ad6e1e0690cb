"""Types shared by every domain model: statuses and the wire conventions."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, StringConstraints
from pydantic.alias_generators import to_camel

from shared.models import paths
from shared.wire import CamelModel, Document, projected

__all__ = [
    "CamelModel",
    "Document",
    "GenerationStatus",
    "RequestModel",
    "ResourceId",
    "WholeNumber",
    "projected",
]


class GenerationStatus(StrEnum):
    IN_PROGRESS = "IN_PROGRESS"
    # A programme created with `review: true`, its run waiting for the planner's review.
    AWAITING_REVIEW = "AWAITING_REVIEW"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


# An id in a request body: a document id, as path ids are (`paths.DOCUMENT_ID`).
ResourceId = Annotated[str, StringConstraints(pattern=f"^{paths.DOCUMENT_ID.pattern}$")]


def _whole(value: Any) -> Any:
    """JSON has one number type: 13.0 is the integer 13 (as JSON Schema says), 13.5 is not."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# An integer in a strict request model: no "13", no true, but 13.0 is 13.
WholeNumber = Annotated[int, BeforeValidator(_whole)]


class RequestModel(BaseModel):
    """A request body: strict types (no "5" for 5), unknown fields rejected, camelCase keys."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=False, extra="forbid", strict=True
    )

"""Types shared by every domain model: statuses and the wire conventions."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class GenerationStatus(StrEnum):
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class CamelModel(BaseModel):
    """Python names in code, camelCase on the wire and in Firestore (as the frontend uses)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class RequestModel(BaseModel):
    """A request body: strict types (no "5" for 5), unknown fields rejected, camelCase keys."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=False, extra="forbid", strict=True
    )


class Progress(CamelModel):
    completed_steps: int
    total_steps: int
    current_step: str | None = None

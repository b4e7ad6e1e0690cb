"""The events topic's wire format, shared by its publisher (an adapter) and the worker."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class RunMessage(BaseModel):
    """Body of a message on the events topic: a run to execute, or the sweep tick."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    type: Literal["run", "sweep"] = "run"
    run_id: str | None = Field(default=None, alias="runId")

"""The usage ledger splits what a commit charges by model, each model at its own price.

No emulator: the ledger turns a step's new usage into the run's total and
the day's increments; these check the split it adds (LLM_FALLBACKS can make
one step pay two models) and that a later commit charges only what is new.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from shared.engine import (
    RunPatch,
    RunRecord,
    RunStatus,
    StepMeter,
    StepRecord,
    StepStatus,
    TokenUsage,
    UsageLedger,
)

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
# USD per token (prompt, completion) by model.
PRICES = {"primary": (1e-6, 2e-6), "fallback": (100e-6, 200e-6)}


def _price(usage: TokenUsage) -> float:
    prompt, completion = PRICES.get(usage.model or "", (0.0, 0.0))
    return usage.prompt_tokens * prompt + usage.completion_tokens * completion


def _run(**steps: StepRecord) -> RunRecord:
    return RunRecord(
        run_id="run-1",
        workflow="brainstorm.generate-seeds",
        tenant_id="org-a",
        user_id="user-1",
        subject="brainstormSessions/s-1",
        input={},
        status=RunStatus.RUNNING,
        created_at=NOW,
        deadline_at=NOW,
        steps=steps,
    )


def _step(usage: TokenUsage | None) -> StepRecord:
    return StepRecord(status=StepStatus.COMPLETED, attempts=1, usage=usage)


def _charged(run: RunRecord, usage: TokenUsage | None) -> dict[str, Any]:
    patch = RunPatch(steps={"generate-seeds": _step(usage)})
    [write] = UsageLedger(_price).charge(run, patch, NOW)
    return write.data


def test_a_step_that_paid_two_models_is_split_and_priced_by_model() -> None:
    meter = StepMeter()
    meter.add_usage("primary", 1000, 2000, 3000)  # a rejected answer, paid for
    meter.add_usage("fallback", 100, 200, 300)  # the fallback's answer

    data = _charged(_run(), meter.usage)

    assert data["models"] == {
        "primary": {
            "promptTokens": 1000,
            "completionTokens": 2000,
            "totalTokens": 3000,
            "costUsd": pytest.approx(0.005),
        },
        "fallback": {
            "promptTokens": 100,
            "completionTokens": 200,
            "totalTokens": 300,
            "costUsd": pytest.approx(0.05),
        },
    }
    assert data["costUsd"] == pytest.approx(0.055)
    assert data["totalTokens"] == 3300


def test_a_later_commit_charges_each_model_only_what_is_new() -> None:
    first = StepMeter()
    first.add_usage("primary", 1000, 2000, 3000)
    charged = first.usage
    assert charged is not None
    second = StepMeter()
    second.add_usage("fallback", 100, 200, 300)

    data = _charged(
        _run(**{"generate-seeds": _step(charged)}),
        second.usage.plus(charged) if second.usage else None,
    )

    assert set(data["models"]) == {"fallback"}  # the primary's share was charged before
    assert data["costUsd"] == pytest.approx(0.05)


def test_usage_recorded_before_the_split_counts_as_its_model() -> None:
    legacy = TokenUsage(
        prompt_tokens=10, completion_tokens=20, total_tokens=30, calls=1, model="primary"
    )

    data = _charged(_run(), legacy)

    assert data["models"]["primary"]["totalTokens"] == 30

"""The largest checkpoint each LLM step can write, and the largest run document.

Every list and string of an answer model is capped (`shared.llm.repair`),
so a schema-valid answer has a largest form: every list at its maxItems,
every string at its cap, filled with the character that costs the most in
a checkpoint's JSON text (a control character, six bytes as "\\u0001"; a
character outside the BMP costs four). That answer is built from the schema
the model is sent (`largest_for_schema`), validated against the answer
model, wrapped in the step's output as the step does, and measured in UTF-8
bytes, which is what Firestore counts. `tests/test_checkpoint_sizes.py`
holds each against the engine's limits; this prints them:

    python -m devtools.checkpoint_sizes
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from shared.engine import (
    INLINE_OUTPUT_BYTES,
    MAX_FAILED_MODELS,
    MAX_OUTPUT_BYTES,
    MAX_REPAIRS,
    RUN_OUTPUTS_BUDGET,
    FailedModel,
    StepRecord,
    StepStatus,
    TokenUsage,
    checkpoint_bytes,
)
from shared.llm.openai_model import MODEL_NAME_LIMIT
from shared.llm.schema_example import largest_for_schema
from shared.llm.structured_output import provider_schema
from shared.models.brainstorm import GeneratedSeeds, seed_batch_schema
from shared.models.programme import (
    DaySessions,
    GeneratedDay,
    GeneratedStructure,
    daily_structure_schema,
)
from shared.models.project import ExtractedDNA, GeneratedConcept, ProjectDNA, concept_schema

__all__ = ["LLM_STEPS", "Checkpoint", "largest_checkpoints", "largest_step_record_bytes"]

# The most expensive characters: in JSON text (the checkpoint), and in UTF-8.
FILLS = ("\x01", "\U0001d54f")
# Firestore's limit on a document (the run document, an outputs document).
DOCUMENT_LIMIT = 1_048_576
MODEL = "m" * MODEL_NAME_LIMIT
# The largest number of steps of each LLM workflow (a 21-day programme has a
# load, a structure, 21 days and a save).
STEPS = {
    "brainstorm.generate-seeds": 4,
    "project.generate-from-idea": 5,
    "programme.generate-from-concept": 24,
}


@dataclass(frozen=True)
class LLMStep:
    workflow: str
    step: str
    # The largest answer schema the step sends (the largest seedCount or duration).
    schema: type[BaseModel]
    # The step's output built from a validated answer, as the step builds it.
    output: Callable[[Any], BaseModel]


LLM_STEPS = (
    LLMStep(
        "brainstorm.generate-seeds",
        "generate-seeds",
        seed_batch_schema(15),
        lambda answer: GeneratedSeeds(seeds=answer.seeds, ai_model=MODEL),
    ),
    LLMStep(
        "project.generate-from-idea",
        "extract-dna",
        ProjectDNA,
        lambda answer: ExtractedDNA(dna=answer, ai_model=MODEL),
    ),
    LLMStep(
        "project.generate-from-idea",
        "generate-concept",
        concept_schema(21),
        lambda answer: GeneratedConcept(concept=answer, ai_model=MODEL),
    ),
    LLMStep(
        "programme.generate-from-concept",
        "generate-daily-structure",
        daily_structure_schema(21),
        lambda answer: GeneratedStructure(structure=answer, ai_model=MODEL),
    ),
    LLMStep(
        "programme.generate-from-concept",
        "generate-day-N",
        DaySessions,
        lambda answer: GeneratedDay(day_number=21, sessions=answer.sessions, ai_model=MODEL),
    ),
)


@dataclass(frozen=True)
class Checkpoint:
    workflow: str
    step: str
    # The largest answer the model can send that validates (JSON text, bytes).
    answer_bytes: int
    # The step's checkpoint built from it (JSON text, UTF-8 bytes).
    checkpoint_bytes: int


def largest_answer(schema: type[BaseModel], fill: str) -> str:
    """The largest schema-valid answer, as the model would send it (JSON text)."""
    return json.dumps(largest_for_schema(provider_schema(schema), fill=fill), ensure_ascii=False)


def largest_checkpoints() -> list[Checkpoint]:
    """Each LLM step's largest checkpoint, over the most expensive fill characters."""
    found: list[Checkpoint] = []
    for step in LLM_STEPS:
        sizes = []
        for fill in FILLS:
            answer = largest_answer(step.schema, fill)
            # Strict validation: the largest answer is valid as it is, no repair needed.
            value = step.schema.model_validate_json(answer)
            checkpoint = step.output(value).model_dump_json()
            sizes.append((len(answer.encode()), checkpoint_bytes(checkpoint)))
        answer_size, checkpoint_size = max(sizes, key=lambda pair: pair[1])
        found.append(Checkpoint(step.workflow, step.step, answer_size, checkpoint_size))
    return found


def largest_step_record_bytes() -> int:
    """A step record as the run document holds it, every field but its output at its largest.

    The error is `describe`'s 500 characters at four bytes each; the repairs
    are the meter's cap of the longest repair line; the usage names the
    longest model name; the failed models are as many as a record keeps,
    each with such an error.
    """
    now = datetime(2030, 1, 1, tzinfo=UTC)
    record = StepRecord(
        status=StepStatus.RETRYING,
        attempts=99,
        started_at=now,
        finished_at=now,
        duration_ms=10**9,
        error=FILLS[1] * 500,
        output="x" * INLINE_OUTPUT_BYTES,
        output_external=True,
        usage=TokenUsage(
            prompt_tokens=10**9,
            completion_tokens=10**9,
            total_tokens=10**9,
            calls=999,
            model=MODEL,
        ),
        repairs=["preparation_notes_formal: trimmed from 1000000 to 1500 characters (cap 1500)"]
        * MAX_REPAIRS
        + ["and 99999 more"],
        model=MODEL,
        failed_models=[FailedModel(model=MODEL, error=FILLS[1] * 500)] * MAX_FAILED_MODELS,
    )
    return record.inline_bytes()


def largest_run_document_bytes(workflow: str) -> int:
    """The most the run document of the workflow's largest run can weigh.

    Outputs stay inline only while the step records, them included, fit
    RUN_OUTPUTS_BUDGET; after that each record can still grow to its
    largest without an output (a long error, failed models), and the run's
    own fields take at most 16 kB (its input, its order of steps, usage).
    """
    return RUN_OUTPUTS_BUDGET + STEPS[workflow] * largest_step_record_bytes() + 16_000


def main() -> None:
    print(f"checkpoint limit {MAX_OUTPUT_BYTES:,} bytes; Firestore document {DOCUMENT_LIMIT:,}")
    print(f"{'workflow':34} {'step':26} {'answer':>11} {'checkpoint':>11}")
    for row in largest_checkpoints():
        print(
            f"{row.workflow:34} {row.step:26} {row.answer_bytes:>11,} {row.checkpoint_bytes:>11,}"
        )
    print(f"\n{'workflow':34} {'steps':>5} {'run document, worst case':>26}")
    for workflow, steps in STEPS.items():
        print(f"{workflow:34} {steps:>5} {largest_run_document_bytes(workflow):>26,}")


if __name__ == "__main__":
    main()

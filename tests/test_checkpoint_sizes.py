"""No schema-valid model answer outgrows what a checkpoint can store.

Every list and string the model is sent has an upper bound in the schema it
receives (maxItems; string caps in descriptions), so each LLM step has a
largest valid answer; its checkpoint fits the engine's limit, and a run
with every step at the inline limit fits a Firestore document. The figures
are printed by `python -m devtools.checkpoint_sizes`.
"""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from devtools.checkpoint_sizes import (
    DOCUMENT_LIMIT,
    LLM_STEPS,
    STEPS,
    largest_checkpoints,
    largest_run_document_bytes,
)
from shared.engine import MAX_OUTPUT_BYTES
from shared.llm.schema_example import largest_for_schema
from shared.llm.structured_output import provider_schema
from shared.models.brainstorm import seed_batch_schema
from shared.models.programme import daily_structure_schema
from shared.models.project import concept_schema

ANSWER_SCHEMAS: list[type[BaseModel]] = [step.schema for step in LLM_STEPS] + [
    *(seed_batch_schema(n) for n in (5, 10)),
    *(concept_schema(d) for d in (5, 7)),
    *(daily_structure_schema(d) for d in (5, 7)),
]


@pytest.mark.parametrize("schema", ANSWER_SCHEMAS, ids=lambda schema: schema.__name__)
def test_every_list_and_string_the_model_is_sent_has_an_upper_bound(
    schema: type[BaseModel],
) -> None:
    # Raises, naming the place, at an array without maxItems or a free string without a cap.
    largest = largest_for_schema(provider_schema(schema))

    schema.model_validate(largest)  # the largest answer is valid as it stands


@pytest.mark.parametrize("checkpoint", largest_checkpoints(), ids=lambda c: c.step)
def test_the_largest_valid_answer_of_each_llm_step_fits_one_checkpoint(checkpoint) -> None:
    assert checkpoint.checkpoint_bytes <= MAX_OUTPUT_BYTES < DOCUMENT_LIMIT


@pytest.mark.parametrize("workflow", sorted(STEPS))
def test_a_run_with_every_step_inline_at_the_limit_fits_one_document(workflow: str) -> None:
    assert largest_run_document_bytes(workflow) < DOCUMENT_LIMIT

"""A `LanguageModel` that needs no key: schema-valid placeholder content for local work.

Lets `make dev` run every workflow end to end on a machine without an OpenAI
key. The content says plainly that it is a placeholder, and the model name
"offline" ends up in each document's `aiModel`, so nobody mistakes it for a
real generation. `factory` never chooses it when a key is configured.
"""

from __future__ import annotations

from typing import Any

import pydantic

from shared.errors import NonRetriableError, SchemaExampleError
from shared.llm.interface import Generation, T, UsageSink
from shared.llm.schema_example import example_for_schema
from shared.llm.validation import describe_validation_error

__all__ = ["OFFLINE_MODEL_NAME", "OfflineLanguageModel", "placeholder"]

OFFLINE_MODEL_NAME = "offline"


class OfflineLanguageModel:
    """Answers any pydantic model with deterministic placeholder content.

    Content comes from the model's JSON schema, which cannot express
    cross-field rules (an end time after its start time, a max above its
    min). A model with such rules defines a classmethod `offline_example()`
    returning a valid instance, and that is used instead.
    """

    @property
    def model_name(self) -> str:
        return OFFLINE_MODEL_NAME

    def generate(
        self,
        schema: type[T],
        *,
        system: str,
        prompt: str,
        temperature: float,
        meter: UsageSink | None = None,
    ) -> Generation[T]:
        if meter is not None:
            meter.add_usage(OFFLINE_MODEL_NAME, 0, 0, 0)
            meter.add_answer(OFFLINE_MODEL_NAME, ())
        return Generation(value=placeholder(schema), model=OFFLINE_MODEL_NAME)


def placeholder(schema: type[T]) -> T:
    """A valid instance of `schema`: its `offline_example()`, else one built from its JSON schema.

    Also what the test kit's `ScriptedModel` answers when nothing is scripted.
    """
    hook: Any = getattr(schema, "offline_example", None)
    if callable(hook):
        value = hook()
        if not isinstance(value, schema):
            raise TypeError(
                f"{schema.__name__}.offline_example() returned {type(value).__name__}, "
                f"not {schema.__name__}"
            )
        return value
    try:
        return schema.model_validate(example_for_schema(schema.model_json_schema()))
    except (SchemaExampleError, pydantic.ValidationError) as exc:
        # A missing hook is a bug in the model, but it must end the run
        # with a message that says what to do rather than loop on retries.
        reason = (
            describe_validation_error(exc)
            if isinstance(exc, pydantic.ValidationError)
            else str(exc)
        )
        raise NonRetriableError(
            f"The offline placeholder provider cannot fill {schema.__name__} ({reason}); "
            f"define {schema.__name__}.offline_example()"
        ) from exc

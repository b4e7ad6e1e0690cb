"""Choose the `LanguageModel` implementation from settings.

The one rule that matters: the offline placeholder provider is used only
when no key is configured at all *and* the settings allow it (off Google
Cloud). A deployed function without a key fails loudly instead of quietly
producing placeholder content for real users.
"""

from __future__ import annotations

from shared.adapters.secrets import SecretReader
from shared.config import LLMSettings
from shared.errors import NonRetriableError
from shared.llm.interface import CallBudget, LanguageModel
from shared.llm.offline_model import OfflineLanguageModel
from shared.llm.openai_model import OpenAILanguageModel

__all__ = ["build_language_model"]

# One reader per process unless the caller brings its own: a warm instance
# then reads the key from Secret Manager once, however often it builds.
_process_secrets = SecretReader()


def build_language_model(
    settings: LLMSettings, secrets: SecretReader | None = None, budget: CallBudget | None = None
) -> LanguageModel:
    """Return the OpenAI-backed model when a key is configured, else the offline one.

    The key comes from `settings.api_key` (local development) or is read from
    Secret Manager through `settings.api_key_secret`, by `secrets` or else a
    process-wide reader, so the secret is fetched once per process, not once
    per build. A rotated key is therefore picked up by new instances.
    `budget` (the deployment's shared LLM budget) is taken before every call.
    """
    api_key = settings.api_key
    if not api_key and settings.api_key_secret:
        reader = secrets if secrets is not None else _process_secrets
        api_key = reader.read(settings.api_key_secret)
    if api_key:
        return OpenAILanguageModel(
            api_key=api_key,
            base_url=settings.base_url,
            model=settings.model,
            timeout_seconds=settings.timeout_seconds,
            schema_retries=settings.schema_retries,
            budget=budget,
        )
    if settings.offline_allowed:
        return OfflineLanguageModel()
    raise NonRetriableError("No OpenAI key configured: set OPENAI_API_KEY_SECRET")

"""Model failover: one call tries the primary model, then each of LLM_FALLBACKS, in order.

The rule, per call (docs/architecture.md, "Model failover", says the same):

- **Switch to the next model** when the model fails in a way another provider
  could avoid: an HTTP 5xx, 408 or 409; a timeout; a connection error; a 200
  that is not a chat completion (a gateway's page); a 429 whose wait is
  longer than LLM_RATE_LIMIT_MAX_WAIT_SECONDS (a shorter one is waited out on
  the same model); a 429 for a spent quota; the model's own LLM budget spent
  for longer than its in-process wait. These are the adapter's
  `TransientError`s (`RateLimited` included).
- **Never switch** on an error that is ours: a request the provider rejects
  (400, 422: a schema it refuses, say), credentials or a model it does not
  know (401, 403, 404), a refusal, a content filter, an answer cut off at its
  length limit, or answers that still violate the schema after the
  schema retries. These are `NonRetriableError`s: another model would be
  asked the same wrong thing, and a misconfiguration must fail loudly rather
  than run on the fallback unnoticed. Anything that is not one of the
  adapter's errors (a bug) is not switched on either.
- The schema retry (LLM_SCHEMA_RETRIES) happens inside each model's call, so
  it applies to whichever model answers; a model that fails over midway
  leaves the next one to start afresh.
- A model whose breaker is open is skipped without a call; the breaker counts
  only provider failures (not rate limits, which are waits, not faults).
- When no model answers, the step's attempt fails as it did before failover
  existed (one attempt, counted once however many models were tried), with
  an error naming every model and why; if every model tried was only
  rate-limited, the run waits (`RateLimited`, the shortest wait) instead.

Each answer reports to the step's meter which model answered and which failed
before it; an answer from any model but the first logs "running on
fallback" (a log-based metric and an alert in infra/monitoring.tf count it).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from shared.errors import NonRetriableError, RateLimited, TransientError, describe
from shared.llm.breaker import Admission, CircuitBreaker
from shared.llm.interface import Generation, LanguageModel, ModelFailure, T, UsageSink

__all__ = ["FailoverModel", "ModelsUnavailable", "Provider"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Provider:
    """One model in the chain, with its breaker (None: never skipped)."""

    model: LanguageModel
    breaker: CircuitBreaker | None = None

    @property
    def name(self) -> str:
        return self.model.model_name


class ModelsUnavailable(TransientError):
    """No model of the chain answered; the step's attempt fails and is retried as usual."""

    def __init__(self, failures: Sequence[ModelFailure]) -> None:
        super().__init__(
            "no model answered: " + "; ".join(f"{f.model}: {f.error}" for f in failures)
        )
        self.failures = tuple(failures)


class FailoverModel:
    """A `LanguageModel` over an ordered chain of models (the primary first)."""

    def __init__(self, providers: Sequence[Provider]) -> None:
        if not providers:
            raise ValueError("a failover chain needs at least one model")
        self.providers = tuple(providers)

    def __repr__(self) -> str:
        return f"FailoverModel({[p.name for p in self.providers]!r})"

    @property
    def model_name(self) -> str:
        return self.providers[0].name

    def generate(
        self,
        schema: type[T],
        *,
        system: str,
        prompt: str,
        temperature: float,
        meter: UsageSink | None = None,
    ) -> Generation[T]:
        failures: list[ModelFailure] = []
        waits: list[float] = []
        faulted = False
        last: TransientError | None = None
        for provider in self.providers:
            admission = Admission.CALL if provider.breaker is None else provider.breaker.admit()
            if admission is Admission.SKIP:
                failures.append(ModelFailure(provider.name, _skipped(provider)))
                continue
            try:
                generation = provider.model.generate(
                    schema, system=system, prompt=prompt, temperature=temperature, meter=meter
                )
            except NonRetriableError as error:
                # Ours to fix: no other model is asked.
                if provider.breaker is not None:
                    provider.breaker.released(admission)
                failures.append(ModelFailure(provider.name, describe(error)))
                if meter is not None:
                    meter.add_answer(None, failures)
                raise
            except RateLimited as limited:
                if provider.breaker is not None:
                    provider.breaker.released(admission)
                failures.append(ModelFailure(provider.name, describe(limited)))
                waits.append(limited.wait_seconds)
                last = limited
                continue
            except TransientError as error:
                if provider.breaker is not None:
                    provider.breaker.failed(admission, describe(error))
                failures.append(ModelFailure(provider.name, describe(error)))
                faulted = True
                last = error
                continue
            if provider.breaker is not None:
                provider.breaker.succeeded(admission)
            if meter is not None:
                meter.add_answer(provider.name, failures)
            if failures:
                # The message is matched by infra/monitoring.tf's metric.
                log.warning(
                    "running on fallback",
                    extra={
                        "model": provider.name,
                        "fallbackFrom": ",".join(f.model for f in failures),
                    },
                )
            return generation
        if meter is not None:
            meter.add_answer(None, failures)
        if len(self.providers) == 1 and last is not None:
            # No fallbacks: the model's own error, exactly as without failover.
            raise last
        if waits and not faulted:
            # Only rate limits (and open breakers): wait for the soonest, spending no attempt.
            raise RateLimited(
                ModelsUnavailable(failures).args[0], wait_seconds=min(waits)
            ) from None
        raise ModelsUnavailable(failures)


def _skipped(provider: Provider) -> str:
    breaker = provider.breaker
    assert breaker is not None
    until = datetime.fromtimestamp(breaker.open_until, UTC)
    if breaker.open_until <= breaker.clock():
        reason = "skipped: its breaker is half-open and another call is probing it"
    else:
        reason = f"skipped: its breaker is open until {until.isoformat(timespec='seconds')}"
    last = breaker.last_error
    return f"{reason} (last failure seen: {last})" if last else reason

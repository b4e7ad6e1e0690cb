"""`LanguageModel` over the Chat Completions API with JSON-schema structured output.

Chat Completions (not the Responses API) is used on purpose: every
OpenAI-compatible server implements it, so `base_url` can point anywhere.
The request carries the pydantic model's strict JSON schema as
`response_format` (see `structured_output` for what is left out and why), and
the answer is validated against the full model, after the repairs that model
declares (`shared.llm.repair`), which are reported to the step's meter.

The SDK's own retries are switched off (`max_retries=0`): retrying with
backoff is the engine's job, and two retry layers would multiply the delay
and hide attempts from the run's timeline. The only retry here is for an
answer that violates the schema, which a fresh answer often fixes and which
the engine would otherwise treat as final.

With LLM_STREAM on, the same request is made with `stream: true`: each
completed item of the answer goes to the step's meter as it closes
(`shared.llm.streaming`), and the whole text is then judged exactly as a
whole answer is (refusal, length, schema, repairs).
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import re
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime

import openai
import pydantic
from openai.types import CompletionUsage
from openai.types.chat import (
    ChatCompletionMessageParam,
    ChatCompletionSystemMessageParam,
    ChatCompletionUserMessageParam,
)

from shared.errors import NonRetriableError, RateLimited, TransientError
from shared.llm.budget import IN_PROCESS_WAIT_SECONDS
from shared.llm.calls import CallFacts, RetryReason, model_call
from shared.llm.interface import CallBudget, Generation, ItemSink, T, UsageSink
from shared.llm.repair import validate_repaired
from shared.llm.streaming import ItemParser, items_of
from shared.llm.structured_output import response_format
from shared.llm.validation import describe_validation_error
from shared.redaction import redact, remember

__all__ = ["OpenAILanguageModel"]

DEFAULT_BASE_URL = "https://api.openai.com/v1"

# Statuses after which the same request may succeed later (the SDK's own
# retry policy uses the same set: 408 timeout, 409 lock timeout, 429, 5xx).
_RETRIABLE_4XX = frozenset({408, 409, 429})
_PROVIDER_MESSAGE_LIMIT = 300
# The model name an answer reports is stored with every seed, project and
# programme (`aiModel`) and in each step's usage: a provider's name is never
# this long, and a misbehaving server's is cut to it.
MODEL_NAME_LIMIT = 100


class _SchemaMismatch(Exception):
    """The answer was not valid JSON or violated the schema; another try may fix it."""

    def __init__(self, summary: str) -> None:
        super().__init__(summary)
        self.summary = summary


class OpenAILanguageModel:
    """Generates structured content with an OpenAI (or compatible) chat model.

    Thread-safe: the engine calls `generate` from several threads at once
    (a programme's days), and the underlying HTTP client pools connections.
    """

    def __init__(
        self,
        api_key: str,
        base_url: str | None,
        model: str,
        timeout_seconds: float,
        schema_retries: int,
        budget: CallBudget | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rate_limit_max_wait_seconds: float = IN_PROCESS_WAIT_SECONDS,
        stream: bool = False,
    ) -> None:
        if not api_key:
            raise ValueError("api_key must not be empty")
        if schema_retries < 0:
            raise ValueError("schema_retries must be >= 0")
        # Whatever its shape, this key is redacted from every log line and error.
        remember(api_key)
        self._model = model
        # The deployment's LLM budget (LLM_REQUESTS_PER_MINUTE / ..._TOKENS_...).
        self._budget = budget
        self._sleep = sleep
        # A 429 asking for longer (in all) is not waited out here: the
        # caller switches to the next model or hands the run back.
        self._max_wait_seconds = rate_limit_max_wait_seconds
        self._timeout_seconds = timeout_seconds
        self._schema_retries = schema_retries
        # LLM_STREAM: ask for a streamed answer and report its items as they close.
        self._stream = stream
        # base_url is passed explicitly (never None) so that the SDK does not
        # fall back to reading OPENAI_BASE_URL itself: shared.config is the
        # one place settings come from.
        self._client = openai.OpenAI(
            api_key=api_key,
            base_url=base_url or DEFAULT_BASE_URL,
            timeout=timeout_seconds,
            max_retries=0,
        )

    def __repr__(self) -> str:
        return (
            f"OpenAILanguageModel(model={self._model!r}, base_url={str(self._client.base_url)!r})"
        )

    @property
    def model_name(self) -> str:
        return self._model

    def generate(
        self,
        schema: type[T],
        *,
        system: str,
        prompt: str,
        temperature: float,
        meter: UsageSink | None = None,
    ) -> Generation[T]:
        messages: list[ChatCompletionMessageParam] = [
            ChatCompletionSystemMessageParam(role="system", content=system),
            ChatCompletionUserMessageParam(role="user", content=prompt),
        ]
        attempts = 1 + self._schema_retries
        first_summary = ""
        # Requests of this call so far, for each request's span and record.
        requests = _Requests()
        for attempt in range(attempts):
            try:
                return self._within_limits(schema, messages, temperature, meter, requests)
            except _SchemaMismatch as mismatch:
                requests.next_reason = "schema"
                first_summary = first_summary or mismatch.summary
                if attempt + 1 < attempts:
                    # Asking again with the same messages at temperature 0
                    # tends to reproduce the same answer; telling the model
                    # what was wrong changes the request and usually fixes it.
                    messages = [
                        *messages[:2],
                        ChatCompletionUserMessageParam(
                            role="user",
                            content=(
                                "Your previous answer was rejected: "
                                f"{mismatch.summary}. Answer again with JSON that "
                                "matches the required schema exactly."
                            ),
                        ),
                    ]
        tries = "try" if attempts == 1 else "tries"
        raise NonRetriableError(
            f"The model's answer did not match the required schema after {attempts} {tries}: "
            f"{first_summary}"
        )

    def _within_limits(
        self,
        schema: type[T],
        messages: list[ChatCompletionMessageParam],
        temperature: float,
        meter: UsageSink | None,
        requests: _Requests,
    ) -> Generation[T]:
        """One request, within the shared budget; a provider's short rate limit waited out here.

        A longer wait (or more waiting in all than LLM_RATE_LIMIT_MAX_WAIT_SECONDS)
        raises `RateLimited`: the next model is tried, or the engine hands the
        run back until then.
        """
        estimate = sum(len(str(m.get("content") or "")) for m in messages) // 4
        waited = 0.0
        while True:
            ticket = None if self._budget is None else self._budget.before_call(estimate)
            tokens = CallFacts()
            try:
                with requests.call(meter, self._model, temperature) as tokens:
                    return self._generate_once(schema, messages, temperature, meter, tokens)
            except RateLimited as limited:
                if waited + limited.wait_seconds > self._max_wait_seconds:
                    raise
                requests.next_reason = "rate_limit"
                self._sleep(limited.wait_seconds)
                waited += limited.wait_seconds
            finally:
                if self._budget is not None:
                    self._budget.after_call(ticket, estimate, tokens.total)

    def _generate_once(
        self,
        schema: type[T],
        messages: list[ChatCompletionMessageParam],
        temperature: float,
        meter: UsageSink | None,
        tokens: CallFacts,
    ) -> Generation[T]:
        sink = meter if self._stream and isinstance(meter, ItemSink) else None
        try:
            if self._stream:
                answer = self._ask_streamed(schema, messages, temperature, sink)
            else:
                answer = self._ask_whole(schema, messages, temperature)
        except openai.APIStatusError as exc:
            # `from None`: the SDK's message quotes the provider's body, which
            # for auth failures can echo the key.
            raise self._status_error(exc) from None
        except openai.APITimeoutError as exc:
            raise TransientError(
                f"LLM provider did not answer within {self._timeout_seconds:g} s (timeout)"
            ) from exc
        except openai.APIConnectionError as exc:
            raise TransientError(
                "Could not connect to the LLM provider (connection error)"
            ) from exc

        usage = answer.usage
        tokens.response_model = answer.model
        if usage is not None:
            tokens.total = usage.total_tokens
            tokens.prompt_tokens = usage.prompt_tokens
            tokens.completion_tokens = usage.completion_tokens
        # Every answer is paid for, including the ones rejected below. It is
        # counted under the configured name (what LLM_PRICES and
        # LLM_FALLBACKS say), not the dated snapshot a provider may report.
        if meter is not None and usage is not None:
            meter.add_usage(
                self._model,
                usage.prompt_tokens,
                usage.completion_tokens,
                usage.total_tokens,
            )
        tokens.finish_reason = answer.finish_reason
        if answer.refusal:
            raise NonRetriableError(f"The model refused: {answer.refusal}")
        if answer.finish_reason == "length":
            raise NonRetriableError(
                "The model's answer was cut off at its length limit (finish_reason length), "
                "so it cannot be complete JSON"
            )
        if answer.finish_reason == "content_filter":
            raise NonRetriableError("The provider's content filter blocked the model's answer")
        if not answer.content:
            raise _SchemaMismatch("the answer was empty")
        try:
            # Validated against the full model, bounds the schema could not
            # carry included; invalid JSON fails here too ("json_invalid").
            # What the model declares repairable (order, over-long text,
            # repeats) is fixed here; only the rest costs another call.
            value, repairs = validate_repaired(schema, answer.content)
        except pydantic.ValidationError as exc:
            raise _SchemaMismatch(describe_validation_error(exc)) from exc
        tokens.repairs = len(repairs)
        if meter is not None and repairs:
            meter.add_repairs(repairs)
        if sink is not None:
            # What the step commits (repairs applied): the `final` readers get.
            sink.stream_finished(items_of(value))
        return Generation(value=value, model=self._answered_by(answer.model))

    def _ask_whole(
        self,
        schema: type[T],
        messages: list[ChatCompletionMessageParam],
        temperature: float,
    ) -> _Answer:
        # The raw-response variant lets us check the body's shape before
        # the SDK parses it; an OpenAI-compatible server that answers
        # without `choices` would otherwise surface as a bare TypeError.
        raw = self._client.chat.completions.with_raw_response.create(
            model=self._model,
            messages=messages,
            response_format=response_format(schema),
            temperature=temperature,
        )
        _check_shape(raw.text)
        completion = raw.parse()
        choice = completion.choices[0]
        return _Answer(
            content=choice.message.content,
            refusal=choice.message.refusal,
            finish_reason=choice.finish_reason,
            usage=completion.usage,
            model=completion.model,
        )

    def _ask_streamed(
        self,
        schema: type[T],
        messages: list[ChatCompletionMessageParam],
        temperature: float,
        sink: ItemSink | None,
    ) -> _Answer:
        """The same request with `stream: true`; each item reported to `sink` as it closes.

        The usage comes with the stream's last chunk (`include_usage`). A
        stream that breaks (dropped, stalled past the timeout, a chunk that
        is not JSON, or ended without a finish reason) is the provider's
        failure, as a failed whole answer is: transient.
        """
        parser = ItemParser(schema)
        if sink is not None:
            sink.stream_started()
        content: list[str] = []
        refusal: list[str] = []
        answer = _Answer()
        try:
            stream = self._client.chat.completions.create(
                model=self._model,
                messages=messages,
                response_format=response_format(schema),
                temperature=temperature,
                stream=True,
                stream_options={"include_usage": True},
            )
            with stream:
                for chunk in stream:
                    answer.model = answer.model or chunk.model
                    if chunk.usage is not None:
                        answer.usage = chunk.usage
                    if not chunk.choices:
                        continue
                    choice = chunk.choices[0]
                    if choice.delta.refusal:
                        refusal.append(choice.delta.refusal)
                    if choice.delta.content:
                        content.append(choice.delta.content)
                        for item in parser.feed(choice.delta.content):
                            if sink is not None:
                                sink.add_item(item)
                    if choice.finish_reason:
                        answer.finish_reason = choice.finish_reason
        except json.JSONDecodeError as exc:
            # A chunk that is not JSON (or not a chunk): the SDK fails on it.
            raise TransientError(
                "LLM provider sent a malformed chunk in its streamed answer"
            ) from exc
        if answer.finish_reason is None:
            raise TransientError("LLM provider's streamed answer ended before it finished")
        if answer.finish_reason == "stop":
            for item in parser.close():
                if sink is not None:
                    sink.add_item(item)
        answer.content = "".join(content)
        answer.refusal = "".join(refusal) or None
        return answer

    def _answered_by(self, reported: str | None) -> str:
        return (reported or self._model)[:MODEL_NAME_LIMIT]

    def _status_error(self, exc: openai.APIStatusError) -> Exception:
        status = exc.status_code
        if status == 429:
            return _rate_limited(exc)
        if status >= 500:
            return TransientError(f"LLM provider failed with a server error (HTTP {status})")
        if status in _RETRIABLE_4XX:
            return TransientError(f"LLM provider asked to retry later (HTTP {status})")
        # The provider's own message is not repeated for auth failures: it
        # may echo part of the key.
        if status == 401:
            return NonRetriableError("LLM provider rejected the credentials (HTTP 401)")
        if status == 403:
            return NonRetriableError("LLM provider denied access to the model (HTTP 403)")
        if status == 404:
            return NonRetriableError(
                f"LLM provider does not know model {self._model!r} or the endpoint (HTTP 404)"
            )
        detail = self._provider_message(exc)
        suffix = f": {detail}" if detail else ""
        return NonRetriableError(f"LLM provider rejected the request (HTTP {status}){suffix}")

    def _provider_message(self, exc: openai.APIStatusError) -> str:
        body = exc.body
        message = body.get("message") if isinstance(body, dict) else None
        if not isinstance(message, str):
            return ""
        message = redact(message)
        if len(message) > _PROVIDER_MESSAGE_LIMIT:
            message = message[:_PROVIDER_MESSAGE_LIMIT] + "..."
        return message


@dataclass
class _Answer:
    """What one request answered, whole or streamed."""

    content: str | None = None
    refusal: str | None = None
    finish_reason: str | None = None
    usage: CompletionUsage | None = None
    model: str | None = None


class _Requests:
    """The requests one `generate` call has sent: each is a span and a `ModelCall`.

    `next_reason` says why the next request is sent (the previous answer
    violated the schema, or a short 429 was waited out).
    """

    def __init__(self) -> None:
        self.sent = 0
        self.next_reason: RetryReason | None = None

    def call(
        self, meter: UsageSink | None, model: str, temperature: float
    ) -> AbstractContextManager[CallFacts]:
        retry, reason = self.sent, self.next_reason
        self.sent += 1
        return model_call(
            meter,
            provider="openai",
            model=model,
            temperature=temperature,
            retry=retry,
            retry_reason=reason if retry else None,
        )


# Waited when a 429 names no time: long enough for a per-minute window to move.
DEFAULT_RATE_LIMIT_WAIT = 20.0
_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)(ms|h|m|s))")


def _rate_limited(exc: openai.APIStatusError) -> Exception:
    """A 429: wait as long as the provider says (Retry-After, x-ratelimit-reset-*).

    A spent quota (`insufficient_quota`) is not a rate limit that passes by
    waiting: it keeps today's accounting (an attempt each).
    """
    body = exc.body
    code = body.get("code") if isinstance(body, dict) else None
    if code == "insufficient_quota":
        return TransientError("LLM provider says the account's quota is spent (HTTP 429)")
    asked = retry_after_seconds(exc.response.headers)
    wait = DEFAULT_RATE_LIMIT_WAIT if asked is None else asked
    return RateLimited(
        f"LLM provider rate-limited the request (HTTP 429); retrying in {wait:g} s",
        wait_seconds=wait,
    )


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """The longest wait the headers ask for: Retry-After (seconds or an HTTP date),
    retry-after-ms, or OpenAI's x-ratelimit-reset-requests / -tokens ("1s", "6m0s", "20ms")."""
    waits: list[float] = []
    milliseconds = headers.get("retry-after-ms")
    if milliseconds:
        with contextlib.suppress(ValueError):
            waits.append(float(milliseconds) / 1000)
    retry_after = headers.get("retry-after")
    if retry_after:
        try:
            waits.append(float(retry_after))
        except ValueError:
            with contextlib.suppress(TypeError, ValueError):
                when = email.utils.parsedate_to_datetime(retry_after)
                waits.append((when - datetime.now(UTC)).total_seconds())
    for name in ("x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"):
        value = headers.get(name)
        if value:
            parts = _DURATION.findall(value.strip())
            if parts and "".join(n + u for n, u in parts) == value.strip():
                scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
                waits.append(sum(float(n) * scale[u] for n, u in parts))
    return max(0.0, max(waits)) if waits else None


def _check_shape(body: str) -> None:
    """Reject a 200 answer that is not a chat completion at all (a proxy's error page, say).

    That is the provider's or a gateway's fault, not the model's, so it is
    transient rather than a schema retry.
    """
    try:
        payload = json.loads(body)
    except ValueError:
        raise TransientError("LLM provider returned a response that is not JSON") from None
    choices = payload.get("choices") if isinstance(payload, dict) else None
    if not isinstance(choices, list) or not choices:
        raise TransientError("LLM provider returned a response without choices")

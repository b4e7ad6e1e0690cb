"""Trigger events: a backend starts runs by publishing to the triggers topic, with no JWT.

IAM is the authentication: only the principals Terraform lists in
`trigger_publishers` may publish to the topic, so the worker trusts the
tenant an event names (`TRIGGER_TENANTS` narrows which tenants a deployment's
events may name). An event starts every workflow that listens to its name
(`Workflow.events`), each through the same create path as the HTTP routes
(`shared.creation`: the route's request model, the tenant's admission
limits, the subject document and its run in one commit).

An event can also be the signal a waiting run waits for (`Workflow.wait_for_signal`
with `event` and `key`): its name is the wait's event, `data[match]` the
run's key, the rest of `data` the signal's payload (`_signal_waiting`).

Exactly once per event: the run and subject ids derive from the tenant, the
workflow and the event's id (Pub/Sub's message id when the event has none),
so a redelivered or republished event meets its first run and starts nothing
new, however many deliveries race.

What becomes of an event:
- started (or already started): acknowledged; each run's result on the
  results topic carries `eventId` and `eventName`;
- bad (not JSON, too large, unknown name, no or malformed tenant, a tenant
  not allowed, data its workflow's model refuses, a project of another
  tenant, over the tenant's daily quota): nothing is written, a `REJECTED`
  result says why, a warning line counts it by `reason`, and the delivery is
  acknowledged (it would fail the same way every time);
- over the tenant's TENANT_CREATES_PER_MINUTE: the worker answers 500, so
  Pub/Sub delivers it again after its backoff and a burst drains instead of
  being lost; dead-lettered after `max_delivery_attempts`, it is rejected
  (`dead_lettered`) and may be published again.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from pydantic import BaseModel, ValidationError

from shared.creation import Creator, Origin, listening
from shared.creation import catalog as _catalog  # noqa: F401 - registers every creator
from shared.engine import Wait, registry
from shared.errors import (
    ClientError,
    Conflict,
    RetryLater,
    TenantQuotaExceeded,
    TenantRateLimited,
)
from shared.models.messages import MalformedDelivery
from shared.models.triggers import (
    TENANT_KEY,
    USER_KEY,
    EventRejected,
    Rejection,
    Trigger,
    TriggerEvent,
)
from shared.services import Services

log = logging.getLogger(__name__)


def handle_trigger(services: Services, envelope: object) -> str:
    """One push of the triggers subscription; what became of it (for logs and tests).

    Raises `RetryLater` when the tenant is over its creates per minute.
    """
    try:
        trigger = Trigger.parse(envelope)
    except MalformedDelivery as bad:
        log.warning(
            "malformed Pub/Sub delivery acknowledged and dropped",
            extra={"problem": bad.problem, "topic": services.settings.triggers_topic},
        )
        return "malformed"
    event_id, name = trigger.claimed()
    tenant: str | None = None
    try:
        event = trigger.event()
        event_id, name = event.id or trigger.message_id, event.name
        awaited = _awaited(event)
        creators = [] if awaited else _listening(event)
        tenant, user = trigger.identity(event)
        allowed = services.settings.trigger_tenants
        if allowed and tenant not in allowed:
            raise Rejection(
                "tenant_not_allowed",
                f"tenant {tenant!r} is not in this deployment's TRIGGER_TENANTS",
            )
        if awaited:
            return _signal_waiting(services, awaited, event, event_id, tenant)
        requests = _requests(creators, event)
    except Rejection as refused:
        _reject(services, refused, event_id, name, tenant)
        return f"rejected {refused.reason}"
    origin = Origin(services, tenant, user, "trigger", key=event_id, event_name=name)
    outcomes: list[str] = []
    for creator, request in requests:
        context = {"eventId": event_id, "eventName": name, "tenantId": tenant}
        workflow = creator.workflow.id
        try:
            created = creator.create(origin, request)
        except TenantRateLimited as limited:
            log.warning(
                "trigger event over the tenant's creates per minute; delivered again later",
                extra={**context, "workflow": workflow},
            )
            raise RetryLater(limited.message) from None
        except ClientError as refused:
            rejection = Rejection(_reason(refused), f"{workflow}: {refused.message}", workflow)
            _reject(services, rejection, event_id, name, tenant)
            outcomes.append("rejected")
            continue
        message = (
            "trigger event's run already started"
            if created.existing
            else "trigger event started a run"
        )
        log.info(message, extra={**context, "workflow": workflow, "runId": created.run_id})
        outcomes.append("existing" if created.existing else "started")
    return "trigger " + " ".join(outcomes)


def handle_dead_lettered_trigger(services: Services, envelope: object, deliveries: int) -> str:
    """An event Pub/Sub gave up delivering: reject it, so its publisher hears of it."""
    trigger = Trigger.parse(envelope)
    event_id, name = trigger.claimed()
    rejection = Rejection(
        "dead_lettered",
        f"the event was not started after {deliveries} deliveries (the tenant stayed over "
        "TENANT_CREATES_PER_MINUTE, or the worker kept failing); publish it again: with the "
        "same id it starts nothing twice",
    )
    _reject(services, rejection, event_id, name, _tenant_hint(trigger))
    return "dead-lettered trigger rejected"


def is_trigger(envelope: object) -> bool:
    """Whether a push (on the dead-letter topic) carries a trigger event rather than a run."""
    try:
        body = Trigger.parse(envelope).body()
    except MalformedDelivery:
        return False
    return isinstance(body, dict) and "name" in body and not {"runId", "type"} & set(body)


def _awaited(event: TriggerEvent) -> list[Wait[Any]]:
    """The waits (of any workflow) that an event of this name is the signal of."""
    return [w for wf in registry.all_workflows() for w in wf.waits() if w.event == event.name]


def _signal_waiting(
    services: Services, waits: list[Wait[Any]], event: TriggerEvent, event_id: str, tenant: str
) -> str:
    """Deliver the event as the signal of the tenant's runs waiting for it with its key.

    A wait names the field of `data` that holds its key (`match`); the rest
    of `data` is the signal's payload, checked by the wait's model. The same
    event delivered again finds the run it signalled (`signalEvent`) and is
    acknowledged; no run waiting (not yet, or no more) is a rejection, like
    a payload that does not fit.
    """
    data = {k: v for k, v in event.data.items() if k not in (TENANT_KEY, USER_KEY)}
    signalled = 0
    for wait in waits:
        if wait.match is None or wait.event is None or wait.signal is None:
            continue  # not declared for events (`_awaited` finds only those that are)
        key = data.get(wait.match)
        if not isinstance(key, str) or not key:
            raise Rejection("invalid_data", f"data.{wait.match}: the key of the awaited run")
        payload = {k: v for k, v in data.items() if k != wait.match}
        for run_id in services.run_index.waiting(tenant, wait.event, key):
            try:
                services.engine.signal(
                    run_id, wait.signal, payload, tenant_id=tenant, event_id=event_id
                )
            except Conflict:
                continue  # another delivery of this event (or another answer) won the race
            except ClientError as refused:
                raise Rejection(_reason(refused), f"{wait.signal}: {refused.message}") from None
            log.info(
                "trigger event delivered a signal",
                extra={"eventId": event_id, "eventName": event.name, "runId": run_id},
            )
            signalled += 1
    if not signalled and services.run_index.signalled_by(tenant, event_id):
        log.info(
            "trigger event's signal already delivered",
            extra={"eventId": event_id, "eventName": event.name},
        )
        return "trigger signal already delivered"
    if not signalled:
        raise Rejection(
            "no_waiting_run",
            f"no run of tenant {tenant!r} waits for {event.name!r} with that key (not yet, "
            "or its wait has ended)",
        )
    return f"trigger signalled {signalled}"


def _listening(event: TriggerEvent) -> list[Creator[Any]]:
    creators = listening(event.name)
    if not creators:
        known = sorted({n for w in registry.all_workflows() for n in w.event_names if listening(n)})
        raise Rejection(
            "unknown_event",
            f"no workflow listens to {event.name!r} (events: {', '.join(known)})",
        )
    return creators


def _requests(
    creators: list[Creator[Any]], event: TriggerEvent
) -> list[tuple[Creator[Any], BaseModel]]:
    """Each workflow's request, validated by its route's model before anything is written."""
    data = {k: v for k, v in event.data.items() if k not in (TENANT_KEY, USER_KEY)}
    text = json.dumps(data)
    requests: list[tuple[Creator[Any], BaseModel]] = []
    for creator in creators:
        try:
            requests.append((creator, creator.request.model_validate_json(text)))
        except ValidationError as exc:
            problems = [
                f"data.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                for e in exc.errors(include_url=False, include_input=False)
            ]
            more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
            raise Rejection(
                "invalid_data",
                f"{creator.workflow.id}: {'; '.join(problems[:3])}{more}",
                creator.workflow.id,
            ) from None
    return requests


def _reason(error: ClientError) -> str:
    if isinstance(error, TenantQuotaExceeded):
        return "quota_exceeded"
    return error.code


def _tenant_hint(trigger: Trigger) -> str | None:
    try:
        return trigger.identity(trigger.event())[0]
    except Rejection:
        return None


def _reject(
    services: Services,
    rejection: Rejection,
    event_id: str,
    name: str | None,
    tenant: str | None,
) -> None:
    """Say why on the results topic and in the log; a failed publish is retried by Pub/Sub."""
    log.warning(
        "trigger event rejected",
        extra={
            "reason": rejection.reason,
            "eventId": event_id,
            "eventName": name,
            "tenantId": tenant,
            "workflow": rejection.workflow,
            "problem": rejection.message,
        },
    )
    services.results_publisher.publish_result(
        EventRejected(
            event_id=event_id,
            event_name=name,
            error=rejection.message,
            reason=rejection.reason,
            tenant=tenant,
            workflow=rejection.workflow,
        )
    )

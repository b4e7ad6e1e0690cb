"""Live output (issue 18), end to end on the emulators: items as the model writes them.

The model is the OpenAI double streaming a schema-valid answer; the api is a
served process read over real HTTP as a browser reads it; the worker runs the
deliveries. No timing is asserted: the double holds its stream after an item
(`hold_after_items`) while the test looks at what is visible, and order is
read from the events themselves.
"""

from __future__ import annotations

from typing import Any

import pytest

from devtools.openai_server import Break, Pace, Reply
from devtools.sse_client import Event, events
from devtools.worker_process import WorkerProcess
from tests.helpers.api_processes import StackSettings
from tests.helpers.live_support import follow, live, read_in_process, session_stream
from tests.helpers.stack import Stack, create_project


@pytest.fixture
def stack_settings(module_stack_settings: StackSettings) -> StackSettings:
    """The module's tests share their settings: one api process serves them all."""
    return module_stack_settings.for_next_test()


def _seed_fields(seed: dict[str, object], item: dict[str, object]) -> dict[str, object]:
    return {key: seed[key] for key in item}


def test_seeds_are_visible_over_sse_and_get_before_the_step_commits_and_final_is_committed(
    stack: Stack, api_process: WorkerProcess
):
    stack.llm.pace = Pace(items_per_second=50)
    created = stack.create_brainstorm(seedCount=10)
    stack.llm.script(Reply(hold_after_items=1))
    session = f"/v1/brainstorm-sessions/{created['sessionId']}"
    seen_mid_stream: list[dict[str, Any]] = []

    def look_while_held(event: Event, received: list[Event]) -> bool:
        if event.name == "item" and not seen_mid_stream:
            # The model has written one seed and waits: the step cannot have committed.
            seen_mid_stream.append(stack.get(session).get_json())
            stack.llm.release.set()
        return True

    received = follow(api_process, stack, session + "/events", look_while_held)

    items = [e.json() for e in received if e.name == "item"]
    finals = [e.json() for e in received if e.name == "final"]
    during = seen_mid_stream[0]
    assert during["status"] == "IN_PROGRESS"
    assert [(i["provisional"], i["index"]) for i in during["liveItems"]] == [(True, 0)]
    assert during["liveItems"][0]["item"] == items[0]["item"]
    assert [i["index"] for i in items] == list(range(10))
    assert {i["attempt"] for i in items} == {1}
    # Every item came before the step's final (its commit), and nothing was withdrawn.
    names = [e.name for e in live(received)]
    assert names == ["item"] * 10 + ["final"]
    seeds = stack.get(session).get_json()["seeds"]
    assert len(finals) == 1
    assert finals[0]["step"] == "generate-seeds"
    committed = zip(seeds, finals[0]["items"], strict=True)
    assert finals[0]["items"] == [_seed_fields(s, i) for s, i in committed]
    assert [i["item"] for i in items] == finals[0]["items"]
    assert all(e.id for e in received)


def test_a_stream_broken_after_four_seeds_is_reset_and_the_retry_replaces_them(stack: Stack):
    created = stack.create_brainstorm(seedCount=6)
    stack.llm.script(Reply(breaks=Break(4, "drop")))
    session = f"/v1/brainstorm-sessions/{created['sessionId']}"

    received = follow(None, stack, session + "/events")  # the in-process app: no server to start

    shown = [(e.name, e.json()["attempt"] if e.name != "final" else None) for e in live(received)]
    assert shown == [("item", 1)] * 4 + [("reset", 1)] + [("item", 2)] * 6 + [("final", None)]
    final = next(e.json() for e in received if e.name == "final")
    body = stack.get(session).get_json()
    assert body["status"] == "COMPLETED"
    assert len(body["seeds"]) == 6 == len(final["items"])
    assert body["liveItems"] == []


def test_a_client_resuming_with_last_event_id_gets_the_rest_exactly_once_on_another_instance(
    stack: Stack, api_process: WorkerProcess
):
    created = stack.create_brainstorm(seedCount=5)
    stack.llm.script(Reply(hold_after_items=2))
    path = f"/v1/brainstorm-sessions/{created['sessionId']}/events"
    # A reference client that never disconnects, opened before anything happens.
    with session_stream(api_process, stack, path) as reference:
        reference_events = events(reference)
        first_three = follow(api_process, stack, path, lambda _e, received: len(received) < 3)
        stack.llm.release.set()
        stack.deliver_all()
        resumed = read_in_process(stack, path, first_three[-1].id or "")
        whole = [e for e in reference_events if e.name != "comment"]

    assert len(first_three) == 3
    assert [e.name for e in live(first_three + resumed)] == [e.name for e in live(whole)]
    assert [e.json() for e in live(first_three + resumed)] == [e.json() for e in live(whole)]
    # Nothing the client had is sent again, the run's view included.
    assert not {e.data for e in first_three} & {e.data for e in resumed}
    assert resumed[-1].name == "end"


def test_a_programmes_days_stream_their_sessions_interleaved(stack: Stack):
    project_id = create_project(stack, duration_days=5)
    # The structure's call streams freely; each day's stream holds after its first session.
    stack.llm.script(Reply(), *[Reply(hold_after_items=1) for _ in range(5)])
    created = stack.post(f"/v1/projects/{project_id}/programme", {}).get_json()
    programme = f"/v1/programmes/{created['programmeId']}"

    def release_when_every_day_showed_one(event: Event, received: list[Event]) -> bool:
        steps = {e.json()["step"] for e in received if e.name == "item"}
        if len(steps - {"generate-daily-structure"}) == 5:
            stack.llm.release.set()
        return True

    received = follow(None, stack, programme + "/events", release_when_every_day_showed_one)

    day_items = [
        e.json()["step"]
        for e in received
        if e.name == "item" and e.json()["step"].startswith("generate-day-")
    ]
    # Every day's first session came before any day's second: the days streamed at once.
    assert len(set(day_items[:5])) == 5
    finals = {e.json()["step"]: e.json()["items"] for e in received if e.name == "final"}
    days = stack.get(programme).get_json()["days"]
    assert len(days) == 5
    for day in days:
        final = finals[f"generate-day-{day['dayNumber']}"]
        # The committed day is the final's sessions, ordered by start time.
        by_start = sorted(final, key=lambda session: session["start_time"])
        assert [s["title"] for s in day["sessions"]] == [s["title"] for s in by_start]


def test_an_event_id_of_another_shape_is_refused_before_any_stream_starts(stack: Stack):
    created = stack.create_brainstorm()
    path = f"/v1/runs/{created['runId']}/events"

    by_header = stack.api.get(path, headers={**stack.token(), "Last-Event-ID": "seven"})
    by_query = stack.get(path + "?lastEventId=7")

    for refused in (by_header, by_query):
        assert refused.status_code == 422
        assert refused.get_json()["error"]["code"] == "invalid_input"

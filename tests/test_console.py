"""The /console page in real headless Chromium, against the api served over HTTP.

The api is a functions-framework process on the emulators; runs are
executed by the worker through the real Pub/Sub topic meanwhile. Each
scenario saves screenshots under tests/artifacts/console/.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from devtools.openai_server import Break, Reply
from devtools.worker_process import WorkerProcess
from shared.llm.schema_example import example_for_schema
from shared.models.brainstorm import seed_batch_schema
from tests.helpers.api_processes import StackSettings
from tests.helpers.auth_support import claims, mint
from tests.helpers.browser import ARTIFACTS
from tests.helpers.stack import Stack, create_project

SHOTS = ARTIFACTS / "console"
BRAINSTORM_STEPS = ["load-session", "generate-seeds", "save-seeds", "update-session"]

expect.set_options(timeout=15_000)


@pytest.fixture
def stack_settings(module_stack_settings: StackSettings) -> StackSettings:
    """The module's tests share their settings: one api process serves them all."""
    return module_stack_settings.for_next_test()


def _shot(page: Page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def _token(stack: Stack, tenant: str = "org-a") -> str:
    return mint(stack.key, claims(sub="operator-1", org_id=tenant))


def _open(page: Page, api: WorkerProcess, fragment: str) -> None:
    page.goto(f"{api.url}/console#{fragment}")
    expect(page.locator("html")).to_have_attribute("data-ready", "true")


def _page(browser: Browser, width: int, height: int) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
    # A Content-Security-Policy violation is reported as a console error.
    page.on(
        "console",
        lambda message: (
            problems.append(message.text)
            if message.type == "error" and "Failed to load resource" not in message.text
            else None
        ),
    )
    yield page
    context.close()
    assert problems == [], problems


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    yield from _page(browser, 1280, 800)


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    yield from _page(browser, 390, 844)


def _step_statuses(page: Page) -> list[str]:
    return page.locator("#steps-table tbody td[data-label=Status]").all_inner_texts()


def test_the_console_lists_a_completed_run_and_shows_its_four_steps(
    stack: Stack, api_process: WorkerProcess, page: Page
):
    created = stack.create_brainstorm()
    stack.deliver_all()
    token = _token(stack)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    _open(page, api_process, f"token={token}")
    row = page.locator("#runs-table tbody tr", has_text=created["runId"])
    expect(row).to_contain_text("COMPLETED")
    expect(row).to_contain_text("brainstorm.generate-seeds")
    _shot(page, "01-runs-list")
    row.get_by_role("link", name=created["runId"]).click()

    steps = page.locator("#steps-table tbody tr")
    expect(steps.locator("td[data-label=Step]")).to_have_text(BRAINSTORM_STEPS)
    expect(steps.locator("td[data-label=Status]")).to_have_text(["COMPLETED"] * 4)
    expect(page.locator("#run-status")).to_have_text("COMPLETED")
    expect(page.locator("#live")).to_contain_text("ended")
    # Tokens: the step that called the model, and the run's total.
    step_tokens = page.locator("tr[data-step=generate-seeds] td[data-label=Tokens]").inner_text()
    expected = stack.run_view(created["runId"])["steps"][1]["usage"]["totalTokens"]
    assert step_tokens == f"{expected:,}"
    expect(page.locator("#run-tokens")).to_have_text(f"{expected:,}")
    _shot(page, "02-completed-run")
    # The token came in the fragment, left it at once, and was never in a URL sent.
    assert token not in page.url
    assert requested
    assert [url for url in requested if token in url] == []


def test_a_running_run_is_watched_live_until_it_completes(
    stack: Stack, api_process: WorkerProcess, page: Page
):
    created = stack.create_brainstorm()
    stack.llm.delay = 1.0  # long enough to watch generate-seeds run
    _open(page, api_process, f"token={_token(stack)}&run={created['runId']}")
    status = page.locator("#run-status")
    expect(status).to_have_text("QUEUED")
    page.evaluate("window.sameDocument = true")

    worker = threading.Thread(target=stack.deliver_all)
    worker.start()
    try:
        expect(status).to_have_text("RUNNING")
        expect(page.locator("tr[data-step=generate-seeds] td[data-label=Status]")).to_have_text(
            "RUNNING"
        )
        _shot(page, "03-run-live-running")
        expect(status).to_have_text("COMPLETED", timeout=30_000)
    finally:
        worker.join()

    assert _step_statuses(page) == ["COMPLETED"] * 4
    assert page.evaluate("window.sameDocument") is True  # updated in place, never reloaded
    _shot(page, "04-run-live-completed")


def test_cancelling_a_run_from_its_page(stack: Stack, api_process: WorkerProcess, page: Page):
    created = stack.create_brainstorm()
    _open(page, api_process, f"token={_token(stack)}&run={created['runId']}")
    expect(page.locator("#run-status")).to_have_text("QUEUED")

    page.get_by_role("button", name="Cancel run").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    _shot(page, "05-cancel-confirm")
    dialog.get_by_role("button", name="Cancel the run").click()

    expect(page.locator("#run-status")).to_have_text("CANCELLED")
    expect(page.get_by_role("button", name="Cancel run")).to_be_hidden()
    assert stack.run_view(created["runId"])["status"] == "CANCELLED"
    _shot(page, "06-cancelled")


def test_resuming_a_cancelled_run_from_its_page(
    stack: Stack, api_process: WorkerProcess, page: Page
):
    created = stack.create_brainstorm()
    assert stack.post(f"/v1/runs/{created['runId']}/cancel", {}).status_code == 202
    _open(page, api_process, f"token={_token(stack)}&run={created['runId']}")
    expect(page.locator("#run-status")).to_have_text("CANCELLED")

    page.get_by_role("button", name="Resume run").click()
    expect(page.locator("#run-status")).to_have_text("QUEUED")
    stack.deliver_all()

    expect(page.locator("#run-status")).to_have_text("COMPLETED")
    assert _step_statuses(page) == ["COMPLETED"] * 4
    expect(page.locator("#run-resumes")).to_contain_text("by operator-1 (was CANCELLED)")


def test_resume_is_hidden_when_the_api_cannot_resume(
    stack: Stack, api_process: WorkerProcess, page: Page
):
    created = stack.create_brainstorm()
    assert stack.post(f"/v1/runs/{created['runId']}/cancel", {}).status_code == 202
    # An api without the resume route answers the page's probe with 404.
    page.route(
        re.compile(r".*/resume$"),
        lambda route: route.fulfill(
            status=404,
            content_type="application/json",
            body='{"error": {"code": "not_found", "message": "no route"}}',
        ),
    )

    _open(page, api_process, f"token={_token(stack)}&run={created['runId']}")

    expect(page.locator("#run-status")).to_have_text("CANCELLED")
    expect(page.get_by_role("button", name="Resume run")).to_be_hidden()


def test_starting_a_brainstorm_from_the_form(stack: Stack, api_process: WorkerProcess, page: Page):
    _open(page, api_process, f"token={_token(stack)}&start")

    page.get_by_label("Prompt").fill("A youth exchange about rivers, music and maps")
    page.get_by_label("Creativity").fill("0")
    page.get_by_label("Seeds").fill("6")
    _shot(page, "07-start-form")
    page.get_by_role("button", name="Start brainstorm").click()

    expect(page).to_have_url(re.compile(r"#run=[0-9a-f]+$"))
    run_id = page.url.rsplit("=", 1)[1]
    expect(page.locator("#run-status")).to_have_text("QUEUED")
    run = stack.run_view(run_id)
    assert run["workflow"] == "brainstorm.generate-seeds"
    stack.deliver_all()
    expect(page.locator("#run-status")).to_have_text("COMPLETED")
    session_id = stack.run_doc(run_id)["subject"].rsplit("/", 1)[1]
    session = stack.get(f"/v1/brainstorm-sessions/{session_id}").get_json()
    assert session["prompt"] == "A youth exchange about rivers, music and maps"
    assert session["creativityTemp"] == 0
    assert len(session["seeds"]) == 6
    _shot(page, "08-started-brainstorm")


def test_starting_a_project_and_then_its_programme_from_the_forms(
    stack: Stack, api_process: WorkerProcess, page: Page
):
    _open(page, api_process, f"token={_token(stack)}&start")
    page.get_by_label("Theme").fill("Climate action through street art")
    page.get_by_label("Preferred countries").fill("Spain, Poland")
    page.get_by_label("Duration in days").fill("5")
    page.get_by_label("Translation support").check()
    page.get_by_role("button", name="Start project").click()

    expect(page).to_have_url(re.compile(r"#run=[0-9a-f]+$"))
    project_run = page.url.rsplit("=", 1)[1]
    expect(page.locator("#run-workflow")).to_have_text("project.generate-from-idea")
    stack.deliver_all()
    expect(page.locator("#run-status")).to_have_text("COMPLETED")
    session_id = stack.run_doc(project_run)["subject"].rsplit("/", 1)[1]
    session = stack.get(f"/v1/project-sessions/{session_id}").get_json()
    project = stack.get(f"/v1/projects/{session['projectId']}").get_json()
    assert project["durationDays"] == 5

    page.get_by_role("link", name="Start a run").click()
    page.get_by_label("Project id").fill(session["projectId"])
    page.get_by_role("button", name="Start programme").click()

    expect(page.locator("#run-workflow")).to_have_text("programme.generate-from-concept")
    stack.deliver_all()
    expect(page.locator("#run-status")).to_have_text("COMPLETED")
    steps = page.locator("#steps-table tbody td[data-label=Step]").all_inner_texts()
    assert [s for s in steps if s.startswith("generate-day-")] == [
        f"generate-day-{n}" for n in range(1, 6)
    ]
    _shot(page, "10-started-programme")


def test_a_rejected_form_shows_the_apis_reasons_at_the_fields(
    stack: Stack, api_process: WorkerProcess, page: Page
):
    _open(page, api_process, f"token={_token(stack)}&start")

    page.get_by_label("Prompt").fill("too short")
    page.get_by_role("button", name="Start brainstorm").click()

    result = page.locator("#brainstorm-form .form-result")
    expect(result).to_contain_text("prompt")
    expect(page.get_by_label("Prompt")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Prompt")).to_have_attribute("aria-describedby", "brainstorm-result")
    assert "#start" in page.url
    assert stack.get("/v1/runs").get_json()["runs"] == []
    _shot(page, "09-rejected-form")


def test_the_runs_list_filters_by_status(stack: Stack, api_process: WorkerProcess, page: Page):
    done = stack.create_brainstorm()
    stack.deliver_all()
    waiting = stack.create_brainstorm()
    _open(page, api_process, f"token={_token(stack)}")
    rows = page.locator("#runs-table tbody tr")
    expect(rows).to_have_count(2)

    page.get_by_label("Status", exact=True).select_option("QUEUED")
    page.get_by_role("button", name="Apply filters").click()

    expect(rows).to_have_count(1)
    expect(rows).to_contain_text(waiting["runId"])
    assert done["runId"] not in rows.inner_text()


def test_the_runs_list_pages_newest_first(stack: Stack, api_process: WorkerProcess, page: Page):
    run_ids = [stack.create_brainstorm()["runId"] for _ in range(21)]
    newest_first = run_ids[::-1]
    _open(page, api_process, f"token={_token(stack)}")
    page.get_by_label("Per page", exact=True).select_option("20")
    page.get_by_role("button", name="Apply filters").click()
    runs = page.locator("#runs-table tbody td[data-label=Run]")

    expect(runs).to_have_text(newest_first[:20])
    page.get_by_role("button", name="Next page").click()
    expect(runs).to_have_text(newest_first[20:])
    expect(page.get_by_role("button", name="Next page")).to_be_disabled()
    page.get_by_role("button", name="Previous page").click()
    expect(runs).to_have_text(newest_first[:20])


def test_every_control_is_labelled_and_a_run_opens_from_the_keyboard(
    stack: Stack, api_process: WorkerProcess, page: Page
):
    created = stack.create_brainstorm()
    stack.deliver_all()
    _open(page, api_process, f"token={_token(stack)}")

    unlabelled = page.evaluate(
        """[...document.querySelectorAll('input, select, textarea')]
             .filter((el) => el.labels.length === 0 && !el.getAttribute('aria-label'))
             .map((el) => el.name || el.id)"""
    )
    assert unlabelled == []
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.get_by_role("link", name=created["runId"]).focus()
    page.keyboard.press("Enter")

    expect(page.locator("#run-title")).to_be_focused()
    expect(page.locator("#steps-table tbody tr")).to_have_count(4)


def test_the_console_fits_a_phone_screen(stack: Stack, api_process: WorkerProcess, phone: Page):
    created = stack.create_brainstorm()
    stack.deliver_all()
    _open(phone, api_process, f"token={_token(stack)}")
    expect(phone.locator("#runs-table tbody tr")).to_have_count(1)
    overflow = "document.documentElement.scrollWidth - window.innerWidth"
    assert phone.evaluate(overflow) <= 0
    _shot(phone, "11-phone-runs")

    phone.get_by_role("link", name=created["runId"]).click()
    expect(phone.locator("#steps-table tbody tr")).to_have_count(4)

    assert phone.evaluate(overflow) <= 0
    # Each step reads as a card: its values with their column names beside them.
    first = phone.locator("#steps-table tbody tr").first
    expect(first.locator("td[data-label=Status]")).to_be_visible()
    assert phone.locator("#steps-table thead").bounding_box()["x"] < 0  # type: ignore[index]
    _shot(phone, "12-phone-run")


# ---- issue 21: the waterfall, step data, the runs and usage charts ------------------


def _seeds_with_a_duplicate(count: int) -> str:
    """A schema-valid seeds answer plus one exact duplicate, which the adapter repairs."""
    answer: dict[str, Any] = example_for_schema(seed_batch_schema(count).model_json_schema())
    answer["seeds"].insert(1, copy.deepcopy(answer["seeds"][0]))
    return json.dumps(answer)


def test_the_run_page_draws_each_steps_attempts_as_a_waterfall(
    stack: Stack, api_process: WorkerProcess, page: Page
):
    # generate-seeds: attempt 1 gets a 500 (retried), attempt 2 an answer that needs a repair.
    stack.llm.script(Reply(status=500), Reply(content=_seeds_with_a_duplicate(5)))
    created = stack.create_brainstorm(seedCount=5)
    stack.deliver_all()
    run = stack.run_view(created["runId"])
    _open(page, api_process, f"token={_token(stack)}&run={created['runId']}")
    expect(page.locator("#run-status")).to_have_text("COMPLETED")

    rows = page.locator("#waterfall-chart .wf-row")
    expect(rows).to_have_count(4)
    assert [rows.nth(i).get_attribute("data-step") for i in range(4)] == BRAINSTORM_STEPS
    for step in run["steps"]:
        bars = page.locator(f".wf-row[data-step={step['id']}] rect.attempt")
        expected = [(str(a["attempt"]), a["status"]) for a in step["history"]]
        assert [
            (b.get_attribute("data-attempt"), b.get_attribute("data-status")) for b in bars.all()
        ] == expected
        calls = page.locator(f".wf-row[data-step={step['id']}] rect.call")
        assert calls.count() == sum(len(a["modelCalls"]) for a in step["history"])
    retried = page.locator(".wf-row[data-step=generate-seeds] rect.attempt")
    assert [b.get_attribute("data-status") for b in retried.all()] == ["RETRYING", "COMPLETED"]
    assert "a-retry" in (retried.first.get_attribute("class") or "")
    assert "a-completed" in (retried.last.get_attribute("class") or "")
    # On the time axis the retry comes first, and every step after the one before it.
    xs = [b.bounding_box()["x"] for b in retried.all()]  # type: ignore[index]
    assert xs == sorted(xs)
    assert xs[0] < xs[1]
    firsts = [page.locator(f".wf-row[data-step={s}] rect.attempt").first for s in BRAINSTORM_STEPS]
    starts = [b.bounding_box()["x"] for b in firsts]  # type: ignore[index]
    assert starts == sorted(starts)
    # The run's trace id is shown (linked only in a real Cloud project).
    expect(page.locator("#run-trace")).to_contain_text(run["traceId"])
    expect(page.locator("#trace-link")).to_have_count(0)
    _shot(page, "13-waterfall")

    page.set_viewport_size({"width": 390, "height": 844})
    expect(rows.first.locator("svg")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    _shot(page, "14-phone-waterfall")


def test_the_run_page_shows_each_steps_input_and_committed_output_with_repairs(
    stack: Stack, api_process: WorkerProcess, page: Page
):
    stack.llm.script(Reply(content=_seeds_with_a_duplicate(5)))
    created = stack.create_brainstorm(seedCount=5)
    stack.deliver_all()
    outputs = stack.get(f"/v1/runs/{created['runId']}/outputs").get_json()
    _open(page, api_process, f"token={_token(stack)}&run={created['runId']}")

    panel = page.locator("#step-data details[data-step=generate-seeds]")
    expect(panel).to_contain_text("1 repair")
    expect(panel).to_contain_text("seeds: dropped 1 exact duplicate")
    expect(panel).to_contain_text("the output of load-session")
    committed = {s["id"]: s for s in outputs["steps"]}["generate-seeds"]
    assert committed["outputBytes"] > 2000  # large: starts collapsed
    assert panel.evaluate("(el) => el.open") is False
    panel.locator("summary").click()
    shown = json.loads(panel.locator("pre.json").inner_text())
    assert shown == committed["output"]  # the answer as committed: 5 seeds, not the 6 sent
    assert len(shown["seeds"]) == 5
    expect(page.locator("#step-data details[data-key=input]")).to_contain_text("sessionId")
    _shot(page, "15-step-data")


def test_the_runs_page_charts_runs_per_hour_by_status(
    stack: Stack, api_process: WorkerProcess, page: Page
):
    stack.create_brainstorm()
    stack.deliver_all()
    stack.create_brainstorm()
    _open(page, api_process, f"token={_token(stack)}")

    hours = page.locator("#hourly-chart g.bucket")
    expect(hours).to_have_count(24)
    now = page.locator("#hourly-chart g.bucket[data-total='2']")
    expect(now).to_have_count(1)
    segments = now.locator("rect.seg")
    assert {
        s.get_attribute("data-series"): s.get_attribute("data-value") for s in segments.all()
    } == {
        "COMPLETED": "1",
        "QUEUED": "1",
    }
    # The current hour is the last column.
    assert hours.last.get_attribute("data-total") == "2"
    expect(page.locator("#hourly-legend")).to_contain_text("COMPLETED")
    _shot(page, "16-runs-per-hour")


# A price for the double's model, so that days have a cost to chart.
PRICES = {"test-model": {"inputPerMillion": 1000, "outputPerMillion": 2000}}


@pytest.mark.parametrize("stack_env", [{"LLM_PRICES": json.dumps(PRICES)}])
def test_the_usage_page_charts_tokens_and_cost_per_day_by_workflow(
    stack: Stack, api_process: WorkerProcess, phone: Page
):
    stack.llm.script(Reply(usage=(300, 700)))
    stack.create_brainstorm()
    stack.deliver_all()
    day = datetime.now(UTC).date().isoformat()
    report = stack.get(f"/v1/usage?from={day}&to={day}").get_json()
    assert [row["day"] for row in report["days"]] == [day]
    assert report["days"][0]["costUsd"] > 0
    _open(phone, api_process, f"token={_token(stack)}&usage")

    today = report["days"][-1]
    tokens = phone.locator(f"#usage-tokens-chart g.bucket[data-bucket='{today['day']}'] rect.seg")
    expect(tokens).to_have_count(1)
    assert tokens.get_attribute("data-series") == "brainstorm.generate-seeds"
    assert tokens.get_attribute("data-value") == str(today["totalTokens"])
    cost = phone.locator(f"#usage-cost-chart g.bucket[data-bucket='{today['day']}'] rect.seg")
    assert float(cost.get_attribute("data-value") or 0) == pytest.approx(today["costUsd"])
    expect(phone.locator("#usage-tokens-chart g.bucket")).to_have_count(14)
    expect(phone.locator("#usage-table tbody tr")).to_have_count(len(report["days"]))
    assert phone.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    _shot(phone, "17-phone-usage")


def test_the_run_page_links_the_runs_trace_when_a_cloud_project_is_configured(
    stack: Stack, api_process: WorkerProcess, page: Page
):
    created = stack.create_brainstorm()
    trace_id = stack.run_view(created["runId"])["traceId"]
    # The page as an api in project "acme-prod" serves it (the stack's is a demo- one).
    page.route(
        re.compile(r".*/console$"),
        lambda route: route.fulfill(
            response=(fetched := route.fetch()),
            body=fetched.text().replace(
                'name="genjobs-trace-project" content=""',
                'name="genjobs-trace-project" content="acme-prod"',
            ),
        ),
    )
    _open(page, api_process, f"token={_token(stack)}&run={created['runId']}")

    link = page.get_by_role("link", name="Open in Cloud Trace")
    expect(link).to_have_attribute(
        "href", f"https://console.cloud.google.com/traces/list?project=acme-prod&tid={trace_id}"
    )
    expect(page.locator("#run-trace")).to_contain_text(trace_id)


# ---- issue 19: runs waiting for review; issue 20: regenerate ---------------------------


def _programme_awaiting_review(stack: Stack, days: int = 5) -> dict[str, Any]:
    """A programme created with review, delivered until its run waits for the planner."""
    project_id = create_project(stack, duration_days=days)
    response = stack.post(f"/v1/projects/{project_id}/programme", {"review": True})
    assert response.status_code == 202, response.get_json()
    created: dict[str, Any] = response.get_json()
    stack.deliver_all()
    assert stack.run_view(created["runId"])["status"] == "WAITING"
    return created


def test_approving_an_edited_structure_from_the_review_list(
    stack: Stack, api_process: WorkerProcess, page: Page
):
    created = _programme_awaiting_review(stack)
    stack.create_brainstorm()  # not waiting: not listed
    _open(page, api_process, f"token={_token(stack)}&review")

    rows = page.locator("#review-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text(created["runId"])
    rows.get_by_role("link", name="Review").click()
    days = page.locator("#review-days fieldset")
    expect(days).to_have_count(5)
    page.locator("#review-days fieldset[data-day='1']").get_by_label("Theme").fill(
        "Street art walk, edited in the console"
    )
    _shot(page, "18-review")
    page.get_by_role("button", name="Approve").click()

    expect(page).to_have_url(re.compile(rf"#run={created['runId']}$"))
    expect(page.locator("#run-status")).to_have_text("QUEUED")
    stack.deliver_all()
    expect(page.locator("#run-status")).to_have_text("COMPLETED")
    programme = stack.get(f"/v1/programmes/{created['programmeId']}").get_json()
    assert programme["status"] == "COMPLETED"
    assert programme["days"][0]["theme"] == "Street art walk, edited in the console"


def test_rejecting_a_structure_from_the_review_page_cancels_the_run(
    stack: Stack, api_process: WorkerProcess, page: Page
):
    created = _programme_awaiting_review(stack)
    _open(page, api_process, f"token={_token(stack)}&review={created['runId']}")
    expect(page.locator("#review-days fieldset")).to_have_count(5)
    requests_before = len(stack.llm.requests)

    page.get_by_role("button", name="Reject").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Reject the structure").click()

    expect(page.locator("#run-status")).to_have_text("CANCELLED")
    stack.deliver_all()
    programme = stack.get(f"/v1/programmes/{created['programmeId']}").get_json()
    assert programme["status"] == "CANCELLED"
    assert programme["days"] == []
    assert len(stack.llm.requests) == requests_before  # no day was generated


def test_regenerating_seeds_with_another_temperature_from_the_run_page(
    stack: Stack, api_process: WorkerProcess, page: Page
):
    source = stack.create_brainstorm(seedCount=5)
    stack.deliver_all()
    _open(page, api_process, f"token={_token(stack)}&run={source['runId']}")
    expect(page.locator("#run-status")).to_have_text("COMPLETED")

    form = page.locator("#rerun-form")
    expect(form.get_by_label("From step")).to_have_value("generate-seeds")
    form.get_by_label("Temperature of the new run").fill("0.2")
    _shot(page, "19-regenerate")
    form.get_by_role("button", name="Regenerate").click()

    expect(page).not_to_have_url(re.compile(rf"#run={source['runId']}$"))
    rerun_id = page.url.rsplit("=", 1)[1]
    expect(page.locator("#run-links")).to_contain_text(source["runId"])
    stack.deliver_all()
    expect(page.locator("#run-status")).to_have_text("COMPLETED")
    rerun = stack.run_view(rerun_id)
    assert rerun["rerunOf"] == source["runId"]
    session_id = stack.run_doc(rerun_id)["subject"].rsplit("/", 1)[1]
    session = stack.get(f"/v1/brainstorm-sessions/{session_id}").get_json()
    assert session["creativityTemp"] == 0.2
    # The source keeps its seeds; the request to the model used the new temperature.
    assert stack.llm.requests[-1]["temperature"] == 0.2


def test_a_refused_regenerate_shows_the_apis_reason(
    stack: Stack, api_process: WorkerProcess, page: Page
):
    source = stack.create_brainstorm(seedCount=5)
    stack.deliver_all()
    _open(page, api_process, f"token={_token(stack)}&run={source['runId']}")
    form = page.locator("#rerun-form")
    expect(form).to_be_visible()

    # save-seeds reuses generate-seeds, which consumed creativityTemp: 422 naming it.
    form.get_by_label("From step").select_option("save-seeds")
    form.get_by_label("Other input overrides").fill('{"creativityTemp": 0.2}')
    form.get_by_role("button", name="Regenerate").click()

    expect(page.locator("#rerun-result")).to_contain_text("creativityTemp")
    assert page.url.endswith(f"#run={source['runId']}")
    assert [r["runId"] for r in stack.get("/v1/runs").get_json()["runs"]] == [source["runId"]]


# ---- issue 18: items as the model writes them ------------------------------------------


def test_the_run_page_shows_seeds_as_the_model_writes_them_then_the_committed_list(
    stack: Stack, api_process: WorkerProcess, page: Page
):
    created = stack.create_brainstorm(seedCount=5)
    stack.llm.script(Reply(hold_after_items=2))
    _open(page, api_process, f"token={_token(stack)}&run={created['runId']}")
    expect(page.locator("#run-status")).to_have_text("QUEUED")
    items = page.locator("#live-items .item-step[data-step=generate-seeds] li")

    worker = threading.Thread(target=stack.deliver_all)
    worker.start()
    try:
        # The model has written two seeds and holds: the step cannot have committed.
        expect(items).to_have_count(2)
        expect(items).to_have_class(["provisional", "provisional"])
        expect(page.locator("#run-status")).to_have_text("RUNNING")
        _shot(page, "20-live-items")
        stack.llm.release.set()
        expect(page.locator("#run-status")).to_have_text("COMPLETED")
    finally:
        stack.llm.release.set()
        worker.join()

    expect(items).to_have_class(["committed"] * 5)
    session = stack.get(f"/v1/brainstorm-sessions/{created['sessionId']}").get_json()
    shown = items.all_inner_texts()
    assert [text.split(" — ")[0] for text in shown] == [s["title"] for s in session["seeds"]]
    _shot(page, "21-live-items-committed")


def test_items_of_a_broken_attempt_are_withdrawn_and_the_retrys_replace_them(
    stack: Stack, api_process: WorkerProcess, page: Page
):
    created = stack.create_brainstorm(seedCount=5)
    stack.llm.script(Reply(breaks=Break(3, "drop")), Reply(hold_after_items=1))
    _open(page, api_process, f"token={_token(stack)}&run={created['runId']}")
    expect(page.locator("#run-status")).to_have_text("QUEUED")
    block = page.locator("#live-items .item-step[data-step=generate-seeds]")

    worker = threading.Thread(target=stack.deliver_all)
    worker.start()
    try:
        # Attempt 1 showed three seeds and broke; attempt 2 has written one and holds.
        expect(block.locator(".reset-note")).to_contain_text("Attempt 1's items withdrawn")
        expect(block.locator("h4")).to_contain_text("attempt 2")
        expect(block.locator("li")).to_have_count(1)
        _shot(page, "22-live-items-reset")
        stack.llm.release.set()
        expect(page.locator("#run-status")).to_have_text("COMPLETED")
    finally:
        stack.llm.release.set()
        worker.join()

    expect(block.locator("li.committed")).to_have_count(5)

"""In Chromium: a running run's page follows the run without a reload (Playwright's clock
drives htmx's timer, no waiting on the wall clock); the Statsig create form keeps typed
dates when a warehouse is chosen; "Check the upload" keeps the chosen file; run history
downloads as CSV and JSON lines that parse; strip ticks explain themselves on focus."""

import csv
import json
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from playwright.sync_api import expect

from jobs.models import Account, Pipeline, Run, RunItem

from ..jobs.test_statsig_engine import TODAY, statsig  # noqa: F401  (the fixture)
from .conftest import ARTIFACTS, login
from .test_upload_browser import choose_events_import, fullstory  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct-horse-battery"


@pytest.fixture
def operator(django_user_model):
    user = django_user_model.objects.create_user("olga", password=PASSWORD)
    user.groups.add(Group.objects.get(name="operator"))
    return user


@pytest.fixture
def micro_run(db) -> Run:
    account = Account.objects.create(name="micro", vendor="micro", base_url="http://127.0.0.1:9")
    pipeline = Pipeline.objects.create(account=account, kind="import", external_id="imports", name="Micro imports")
    return Run.objects.create(
        pipeline=pipeline,
        external_id="job-1",
        state="running",
        progress=0.25,
        started_at=timezone.now() - timedelta(minutes=10),
        sort_at=timezone.now() - timedelta(minutes=10),
        counts={"processed": 250},
    )


def test_running_run_page_updates_without_reload(live_server, page, screenshot, operator, micro_run, settings):
    settings.LIVE_REFRESH_SECONDS = 5
    page.set_viewport_size({"width": 1280, "height": 900})
    page.clock.install()
    login(page, live_server.url, "olga", PASSWORD)
    page.goto(f"{live_server.url}/runs/{micro_run.uuid}/")
    bar = page.locator("#run-live progress")
    expect(bar).to_have_attribute("value", "0.2500")
    expect(page.locator("#run-live")).to_contain_text("min left")
    page.evaluate("window.__marker = 'same page'")  # survives only if the page never reloads
    screenshot("run-running-1280")

    Run.objects.filter(pk=micro_run.pk).update(progress=0.6, counts={"processed": 600})
    page.clock.run_for(6_000)  # one poll interval on htmx's (fake) timer
    expect(bar).to_have_attribute("value", "0.6000")
    expect(page.locator("#run-live")).to_contain_text("600 processed")

    Run.objects.filter(pk=micro_run.pk).update(
        state="failed", progress=0.8, finished_at=timezone.now(), counts={"processed": 1000, "failed": 38}
    )
    page.clock.run_for(6_000)
    expect(page.locator("#run-live .pill-failed")).to_be_visible()
    expect(page.locator("#run-live")).to_contain_text("Failed at 80%")
    expect(page.locator("#run-live")).to_contain_text("3.8%")  # the drop warning
    expect(page.locator("#run-live")).not_to_have_attribute("hx-trigger", "every 5s, pw:refresh")
    assert page.evaluate("window.__marker") == "same page"
    screenshot("run-failed-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot("run-failed-390")


def test_statsig_form_keeps_typed_dates(live_server, page, screenshot, operator, statsig):  # noqa: F811
    account, _, _ = statsig
    start, end = str(TODAY - timedelta(days=7)), str(TODAY - timedelta(days=1))
    page.set_viewport_size({"width": 1280, "height": 900})
    login(page, live_server.url, "olga", PASSWORD)
    page.goto(f"{live_server.url}/pipelines/new/")
    page.get_by_label("What and where").select_option(f"{account.uuid}:backfill")
    page.get_by_label("First day").fill(start)
    page.get_by_label("Last day").fill(end)
    page.get_by_label("Source").fill("snowflake-prod")
    with page.expect_response(lambda r: "/pipelines/new/" in r.url and r.request.method == "GET"):
        page.get_by_label("Warehouse").select_option("bigquery-v2")
    expect(page.get_by_label("First day")).to_have_value(start)
    expect(page.get_by_label("Last day")).to_have_value(end)
    expect(page.get_by_label("Source")).to_have_value("snowflake-prod")
    expect(page.get_by_label("Warehouse")).to_have_value("bigquery-v2")
    page.get_by_label("Dataset").select_option("Events")
    screenshot("create-statsig-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot("create-statsig-390")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", name="Statsig backfills")).to_be_visible()
    expect(page.locator("table.runs")).to_contain_text(f"Statsig backfill Events {start}..{end} (bigquery-v2)")
    screenshot("pipeline-backfill-390")
    page.set_viewport_size({"width": 1280, "height": 900})
    screenshot("pipeline-backfill-1280")


def test_checking_an_upload_keeps_the_file(live_server, page, screenshot, operator, fullstory, tmp_path):  # noqa: F811
    events = tmp_path / "events.ndjson"
    events.write_text('{"name": "Viewed", "user": {"uid": "u1"}}\n' * 3)
    choose_events_import(page, live_server, fullstory)
    page.get_by_label("Upload").set_input_files(str(events))
    page.get_by_role("button", name="Check the upload").click()
    expect(page.locator("#upload-check")).to_contain_text("still chosen")
    assert page.get_by_label("Upload").evaluate("input => input.files.length") == 1
    screenshot("create-upload-checked-1280")


def test_export_downloads_parse(live_server, page, screenshot, operator, micro_run, tmp_path):
    Run.objects.filter(pk=micro_run.pk).update(error_message="=cmd|' /C calc'!A0", state="failed")
    page.set_viewport_size({"width": 1280, "height": 900})
    login(page, live_server.url, "olga", PASSWORD)
    page.goto(f"{live_server.url}/pipelines/{micro_run.pipeline.uuid}/")
    export = page.get_by_role("region", name="Export run history")
    screenshot("pipeline-export-1280")
    with page.expect_download() as got:
        export.get_by_role("button", name="Download CSV").click()
    rows = list(csv.DictReader(got.value.path().open(encoding="utf-8")))
    assert [(r["external_id"], r["state"]) for r in rows] == [("job-1", "failed")]
    assert rows[0]["error_message"].startswith("'=cmd")  # sanitised for spreadsheets

    page.goto(f"{live_server.url}/?vendor=micro")
    with page.expect_download() as got:
        page.get_by_role("region", name="Export run history").get_by_role("button", name="Download JSON lines").click()
    assert got.value.suggested_filename.endswith(".jsonl")
    lines = [json.loads(line) for line in got.value.path().read_text(encoding="utf-8").splitlines()]
    assert [(r["pipeline"], r["external_id"], r["processed"]) for r in lines] == [("Micro imports", "job-1", 250)]
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot("overview-export-390")


def test_strip_tick_popover_on_keyboard_focus(live_server, page, screenshot, operator, micro_run):
    Run.objects.filter(pk=micro_run.pk).update(
        state="failed", finished_at=micro_run.started_at + timedelta(minutes=4), error_message="bad rows"
    )
    page.set_viewport_size({"width": 1280, "height": 900})
    login(page, live_server.url, "olga", PASSWORD)
    page.goto(f"{live_server.url}/")
    tick = page.locator("a[data-tick]").first
    tick.focus()
    pop = page.locator("#tick-pop")
    expect(pop).to_be_visible()
    expect(pop).to_contain_text("4 min 0 s")
    expect(pop).to_contain_text("bad rows")
    expect(tick).to_have_attribute("aria-describedby", "tick-pop")
    screenshot("overview-tick-popover-1280")
    page.keyboard.press("Escape")
    expect(pop).to_be_hidden()


def test_failures_only_filter_and_touch_popover(live_server, page, screenshot, operator, micro_run):
    Run.objects.filter(pk=micro_run.pk).update(state="succeeded", progress=1.0, items_count=250)
    items = [RunItem(run=micro_run, position=i, kind="result", data={"email": f"u{i}@x"}) for i in range(250)]
    for item in items[240:]:
        item.code, item.message = "invalid_email", f"row {item.position}: email is not valid"
    RunItem.objects.bulk_create(items)
    page.set_viewport_size({"width": 1280, "height": 900})
    login(page, live_server.url, "olga", PASSWORD)
    page.goto(f"{live_server.url}/runs/{micro_run.uuid}/")
    rows = page.get_by_role("region", name="Row-level errors and results")
    expect(rows.locator("tbody tr").first).to_contain_text("invalid_email")  # failures first, on page 1
    rows.get_by_label("Failures only").check()
    rows.get_by_role("button", name="Filter").click()
    expect(rows.get_by_role("heading")).to_contain_text("10 failed of 250 rows")
    expect(rows.locator("tbody tr")).to_have_count(10)
    screenshot("run-items-failures-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot("run-items-failures-390")


def test_tick_popover_on_touch(browser, live_server, operator, micro_run):
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    page = context.new_page()
    login(page, live_server.url, "olga", PASSWORD)
    page.goto(f"{live_server.url}/")
    tick = page.locator("a[data-tick]").first
    tick.tap()  # the first tap explains instead of leaving the page
    expect(page.locator("#tick-pop")).to_be_visible()
    expect(page).to_have_url(f"{live_server.url}/")
    page.screenshot(path=str(ARTIFACTS / "overview-tick-popover-390.png"), full_page=True)
    tick.tap()  # the second follows the link
    expect(page).to_have_url(f"{live_server.url}/runs/{micro_run.uuid}/")
    context.close()

"""A person logs in and watches a run's progress bar move, without reloading the page."""

import re

import pytest
from playwright.sync_api import expect

from jobs import polling
from jobs.models import Pipeline
from vendors.mixpanel.simulator import ScriptedRun, SimConnector

from ..conftest import T0, user_with_role
from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_login_and_watch_progress_move(live_server, page, screenshot, sim, mp_account, settings) -> None:
    settings.LIVE_REFRESH_SECONDS = 1
    user_with_role("dana", "viewer")
    run = ScriptedRun(queued_at=T0, queue_seconds=0, run_seconds=100, events=20_000)
    sim.mixpanel.projects["12345"].add(SimConnector("live", runs=[run]))
    sim.advance(25)
    pipeline = Pipeline.objects.create(
        account=mp_account, kind="import_connector", external_id="live", name="Live S3 import"
    )
    polling.poll_now(mp_account)

    login(page, live_server.url, "dana", "correct-horse-battery")
    expect(page).to_have_url(f"{live_server.url}/")
    row = page.locator(f"#p-{pipeline.uuid}")
    bar = row.locator("progress")
    expect(bar).to_have_attribute("value", "0.2500")
    expect(row).to_contain_text("25%")
    expect(row).to_contain_text("Running")
    screenshot("overview-25")

    page.evaluate("window.__marker = 'same page'")  # survives only if the page never reloads
    sim.advance(35)
    mp_account.refresh_from_db()
    polling.poll_now(mp_account)
    expect(bar).to_have_attribute("value", "0.6000", timeout=10_000)
    expect(row).to_contain_text("60%")
    assert page.evaluate("window.__marker") == "same page"
    screenshot("overview-60")

    sim.advance(100)
    mp_account.refresh_from_db()
    polling.poll_now(mp_account)
    expect(row.locator(".pill-healthy")).to_be_visible(timeout=10_000)
    expect(row).to_contain_text(re.compile(r"20,000 imported"))

    page.get_by_role("link", name="Live S3 import").click()
    expect(page.get_by_role("heading", name="Live S3 import")).to_be_visible()
    expect(page.locator("tbody.run")).to_have_count(1)
    screenshot("pipeline-page")


def test_wrong_password_is_refused(live_server, page) -> None:
    user_with_role("dana", "viewer")
    login(page, live_server.url, "dana", "nope")
    expect(page.get_by_role("alert")).to_contain_text("correct username and password")

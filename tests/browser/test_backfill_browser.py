"""An operator backfills two days of a PostHog export from its page and follows the backfill
to completion without reloading: the form, the answer, the progress the vendor reports."""

import pytest
from playwright.sync_api import expect

from jobs import polling
from jobs.models import Account, Pipeline
from vendors.posthog.simulator import DEMO_KEY, DEMO_PROJECT, install_demo
from vendors.simulator.core import Clock, SimServer, Simulator

from ..conftest import T0, patient_vendor_http, user_with_role
from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def posthog(product_at_t0, settings):
    patient_vendor_http(settings)
    clock = Clock(T0, frozen=True)
    simulator = Simulator(clock)
    world = install_demo(simulator, T0)
    clock.advance(600)
    server = SimServer(simulator).start()
    try:
        account = Account(name="ph", vendor="posthog", base_url=server.url, settings={"project_id": str(DEMO_PROJECT)})
        account.credentials = {"api_key": DEMO_KEY}
        account.save()
        polling.poll_now(account)
        yield account, clock, world.projects[DEMO_PROJECT]
    finally:
        server.stop()


def test_a_backfill_is_started_from_the_page_and_followed_to_completion(
    live_server, page, screenshot, posthog, settings
) -> None:
    settings.LIVE_REFRESH_SECONDS = 1
    account, clock, project = posthog
    export = Pipeline.objects.get(account=account, name="Persons to BigQuery")
    user_with_role("olga", "operator")
    login(page, live_server.url, "olga", "correct-horse-battery")
    page.goto(f"{live_server.url}/pipelines/{export.uuid}/")
    page.evaluate("window.__marker = 'same page'")  # survives only if the page never reloads

    page.get_by_text("Backfill…").click()
    page.get_by_label("From (UTC day)").fill("2026-11-15")
    page.get_by_label("To (UTC day, included)").fill("2026-11-14")
    page.get_by_role("button", name="Start").click()
    toast = page.locator("#op-toast")
    expect(toast).to_contain_text("end: must be on or after the start")  # checked before PostHog is asked
    assert project.exports[export.external_id].backfills == []

    page.get_by_label("To (UTC day, included)").fill("2026-11-16")
    page.get_by_role("button", name="Start").click()
    expect(toast).to_contain_text("PostHog started a backfill of 2 days")
    (backfill,) = project.exports[export.external_id].backfills

    polling.poll_now(account)  # the worker's poll, which the operation asked for
    fact = page.locator(".fact", has_text="Backfill 2026-11-15 00:00 UTC")
    expect(fact).to_contain_text("0 of 2 intervals", timeout=10_000)
    expect(fact.locator("progress")).to_have_attribute("max", "2")
    expect(fact.get_by_role("button", name="Cancel backfill")).to_be_visible()
    screenshot("posthog-backfill-running")

    clock.advance(310)  # the first interval done (300 s), the second started 20 s later
    polling.poll_now(account)
    expect(fact).to_contain_text("1 of 2 intervals", timeout=10_000)
    clock.advance(400)
    polling.poll_now(account)
    expect(fact).to_contain_text("Completed · 2 of 2 intervals", timeout=10_000)
    expect(fact.locator("progress")).to_have_count(0)  # done: no bar, no cancel
    expect(fact.get_by_role("button", name="Cancel backfill")).to_have_count(0)
    assert backfill.status(clock.now()) == "Completed"
    assert page.evaluate("window.__marker") == "same page"
    screenshot("posthog-backfill-done")


def test_a_running_backfill_is_cancelled_from_its_fact(live_server, page, posthog, settings) -> None:
    settings.LIVE_REFRESH_SECONDS = 1
    account, clock, project = posthog
    export = Pipeline.objects.get(account=account, name="Events to S3")
    user_with_role("olga", "operator")
    login(page, live_server.url, "olga", "correct-horse-battery")
    page.goto(f"{live_server.url}/pipelines/{export.uuid}/")
    page.get_by_text("Backfill…").click()
    page.get_by_label("From (UTC day)").fill("2026-11-18")
    page.get_by_label("To (UTC day, included)").fill("2026-11-18")
    page.get_by_role("button", name="Start").click()
    expect(page.locator("#op-toast")).to_contain_text("started a backfill of 1 day")
    polling.poll_now(account)
    fact = page.locator(".fact", has_text="Backfill 2026-11-18 00:00 UTC")
    page.once("dialog", lambda dialog: dialog.accept())  # "Cancel this backfill at PostHog? ..."
    fact.get_by_role("button", name="Cancel backfill").click()
    expect(page.locator("#op-toast")).to_contain_text("PostHog cancelled the backfill")
    polling.poll_now(account)
    expect(fact).to_contain_text("Cancelled", timeout=10_000)
    assert project.exports[export.external_id].backfills[-1].status(clock.now()) == "Cancelled"

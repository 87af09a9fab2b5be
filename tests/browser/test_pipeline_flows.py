"""In Chromium: the pipeline page's timeline and day grid, creating a Mixpanel pipeline
(a validation error first, then success), and cancelling it with the confirmation."""

from datetime import date, timedelta

import pytest
from django.contrib.auth.models import Group
from playwright.sync_api import expect

from jobs import polling
from jobs.models import Pipeline
from vendors.mixpanel.nessie_simulator import SimPipeline

from ..conftest import T0
from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def operator(django_user_model):
    user = django_user_model.objects.create_user("olga", password="correct-horse-battery")
    user.groups.add(Group.objects.get(name="operator"))
    return user


def test_pipeline_page_timeline_and_day_grid(live_server, page, screenshot, sim, mp_account, operator) -> None:
    today = date.today()
    sim.mixpanel.projects["12345"].add_pipelines(
        SimPipeline(
            "events-daily-gcs-raw",
            origin=today - timedelta(days=12),
            delay_seconds=60,
            queue_seconds=30,
            run_seconds=300,
            outcomes={8: "failed"},  # four days ago: inside the 7d range at any hour
            timeline_gaps=frozenset({7}),
        )
    )
    sim.clock.advance((date.today() - sim.clock.now().date()).days * 86400)
    polling.poll_now(mp_account)
    mp_account.refresh_from_db()
    polling.poll_now(mp_account)
    pipeline = Pipeline.objects.get(kind="export_pipeline")
    login(page, live_server.url, "olga", "correct-horse-battery")
    page.goto(f"{live_server.url}/pipelines/{pipeline.uuid}/")
    timeline = page.locator("#timeline")
    expect(timeline.locator("rect.bar-succeeded").first).to_be_attached()
    expect(timeline.locator("rect.bar-failed")).to_have_count(1)
    expect(timeline.locator("li.day-failed")).to_have_count(1)
    page.get_by_role("link", name="30d").click()
    expect(page.locator("#timeline .seg a.on")).to_have_text("30d")
    screenshot("pipeline-timeline")
    timeline.locator("li.day-failed a").click()
    expect(page.get_by_role("heading", name="Run")).to_be_visible()
    expect(page.locator("body")).to_contain_text("failed")


def test_create_with_an_error_first_then_cancel(
    product_at_t0, live_server, page, screenshot, sim, mp_account, operator
) -> None:
    login(page, live_server.url, "olga", "correct-horse-battery")
    page.goto(f"{live_server.url}/pipelines/new/")
    page.get_by_label("What and where").select_option(f"{mp_account.uuid}:export_pipeline")
    page.wait_for_load_state("networkidle")  # let htmx wire up the swapped-in fields
    page.get_by_label("Pipeline type *").select_option("gcs-raw")
    page.wait_for_load_state("networkidle")
    expect(page.get_by_label("Gcs bucket")).to_be_visible()
    page.get_by_label("From date").fill("2019-01-01")
    page.get_by_label("Gcs bucket").fill("exports")
    page.get_by_label("Gcs region").select_option("us-east1")
    page.get_by_label("Gcs prefix").fill("mixpanel")
    page.get_by_role("button", name="Create").click()
    expect(page.locator(".field.has-error")).to_contain_text("6 months")
    screenshot("create-error")
    # two days before T0: Pipewatch's clock and the simulator's both read T0 (product_at_t0)
    page.get_by_label("From date").fill(str(T0.date() - timedelta(days=2)))
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", level=1)).not_to_have_text("Create at the vendor")
    created = Pipeline.objects.get(kind="export_pipeline")
    expect(page).to_have_url(f"{live_server.url}/pipelines/{created.uuid}/")
    screenshot("created-pipeline")

    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.accept()))
    page.get_by_role("button", name="Cancel pipeline…").click()
    expect(page.locator(".action-result")).to_contain_text("history")
    assert "deletes the pipeline and its history" in dialogs[0]
    created.refresh_from_db()
    assert created.paused
    # The health card answers with the action: canceled, not healthy; no vendor action is left.
    expect(page.locator("#health-card")).to_contain_text("Canceled at Mixpanel")
    expect(page.locator("#health-card .pill-healthy")).to_have_count(0)
    for button in ("Cancel pipeline…", "Pause at Mixpanel", "Resume at Mixpanel", "Poll now", "Resume monitoring"):
        expect(page.get_by_role("button", name=button)).to_have_count(0)
    screenshot("cancelled-pipeline")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot("cancelled-pipeline-390")

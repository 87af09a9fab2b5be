"""In Chromium: an operator mutes a failing pipeline from its page and the overview marks
it muted; the failures page filtered by vendor; screenshots at desktop width and 390 px."""

import pytest
from django.contrib.auth.models import Group
from playwright.sync_api import expect

from jobs import polling
from jobs.models import Pipeline

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def operator(django_user_model):
    user = django_user_model.objects.create_user("olga", password="correct-horse-battery")
    user.groups.add(Group.objects.get_or_create(name="operator")[0])
    return user


def test_operator_mutes_from_the_pipeline_page_and_the_overview_shows_it(
    live_server, page, screenshot, mp_account, make_pipeline, operator
) -> None:
    for cid in ("seed-queued", "seed-running", "seed-success", "seed-failed"):
        make_pipeline(cid, name=f"Pipeline {cid}")
    polling.poll_now(mp_account)
    failing = Pipeline.objects.get(external_id="seed-failed")
    login(page, live_server.url, "olga", "correct-horse-battery")
    page.goto(f"{live_server.url}/pipelines/{failing.uuid}/")
    page.get_by_label("Mute alerts").select_option(label="1 day")
    page.get_by_role("button", name="Mute", exact=True).click()
    page.wait_for_url(f"{live_server.url}/pipelines/{failing.uuid}/")
    badge = page.locator(".badge-muted")
    expect(badge).to_contain_text("Muted until")
    expect(page.get_by_role("button", name="Unmute")).to_be_visible()
    screenshot("mute-pipeline-page")

    page.goto(f"{live_server.url}/")
    row = page.locator(f"#p-{failing.uuid}")
    expect(row.locator(".badge-muted")).to_contain_text("Muted until")
    expect(page.locator(".badge-muted")).to_have_count(1)
    screenshot("mute-overview")

    page.goto(f"{live_server.url}/failures/")
    page.get_by_label("Vendor").select_option("mixpanel")
    page.get_by_label("Acknowledged").select_option("no")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**/failures/?vendor=mixpanel*acknowledged=no*")
    expect(page.locator(f"#mute-{failing.uuid} .badge-muted")).to_be_visible()
    screenshot("failures-filtered")

    page.set_viewport_size({"width": 390, "height": 844})
    screenshot("failures-filtered-390")
    page.goto(f"{live_server.url}/pipelines/{failing.uuid}/")
    screenshot("mute-pipeline-page-390")
    page.goto(f"{live_server.url}/")
    screenshot("mute-overview-390")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1 or page.locator(".table-wrap").count()

    page.set_viewport_size({"width": 1360, "height": 900})
    page.goto(f"{live_server.url}/pipelines/{failing.uuid}/")
    page.get_by_role("button", name="Unmute").click()
    page.wait_for_url(f"{live_server.url}/pipelines/{failing.uuid}/")
    expect(page.locator(".badge-muted")).to_have_count(0)
    failing.refresh_from_db()
    assert failing.muted_until is None

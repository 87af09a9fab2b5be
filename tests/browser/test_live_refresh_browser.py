"""The overview refreshes in place: a focused link keeps focus (the very same node) across
three refreshes that each change what the rows show, rows keep their order while focus is
in the table and take the new order once it leaves, and counter changes are announced."""

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from jobs.models import Pipeline, Run

from .conftest import login
from .test_overview_browser import PASSWORD, seeded  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _names(page: Page) -> list[str]:
    return page.locator("table.pipelines tbody a.name").all_inner_texts()


def _refresh(page: Page) -> None:
    """One beat of the page's clock, awaited as the refresh request's answer."""
    with page.expect_response(lambda r: bool(r.request.headers.get("hx-request")), timeout=10_000):
        page.clock.run_for(1000)


def test_focus_stays_on_a_link_across_three_refreshes(live_server, page, seeded, settings, screenshot) -> None:  # noqa: F811
    settings.LIVE_REFRESH_SECONDS = settings.IDLE_REFRESH_SECONDS = 1
    page.clock.install()
    login(page, live_server.url, "dana", PASSWORD)
    running = seeded["seed-running"]
    row = page.locator(f"#p-{running.uuid}")
    expect(row).to_contain_text("Running")
    before = _names(page)
    link = row.locator("a.name")
    link.focus()
    page.evaluate("document.activeElement.dataset.mark = 'kept'; document.activeElement.__same = true")

    run = Run.objects.get(pk=Pipeline.objects.get(pk=running.pk).current_run_id)
    success = Pipeline.objects.select_related("current_run").get(pk=seeded["seed-success"].pk)
    changes = [
        lambda: Run.objects.filter(pk=run.pk).update(progress=0.61, last_change_at=timezone.now()),
        lambda: (
            Run.objects.filter(pk=success.current_run_id).update(
                state="failed", error_message="Disk full", last_change_at=timezone.now()
            ),
            Pipeline.objects.filter(pk=success.pk).update(health_status="failing"),
        ),
        lambda: Run.objects.filter(pk=run.pk).update(progress=0.83, last_change_at=timezone.now()),
    ]
    shown = ["61%", "Disk full", "83%"]
    for change, text in zip(changes, shown, strict=True):
        change()
        _refresh(page)
        expect(page.locator("#live")).to_contain_text(text)
        assert page.evaluate("document.activeElement.__same === true"), "focus moved or the link was replaced"
        expect(link).to_be_focused()
        assert _names(page) == before  # focus is in the table: the order holds
    expect(page.locator("#live-announce")).to_have_text("Pipelines: 2 failing, 2 running")
    screenshot("overview-live-focus-kept")

    # time left: shown at a measurable rate, and kept (no flicker) when one poll has no progress
    Run.objects.filter(pk=run.pk).update(started_at=timezone.now(), progress=0.5, last_change_at=timezone.now())
    _refresh(page)
    eta = row.locator(".eta")
    expect(eta).to_contain_text("left")
    shown_left = eta.inner_text()
    Run.objects.filter(pk=run.pk).update(progress=None, last_change_at=timezone.now())
    _refresh(page)
    expect(row).not_to_contain_text("50%")
    assert eta.inner_text() == shown_left

    page.evaluate("document.activeElement.blur()")
    page.clock.run_for(10)
    page.mouse.move(0, 0)
    # focus left the table: the new order (failing first) lands
    expect(page.locator("table.pipelines tbody tr").nth(1)).to_have_id(f"p-{success.uuid}")
    assert sorted(_names(page)) == sorted(before) and _names(page) != before

"""The overview in Chromium: search and counters as filters, the theme button, local time
on hover, and live refresh that rests while the tab is hidden."""

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from jobs import polling

from ..conftest import user_with_role
from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct-horse-battery"


@pytest.fixture
def seeded(mp_account, make_pipeline):
    user_with_role("dana", "viewer")
    pipelines = {
        cid: make_pipeline(cid, name=f"Pipeline {cid}")
        for cid in ("seed-queued", "seed-running", "seed-success", "seed-failed")
    }
    polling.poll_now(mp_account)
    return pipelines


def _names(page: Page) -> list[str]:
    return page.locator("table.pipelines tbody a.name").all_inner_texts()


def test_search_and_counters_filter_and_the_url_keeps_them(live_server, page, seeded, screenshot) -> None:
    login(page, live_server.url, "dana", PASSWORD)
    expect(page.locator("table.pipelines tbody a.name")).to_have_count(4)

    page.get_by_label("Search").fill("seed-fail")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"q=seed-fail"))
    assert _names(page) == ["Pipeline seed-failed"]
    page.get_by_role("link", name="clear filters").click()
    expect(page.locator("table.pipelines tbody a.name")).to_have_count(4)

    page.locator(".counters .counter-healthy a").click()
    expect(page).to_have_url(re.compile(r"health=healthy"))
    assert _names(page) == ["Pipeline seed-success"]
    screenshot("overview-filtered-healthy")
    # a shared link opens the same view
    shared = page.url
    page.goto(f"{live_server.url}/")
    page.goto(shared)
    assert _names(page) == ["Pipeline seed-success"]
    page.locator(".counters .counter-healthy a").click()  # the active counter clears itself
    expect(page.locator("table.pipelines tbody a.name")).to_have_count(4)


def test_theme_button_switches_and_is_remembered(live_server, page, seeded, screenshot) -> None:
    login(page, live_server.url, "dana", PASSWORD)
    button = page.locator("#theme-toggle")
    expect(button).to_have_text("Theme: auto")
    light = page.evaluate("getComputedStyle(document.body).backgroundColor")
    button.click()
    expect(button).to_have_text("Theme: dark")
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    dark = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert dark != light and dark == "rgb(17, 20, 24)"
    page.reload()
    expect(page.locator("#theme-toggle")).to_have_text("Theme: dark")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == dark
    screenshot("overview-dark")
    page.locator("#theme-toggle").click()
    expect(page.locator("#theme-toggle")).to_have_text("Theme: light")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(246, 247, 249)"


def test_times_follow_the_browser_zone_then_the_persons_setting(live_server, browser: Browser, seeded) -> None:
    context = browser.new_context(timezone_id="Asia/Tokyo")
    page = context.new_page()
    try:
        login(page, live_server.url, "dana", PASSWORD)  # the login page already told the zone
        expect(page.locator("body > footer")).to_contain_text("Times in Asia/Tokyo")
        success = page.locator(f"#p-{seeded['seed-success'].uuid} time").first
        expect(success).to_have_attribute("title", re.compile(r"JST · .* UTC$"))

        page.get_by_role("link", name="Preferences").click()
        page.get_by_label("Time zone").select_option("America/New_York")
        page.get_by_role("button", name="Save").click()
        expect(page.locator("[role=status]")).to_contain_text("America/New_York")
        page.goto(f"{live_server.url}/")
        expect(page.locator("body > footer")).to_contain_text("Times in America/New_York")
        expect(success).to_have_attribute("title", re.compile(r"E[SD]T · .* UTC$"))
    finally:
        context.close()


def test_live_rows_rest_while_the_tab_is_hidden(live_server, page, seeded, settings) -> None:
    """The page's timers and Date run on Playwright's clock: half a minute hidden passes at
    once, and refreshes are awaited as requests, never counted across wall-clock waits."""
    settings.LIVE_REFRESH_SECONDS = 1
    page.clock.install()  # time flows as usual until the test moves it

    def is_refresh(request) -> bool:
        return bool(request.headers.get("hx-request"))

    refreshes: list[str] = []
    page.on("request", lambda r: refreshes.append(r.url) if is_refresh(r) else None)
    login(page, live_server.url, "dana", PASSWORD)
    expect(page.locator("#live")).to_have_attribute("data-poll-every", "1s")
    for _ in range(2):  # visible and something runs: every second
        with page.expect_request(is_refresh, timeout=10_000):
            page.clock.run_for(1000)
    # a refresh has landed and settled: none is in flight for the next second
    page.evaluate("() => new Promise(r => document.addEventListener('htmx:afterSettle', () => r(1), {once: true}))")

    page.evaluate(
        """() => {
        Object.defineProperty(document, "hidden", {configurable: true, get: () => true});
        document.dispatchEvent(new Event("visibilitychange"));
    }"""
    )
    hidden_from = len(refreshes)
    page.clock.run_for(30_000)  # thirty one-second beats while hidden
    page.evaluate("() => document.hidden")  # a round trip: requests the page made are reported by now
    assert len(refreshes) == hidden_from  # hidden: at most once a minute

    page.clock.pause_at(page.evaluate("() => Date.now()") / 1000 + 0.1)  # seconds; no beat fires from here on
    with page.expect_request(is_refresh, timeout=10_000):  # so this refresh is the coming back
        page.evaluate(
            """() => {
            Object.defineProperty(document, "hidden", {configurable: true, get: () => false});
            document.dispatchEvent(new Event("visibilitychange"));
        }"""
        )

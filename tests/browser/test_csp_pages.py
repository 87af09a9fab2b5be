"""Every main page renders under the strict CSP without a single violation, and htmx
still works (the live region refreshes)."""

import pytest
from django.contrib.auth.models import Group
from playwright.sync_api import expect

from ..conftest import user_with_role
from .conftest import ARTIFACTS, login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_main_pages_have_no_csp_violations(live_server, page, screenshot, polled, django_user_model) -> None:
    user = django_user_model.objects.create_user("ada", password="correct-horse-battery")
    user.groups.add(Group.objects.get(name="admin"))
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    login(page, live_server.url, "ada", "correct-horse-battery")
    pipeline = polled["seed-failed"]
    for path, name in [
        ("/", "overview"),
        (f"/pipelines/{pipeline.uuid}/", "pipeline"),
        ("/failures/", "failures"),
        ("/accounts/", "accounts"),
        ("/audit/", "audit"),
        ("/accounts/new/", "account-form"),
        (f"/runs/{pipeline.runs.order_by('-pk').first().uuid}/", "run"),
        ("/timeline/", "timeline"),
        ("/freshness/", "freshness"),
        ("/pipelines/new/", "create"),
        ("/preferences/", "preferences"),
    ]:
        page.goto(live_server.url + path)
        expect(page.locator("main")).to_be_visible()
        screenshot(f"csp-{name}")
    assert problems == []


def test_acknowledge_in_place(live_server, page, polled, django_user_model) -> None:
    user = django_user_model.objects.create_user("olga", password="correct-horse-battery")
    user.groups.add(Group.objects.get(name="operator"))
    login(page, live_server.url, "olga", "correct-horse-battery")
    page.goto(live_server.url + "/failures/")
    page.get_by_placeholder("Note (optional)").first.fill("looking into it")
    page.get_by_role("button", name="Acknowledge").first.click()
    expect(page.get_by_role("status").first).to_contain_text("Acknowledged by olga")
    expect(page.get_by_role("status").first).to_contain_text("looking into it")


PHONE = {"width": 390, "height": 844}
# The innermost elements that reach past the screen's right edge, to say what to fix.
WIDEST = """(limit) => [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > limit + 1)
    .filter(e => ![...e.children].some(c => c.getBoundingClientRect().right > limit + 1))
    .slice(0, 5)
    .map(e => `${e.tagName.toLowerCase()}.${e.className} (${Math.round(e.getBoundingClientRect().right)}px)`)"""


def test_pages_fit_a_phone_screen(live_server, browser, polled, django_user_model) -> None:
    """On-call opens alert links on phones: no page is wider than the screen (wide tables
    scroll inside their own box)."""
    user_with_role("pat", "viewer")
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        login(page, live_server.url, "pat", "correct-horse-battery")
        pipeline = polled["seed-failed"]
        for path, name in [
            ("/", "overview"),
            (f"/pipelines/{pipeline.uuid}/", "pipeline"),
            (f"/runs/{pipeline.runs.order_by('-pk').first().uuid}/", "run"),
            ("/failures/", "failures"),
            ("/timeline/", "timeline"),
        ]:
            page.goto(live_server.url + path)
            expect(page.locator("main")).to_be_visible()
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"phone-{name}.png"), full_page=True)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"{path} is {width}px wide: {page.evaluate(WIDEST, PHONE['width'])}"
    finally:
        context.close()

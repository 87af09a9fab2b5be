"""Every main page renders under the strict CSP without a single violation, and htmx
still works (the live region refreshes)."""

import pytest
from django.contrib.auth.models import Group
from playwright.sync_api import expect

from .conftest import login

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

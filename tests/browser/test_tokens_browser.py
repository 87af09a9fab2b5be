"""In Chromium: an operator creates an API token on /preferences/, sees it once, a script
uses it over HTTP, and revoking it on the page stops it."""

import re

import pytest
import requests
from playwright.sync_api import Page, expect

from jobs.models import Account, Pipeline

from ..conftest import user_with_role
from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_create_use_and_revoke_a_token(live_server, page: Page, screenshot) -> None:
    user_with_role("olga", "operator")
    account = Account(name="fs", vendor="fullstory", base_url="http://127.0.0.1:9")
    account.credentials = {"api_key": "na1.unused"}
    account.save()
    pipeline = Pipeline.objects.create(account=account, kind="events_import", external_id="events_import")
    login(page, live_server.url, "olga", "correct-horse-battery")

    page.goto(f"{live_server.url}/preferences/")
    page.get_by_label("Name").fill("nightly export")
    page.get_by_label("Lifetime (days)").fill("7")
    page.get_by_label("Scope").select_option("operate")
    page.get_by_role("button", name="Create token").click()
    shown = page.locator("code.new-token")
    expect(shown).to_have_text(re.compile(r"^pw_\S{40,}$"))
    token = shown.inner_text()
    screenshot("tokens-created")

    action = f"{live_server.url}/api/v1/pipelines/{pipeline.uuid}/actions/pause/"
    bearer = {"Authorization": f"Bearer {token}"}
    assert requests.post(action, headers=bearer, timeout=10).status_code == 200

    page.goto(f"{live_server.url}/preferences/")
    expect(page.locator("code.new-token")).to_have_count(0)
    row = page.locator("table.tokens tbody tr", has_text="nightly export")
    expect(row).to_contain_text(token[:10])
    expect(row).to_contain_text("operate")
    assert token not in page.content()
    row.get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("status")).to_contain_text("revoked")
    expect(page.locator("table.tokens")).to_contain_text("No tokens.")
    assert requests.post(action, headers=bearer, timeout=10).status_code == 401

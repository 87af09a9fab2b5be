"""In Chromium: /api/v1/docs draws Swagger UI from this server's static files (the machine
has no internet: a CDN would leave the page blank), under the strict CSP, and a signed-in
person can try a read from it."""

import pytest
from playwright.sync_api import expect

from ..conftest import user_with_role
from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_docs_page_works_offline(live_server, page, screenshot) -> None:
    user_with_role("vera", "viewer")
    problems: list[str] = []
    outside: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(live_server.url) else None)
    login(page, live_server.url, "vera", "correct-horse-battery")
    page.goto(f"{live_server.url}/api/v1/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Pipewatch API")
    operation = page.locator("#operations-read-list_pipelines")
    expect(operation).to_be_visible()
    operation.locator(".opblock-summary").click()
    page.get_by_role("button", name="Try it out").click()
    with page.expect_response(lambda r: "/api/v1/pipelines/" in r.url) as answer:
        page.get_by_role("button", name="Execute").click()
    assert answer.value.status == 200
    expect(page.locator(".responses-wrapper")).to_contain_text("results")
    screenshot("api-docs")
    assert outside == [] and problems == []

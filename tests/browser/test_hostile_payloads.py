"""Hostile vendor strings, served by the simulator and polled through the real poll path,
rendered in Chromium: every page shows them as text, none runs, none adds an element,
and 100 kB without a space does not push any page sideways.

The browser context bypasses the Content-Security-Policy on purpose: the CSP would block an
injected handler anyway, and this test is about escaping, the first line of defence.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from playwright.sync_api import expect

from jobs.models import Pipeline, Run

from ..hostile import DIALOG, IMG, SCRIPT, build
from .conftest import ARTIFACTS, login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PROBE = """() => ({
    pwned: typeof window.__pwned,
    injected: document.querySelectorAll('img[src="x"], [onerror], [onload], body script:not([src])').length,
    overflow: document.documentElement.scrollWidth - window.innerWidth,
    text: document.body.innerText,
})"""


def test_hostile_vendor_strings_render_as_text_everywhere(
    live_server, browser, sim, mp_account, make_pipeline, django_user_model
) -> None:
    world = build(sim, mp_account, make_pipeline)
    for _ in range(3):  # connectors + discovery, then the discovered pipelines' tasks and the row errors
        world.poll_all()
        sim.advance(120)
    user = django_user_model.objects.create_user("ada", password="correct-horse-battery")
    user.groups.add(Group.objects.get(name="admin"))

    context = browser.new_context(viewport={"width": 1360, "height": 900}, bypass_csp=True)
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        login(page, live_server.url, "ada", "correct-horse-battery")
        paths = ["/", "/failures/", "/timeline/", "/freshness/", "/accounts/", "/audit/"]
        paths += [f"/pipelines/{p.uuid}/" for p in Pipeline.objects.order_by("pk")]
        paths += [f"/runs/{r.uuid}/" for r in Run.objects.order_by("pk")]
        seen = ""
        for path in paths:
            response = page.goto(live_server.url + path)
            assert response is not None and response.status == 200, path
            page.wait_for_load_state("networkidle")
            state = page.evaluate(PROBE)
            seen += state.pop("text")
            assert state == {"pwned": "undefined", "injected": 0, "overflow": 0}, path
        assert dialogs == []
        # Shown, as text, somewhere on the pages: names, messages and row errors.
        for text in (SCRIPT, IMG, DIALOG):
            assert text in seen

        rows_run = Run.objects.get(pipeline=world.rows)
        page.goto(f"{live_server.url}/runs/{rows_run.uuid}/")
        expect(page.locator("main")).to_contain_text(SCRIPT)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "hostile-run.png"), full_page=False)
    finally:
        context.close()

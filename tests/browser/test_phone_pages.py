"""Each main page at a phone's 390 px and at 1280 px: no element wider than the screen,
every table value and definition labelled where it shows, footer clear of the content; and
the 24 h timeline draws a run that began days before its window and is still open.
Screenshots of both widths land in test-artifacts/."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, expect

from jobs import polling
from jobs.models import Pipeline, Run

from ..conftest import user_with_role
from .conftest import ARTIFACTS, login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Elements wider than the screen (or reaching past it), and values with no label in sight:
# a cell is labelled by its visible column header or by its own ::before label.
PROBE = """() => {
  const W = window.innerWidth;
  const name = el => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
    (el.className && el.className.baseVal === undefined && el.className ? "." + el.className.split(" ").join(".") : "");
  const shown = el => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const wide = [];
  for (const el of document.body.querySelectorAll("*")) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || r.right <= 0) continue;  // off-screen on purpose (skip link)
    if (r.right > W + 1 || r.left < -1) wide.push(name(el) + " " + Math.round(r.left) + ".." + Math.round(r.right));
  }
  const unlabelled = [];
  for (const td of document.querySelectorAll("main td")) {
    if (!shown(td) || td.colSpan > 1 || !td.textContent.trim() && !td.querySelector("svg, progress")) continue;
    const before = getComputedStyle(td, "::before").content;
    if (before && !["none", "normal", '""'].includes(before)) continue;
    const table = td.closest("table");
    const index = Array.prototype.indexOf.call(td.parentElement.children, td);
    const head = table.tHead && table.tHead.rows[0] && table.tHead.rows[0].cells[index];
    if (head && shown(head) && head.textContent.trim()) continue;
    if (td.parentElement.querySelector("th[scope=row]")) continue;
    unlabelled.push(name(table) + " " + td.textContent.trim().slice(0, 40));
  }
  for (const dd of document.querySelectorAll("main dd")) {
    const dt = dd.previousElementSibling;
    const labelled = dt && dt.tagName === "DT" && shown(dt) && dt.textContent.trim();
    if (shown(dd) && !labelled) unlabelled.push("dd " + dd.textContent.trim().slice(0, 40));
  }
  const footer = document.querySelector("body > footer");
  const main = document.querySelector("main");
  const last = main.lastElementChild;
  const overlap = footer && last && footer.getBoundingClientRect().top < last.getBoundingClientRect().bottom - 1;
  return {wide: wide.slice(0, 15), unlabelled: unlabelled.slice(0, 15), overlap: Boolean(overlap),
          scroll: document.documentElement.scrollWidth - W};
}"""


@pytest.fixture
def world(sim, mp_account, make_pipeline):
    user_with_role("dana", "viewer")
    pipelines = {
        cid: make_pipeline(cid, name=f"Pipeline {cid}")
        for cid in ("seed-queued", "seed-running", "seed-success", "seed-failed")
    }
    polling.poll_now(mp_account)
    now = timezone.now()
    daily = make_pipeline(
        "daily-export", kind="export_pipeline", name="Daily events export", expected_every_seconds=86400
    )
    for d in range(10):
        day = (now - timedelta(days=d)).date()
        Run.objects.create(
            pipeline=daily,
            external_id=str(day),
            state="failed" if d == 3 else "succeeded",
            started_at=now - timedelta(days=d, hours=2),
            finished_at=now - timedelta(days=d, hours=1, minutes=50),
            sort_at=now - timedelta(days=d, hours=2),
            error_message="Bucket not found" if d == 3 else "",
        )
    backfill = make_pipeline("backfill", name="Year backfill")
    began = now - timedelta(days=4)
    Run.objects.create(
        pipeline=backfill, external_id="year", state="running", started_at=began, sort_at=began, progress=0.4
    )
    return {**pipelines, "daily": daily, "backfill": backfill}


def _pages(world) -> list[tuple[str, str]]:
    failed = Pipeline.objects.get(pk=world["seed-failed"].pk)
    return [
        ("overview", "/"),
        ("pipeline", f"/pipelines/{failed.uuid}/"),
        ("run", f"/runs/{Run.objects.get(pk=failed.current_run_id).uuid}/"),
        ("failures", "/failures/"),
        ("timeline", "/timeline/?range=24h"),
        ("freshness", "/freshness/"),
    ]


@pytest.mark.parametrize("width", [390, 1280])
def test_main_pages_fit_the_screen_and_label_every_value(live_server, browser: Browser, world, width) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": width, "height": 844 if width == 390 else 900})
    page = context.new_page()
    problems = {}
    try:
        login(page, live_server.url, "dana", "correct-horse-battery")
        for name, path in _pages(world):
            page.goto(f"{live_server.url}{path}")
            if name == "pipeline":
                expect(page.locator("#timeline svg.bars")).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
            found = page.evaluate(PROBE)
            if found["wide"] or found["unlabelled"] or found["overlap"] or found["scroll"] > 0:
                problems[name] = found
    finally:
        context.close()
    (ARTIFACTS / f"pages-probe-{width}.json").write_text(json.dumps(problems, indent=1))
    assert not problems, problems


def test_an_open_run_from_before_the_window_reaches_now_on_the_24h_timeline(live_server, page, world) -> None:
    login(page, live_server.url, "dana", "correct-horse-battery")
    page.goto(f"{live_server.url}/timeline/?range=24h")
    row = page.locator("table.timeline tbody tr", has_text="Year backfill")
    bar = row.locator("rect.bar-running")
    expect(bar).to_have_count(1)
    svg, rect = row.locator("svg.bars").bounding_box(), bar.bounding_box()
    assert rect["x"] <= svg["x"] + 1 and rect["x"] + rect["width"] >= svg["x"] + svg["width"] - 2
    expect(row).not_to_contain_text("No runs in this window")
    labels = page.locator("thead svg.axis text").all_inner_texts()
    assert len(labels) >= 6  # readable axis: a label every three hours

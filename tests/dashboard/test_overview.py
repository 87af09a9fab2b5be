"""The overview: counters that filter, filters kept in the URL, SQL sort and pagination,
the strip of the last runs, time left, and health stored so all of it stays in SQL."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dashboard.models import Preference
from dashboard.presenters import STRIP_LENGTH, eta
from jobs import actions, alerts
from jobs.models import Account, Pipeline, Run


def _rows(html: str) -> list[str]:
    """Pipeline names in the order the table shows them."""
    body = html.split("<tbody>")[1].split("</tbody>")[0]
    return re.findall(r'class="name">([^<]+)</a>', body)


def _bulk(account: Account, n: int, prefix: str = "bulk", **fields: object) -> list[Pipeline]:
    made = Pipeline.objects.bulk_create(
        Pipeline(account=account, kind="import_connector", external_id=f"{prefix}-{i:03d}", **fields) for i in range(n)
    )
    return made


def test_stored_health_follows_each_poll(polled) -> None:
    for pipeline in polled.values():
        pipeline.refresh_from_db()
        fresh = Pipeline.objects.select_related("account", "current_run").get(pk=pipeline.pk)
        assert pipeline.health_status == fresh.health().status
    assert {p.health_status for p in Pipeline.objects.all()} == {"running", "healthy", "failing"}


def test_counters_are_links_that_filter_by_health(logged_in, polled) -> None:
    html = logged_in.get("/").content.decode()
    assert re.search(r'href="\?health=failing".*?<strong>1</strong>', html, re.S)
    only_failing = logged_in.get("/?health=failing").content.decode()
    assert _rows(only_failing) == ["Pipeline seed-failed"]
    assert 'aria-current="true"' in only_failing
    # clicking the active counter again clears it
    assert re.search(r'<a href="\?"\s+aria-current="true">', only_failing)


def test_filters_by_vendor_kind_account_and_search_are_kept_in_the_url(logged_in, polled, mp_account) -> None:
    statsig = Account.objects.create(name="ss-prod", vendor="statsig")
    Pipeline.objects.create(account=statsig, kind="ingestion", external_id="snowflake", name="Statsig ingestion")
    Pipeline.objects.create(account=mp_account, kind="export_pipeline", external_id="bq-daily", name="BQ export")

    assert _rows(logged_in.get("/?vendor=statsig").content.decode()) == ["Statsig ingestion"]
    assert _rows(logged_in.get("/?account=ss-prod").content.decode()) == ["Statsig ingestion"]
    exports = _rows(logged_in.get("/?kind=export").content.decode())
    assert exports == ["BQ export"]  # a nessie pipeline exports; Statsig ingestion imports
    imports = _rows(logged_in.get("/?kind=import").content.decode())
    assert len(imports) == 5 and "Statsig ingestion" in imports and "BQ export" not in imports
    found = logged_in.get("/?q=SEED-FAIL&vendor=mixpanel").content.decode()
    assert _rows(found) == ["Pipeline seed-failed"]
    # the live refresh asks for the same filtered list, and counters keep the other filters
    assert 'hx-get="/?q=SEED-FAIL&amp;vendor=mixpanel"' in found
    assert 'href="?vendor=mixpanel&amp;q=SEED-FAIL&amp;health=failing"' in found
    assert "clear filters" in found
    nothing = logged_in.get("/?q=no-such-thing").content.decode()
    assert _rows(nothing) == [] and "No pipeline matches these filters" in nothing


def test_sorts_by_name_and_by_last_success(logged_in, mp_account) -> None:
    now = timezone.now()
    for name, hours in (("charlie", 1), ("alpha", None), ("bravo", 30)):
        Pipeline.objects.create(
            account=mp_account,
            kind="import_connector",
            external_id=name,
            name=name,
            health_status="healthy",
            last_success_at=now - timedelta(hours=hours) if hours else None,
        )
    assert _rows(logged_in.get("/?sort=name").content.decode()) == ["alpha", "bravo", "charlie"]
    # never succeeded first, then the oldest success
    assert _rows(logged_in.get("/?sort=success").content.decode()) == ["alpha", "bravo", "charlie"]
    Pipeline.objects.filter(name="alpha").update(health_status="failing")
    assert _rows(logged_in.get("/").content.decode())[0] == "alpha"  # urgency: failing on top


def test_pagination_keeps_filters(logged_in, mp_account) -> None:
    _bulk(mp_account, 120, name="Bulk")
    first = logged_in.get("/?q=bulk").content.decode()
    assert len(_rows(first)) == 50 and "Page 1 of 3" in first
    assert 'href="?q=bulk&amp;page=2"' in first
    last = logged_in.get("/?q=bulk&page=3").content.decode()
    assert len(_rows(last)) == 20 and "Page 3 of 3" in last


def test_strip_shows_the_last_runs_newest_right_with_placeholders(logged_in, mp_account) -> None:
    long, short = _bulk(mp_account, 2, prefix="strip")
    start = timezone.now() - timedelta(days=40)
    Run.objects.bulk_create(
        Run(
            pipeline=long,
            external_id=f"r{i}",
            state="failed" if i == 34 else "succeeded",
            sort_at=start + timedelta(days=i),
        )
        for i in range(35)
    )
    Run.objects.bulk_create(
        Run(pipeline=short, external_id=f"s{i}", state="succeeded", sort_at=start + timedelta(days=i)) for i in range(2)
    )
    html = logged_in.get("/").content.decode()
    strips = dict(re.findall(r'<tr id="p-([0-9a-f-]+)".*?<ol class="strip"[^>]*>(.*?)</ol>', html, re.S))
    long_ticks = re.findall(r'class="tick tick-(\w+)"', strips[str(long.uuid)])
    assert len(long_ticks) == STRIP_LENGTH and long_ticks[-1] == "failed" and "none" not in long_ticks
    short_ticks = re.findall(r'class="tick tick-(\w+)"', strips[str(short.uuid)])
    assert short_ticks == ["none"] * (STRIP_LENGTH - 2) + ["succeeded", "succeeded"]
    newest = Run.objects.get(pipeline=long, external_id="r34")
    assert f'href="/runs/{newest.uuid}/"' in strips[str(long.uuid)]


def test_strip_ticks_say_when_in_the_viewers_zone_and_escape_the_error(logged_in, viewer, mp_account) -> None:
    Preference.objects.create(user=viewer, time_zone="Asia/Kolkata")
    (pipeline,) = _bulk(mp_account, 1, prefix="tz")
    when = datetime(2026, 11, 20, 18, 45, tzinfo=UTC)  # 00:15 the next day in Kolkata
    Run.objects.create(pipeline=pipeline, external_id="r1", state="failed", sort_at=when, error_message="<b>x" * 50)
    html = logged_in.get("/").content.decode()
    strip = re.search(r'<ol class="strip"[^>]*>(.*?)</ol>', html, re.S).group(1)
    error = "&lt;b&gt;x" * 29 + "&lt;b&gt;…"  # cut to 120 characters, then escaped
    assert f'title="2026-11-21 00:15 IST · failed · {error}"' in strip
    assert f'<span class="visually-hidden">2026-11-21 00:15 failed: {error}</span>' in strip
    assert "<b>" not in strip


def test_time_left_from_the_observed_rate(logged_in, mp_account) -> None:
    now = timezone.now()
    run = Run(state="running", progress=0.5, started_at=now - timedelta(minutes=20))
    assert eta(run, now) == "~20 min left"
    assert eta(Run(state="running", progress=0.25, started_at=now - timedelta(hours=1)), now) == "~3.0 h left"
    assert eta(Run(state="running", progress=None, started_at=now), now) == ""
    assert eta(Run(state="running", progress=0.25, started_at=now - timedelta(days=400)), now) == ""
    assert eta(Run(state="succeeded", progress=1.0, started_at=now), now) == ""

    (pipeline,) = _bulk(mp_account, 1, prefix="eta")
    run = Run.objects.create(
        pipeline=pipeline, external_id="r", state="running", progress=0.5, started_at=now - timedelta(minutes=20)
    )
    Pipeline.objects.filter(pk=pipeline.pk).update(current_run=run, last_polled_at=now)
    assert "min left" in logged_in.get("/").content.decode()


def test_time_passing_updates_stored_health(mp_account, settings) -> None:
    """Stuck comes with time, not with polls: the tick's evaluation stores it."""
    now = timezone.now()
    (pipeline,) = _bulk(mp_account, 1, prefix="stuck", last_polled_at=now, health_status="running")
    run = Run.objects.create(
        pipeline=pipeline, external_id="r", state="running", progress=0.3, last_change_at=now - timedelta(hours=30)
    )
    Pipeline.objects.filter(pk=pipeline.pk).update(current_run=run)
    alerts.evaluate(now)
    pipeline.refresh_from_db()
    assert pipeline.health_status == "stuck"


def test_pausing_monitoring_stores_paused(polled, viewer) -> None:
    pipeline = polled["seed-success"]
    actions.set_monitoring_paused(Pipeline.objects.select_related("account").get(pk=pipeline.pk), True, viewer)
    pipeline.refresh_from_db()
    assert pipeline.health_status == "paused"


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("url", ["/", "/?health=running&sort=name", "/?kind=import&page=2"])
def test_same_queries_for_60_and_260_pipelines_with_history(logged_in, mp_account, url) -> None:
    def grow(n: int, prefix: str) -> None:
        made = _bulk(mp_account, n, prefix=prefix, health_status="running")
        runs = Run.objects.bulk_create(
            Run(pipeline=p, external_id=f"r{i}", state="running" if i == 2 else "succeeded", progress=0.4)
            for p in made
            for i in range(3)
        )
        for p in made:
            p.current_run = runs[made.index(p) * 3 + 2]
        Pipeline.objects.bulk_update(made, ["current_run"])

    grow(60, "a")
    small = _queries(logged_in, url)
    grow(200, "b")
    assert _queries(logged_in, url) == small

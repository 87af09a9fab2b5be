"""Timeline and freshness: drawn on the server, bounded queries, escaped vendor text."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jobs.models import Pipeline, Run


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def _daily(account, n: int, start: int = 0) -> None:
    now = timezone.now()
    for i in range(start, start + n):
        # Daily by configuration: the account is Mixpanel's, whose kinds have no cadence of their own.
        p = Pipeline.objects.create(
            account=account, kind="ingestion", external_id=f"src-{i}/events", expected_every_seconds=86400
        )
        for d in range(5):
            day = (now - timedelta(days=d)).date()
            Run.objects.create(
                pipeline=p,
                external_id=str(day),
                state="failed" if d == 2 else "succeeded",
                started_at=now - timedelta(days=d, hours=2),
                finished_at=now - timedelta(days=d, hours=1),
                sort_at=now - timedelta(days=d, hours=2),
                error_message="<b>boom</b>" if d == 2 else "",
            )


@pytest.mark.django_db
def test_pipeline_timeline_fragment(logged_in, mp_account) -> None:
    _daily(mp_account, 1)
    pipeline = Pipeline.objects.get()
    html = logged_in.get(f"/pipelines/{pipeline.uuid}/timeline/?range=7d", HTTP_HX_REQUEST="true").content.decode()
    assert html.count('class="bar bar-succeeded"') == 4 and html.count('class="bar bar-failed"') == 1
    assert 'class="now"' in html and "&lt;b&gt;boom&lt;/b&gt;" in html and "<b>boom" not in html
    assert "Days (last 30)" in html and html.count("day day-failed") == 1
    narrow = logged_in.get(f"/pipelines/{pipeline.uuid}/timeline/?range=24h").content.decode()
    assert narrow.count('class="bar ') < 5


@pytest.mark.django_db
def test_timeline_and_freshness_queries_do_not_grow(logged_in, mp_account) -> None:
    _daily(mp_account, 5)
    small = (_queries(logged_in, "/timeline/"), _queries(logged_in, "/freshness/"))
    _daily(mp_account, 40, start=5)
    assert (_queries(logged_in, "/timeline/"), _queries(logged_in, "/freshness/")) == small
    html = logged_in.get("/freshness/").content.decode()
    assert "src-0/events" in html and "✕" in html and "✓" in html


def test_run_page_draws_progress_over_time(logged_in, sim, mp_account, make_pipeline) -> None:
    from jobs import polling
    from vendors.mixpanel.simulator import ScriptedRun, SimConnector

    from ..conftest import T0

    sim.mixpanel.projects["12345"].add(
        SimConnector("c", runs=[ScriptedRun(queued_at=T0, queue_seconds=0, run_seconds=100)])
    )
    make_pipeline("c")
    for _ in range(4):
        sim.advance(20)
        mp_account.refresh_from_db()
        polling.poll_now(mp_account)
    run = Run.objects.get()
    html = logged_in.get(f"/runs/{run.uuid}/").content.decode()
    assert "Progress over time" in html and html.count('<circle class="dot"') == 4
    assert "80% · running" in html

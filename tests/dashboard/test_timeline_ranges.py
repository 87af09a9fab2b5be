"""Timeline ranges and axes: 1 h to 30 d with six to eight labels each, runs that began
before the window and are still open drawn to the now line, a pipeline's default range
from its cadence, and the overview's filters on /timeline/ and /freshness/."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from dashboard import timeline as tl
from jobs.models import Account, Pipeline, Run

NOW = datetime(2026, 11, 21, 15, 7, tzinfo=UTC)


@pytest.mark.parametrize("key", ["1h", "6h", "24h", "7d", "30d"])
def test_every_range_has_six_to_eight_labels_in_order(key) -> None:
    with timezone.override("UTC"):
        ticks = tl.axis(key, NOW).ticks
    assert 5 <= len(ticks) <= 8, [t.label for t in ticks]
    assert [t.x for t in ticks] == sorted(t.x for t in ticks) and len({t.label for t in ticks}) == len(ticks)
    assert [t.minor for t in ticks][:2] == [False, True]  # every other label gives way on a phone


def test_a_pipeline_default_range_follows_its_cadence(mp_account) -> None:
    make = Pipeline.objects.create
    assert tl.default_range(make(account=mp_account, kind="x", external_id="a", expected_every_seconds=300)) == "1h"
    assert tl.default_range(make(account=mp_account, kind="x", external_id="b", expected_every_seconds=3600)) == "6h"
    assert tl.default_range(make(account=mp_account, kind="x", external_id="c", expected_every_seconds=86400)) == "7d"
    spaced = make(account=mp_account, kind="x", external_id="d")
    for i in range(5):  # no cadence known: the spacing of its recent runs (every 20 min)
        when = NOW - timedelta(minutes=20 * i)
        Run.objects.create(pipeline=spaced, external_id=f"r{i}", state="succeeded", sort_at=when)
    assert tl.default_range(spaced) == "6h"
    assert tl.default_range(make(account=mp_account, kind="x", external_id="e")) == tl.DEFAULT_RANGE


@pytest.mark.django_db
def test_an_open_run_from_before_the_window_reaches_the_now_line(logged_in, mp_account) -> None:
    now = timezone.now()
    pipeline = Pipeline.objects.create(account=mp_account, kind="import_connector", external_id="backfill")
    began = now - timedelta(days=5)
    Run.objects.create(pipeline=pipeline, external_id="long", state="running", started_at=began, sort_at=began)
    html = logged_in.get("/timeline/?range=24h").content.decode()
    bar = re.search(r'<rect class="bar bar-running" x="([\d.]+)" y="\d+" width="([\d.]+)"', html)
    assert bar and float(bar.group(1)) == 0.0 and float(bar.group(2)) == 1000.0
    assert "No runs in this window" not in html
    fragment = logged_in.get(f"/pipelines/{pipeline.uuid}/timeline/?range=1h").content.decode()
    assert 'class="bar bar-running" x="0.0"' in fragment


@pytest.mark.django_db
def test_timeline_and_freshness_take_the_overview_filters(logged_in, mp_account) -> None:
    statsig = Account.objects.create(name="ss-prod", vendor="statsig")
    Pipeline.objects.create(account=statsig, kind="ingestion", external_id="snowflake", name="Snowflake events")
    Pipeline.objects.create(
        account=mp_account, kind="import_connector", external_id="s3", name="S3 import", health_status="failing"
    )
    Pipeline.objects.create(
        account=mp_account, kind="export_pipeline", external_id="bq", name="BQ daily", expected_every_seconds=86400
    )
    timeline = logged_in.get("/timeline/?vendor=statsig&range=6h").content.decode()
    assert "Snowflake events" in timeline and "S3 import" not in timeline
    assert 'name="vendor"' in timeline and '<input type="hidden" name="range" value="6h">' in timeline
    assert "range=1h&amp;vendor=statsig" in timeline  # ranges keep the filters
    failing = logged_in.get("/timeline/?health=failing").content.decode()
    assert "S3 import" in failing and "Snowflake events" not in failing
    imports = logged_in.get("/timeline/?kind=import").content.decode()
    assert "S3 import" in imports and "BQ daily" not in imports
    fresh = logged_in.get("/freshness/?vendor=mixpanel").content.decode()
    assert "BQ daily" in fresh and "Snowflake events" not in fresh
    assert "Snowflake events" in logged_in.get("/freshness/").content.decode()
    assert logged_in.get("/freshness/?health=nonsense&vendor=%00").status_code == 400

"""Long ages read as people say them, and strip ticks carry what their popover shows."""

from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard.presenters import duration, strip_html
from dashboard.templatetags.pipewatch import age
from jobs.models import Pipeline, Run, _span

pytestmark = pytest.mark.django_db


def test_long_ages_are_years_not_thousands_of_days() -> None:
    now = timezone.now()
    assert age(now - timedelta(days=2266)) == "6 years ago"
    assert age(now - timedelta(days=200)) == "6 months ago"
    assert "hours ago" in age(now - timedelta(hours=3))
    assert _span(timedelta(days=2266)) == "6 years" and _span(timedelta(days=3)) == "3 days"


def test_late_reason_gives_years_and_the_date(mp_account) -> None:
    now = timezone.now()
    pipeline = Pipeline.objects.create(
        account=mp_account,
        kind="import_connector",
        external_id="old",
        expected_every_seconds=86400,
        last_success_at=now - timedelta(days=2266),
        last_polled_at=now,
    )
    reason = Pipeline.objects.select_related("account", "current_run").get(pk=pipeline.pk).health(now).reason
    assert "last success 6 years ago (" in reason and "2266" not in reason


def test_strip_ticks_carry_duration_counts_and_message(mp_account) -> None:
    pipeline = Pipeline.objects.create(account=mp_account, kind="import_connector", external_id="s")
    start = timezone.now() - timedelta(hours=1)
    run = Run.objects.create(
        pipeline=pipeline,
        external_id="r",
        state="failed",
        started_at=start,
        finished_at=start + timedelta(minutes=4, seconds=10),
        counts={"processed": 1200, "failed": 3},
        error_message='bad "row" <3>',
    )
    assert duration(run) == "4 min 10 s"
    html = strip_html([None, run])
    assert 'data-tick data-when="' in html and 'data-duration="4 min 10 s"' in html
    assert 'data-counts="1,200 processed, 3 failed"' in html
    assert 'data-message="bad &quot;row&quot; &lt;3&gt;"' in html  # escaped, never raw

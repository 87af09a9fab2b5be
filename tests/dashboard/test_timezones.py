"""Times stored in UTC, shown in the reader's zone: their setting, else their browser's."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from dashboard.models import Preference
from dashboard.timeline import axis, bars
from jobs.models import Run

WHEN = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)


@pytest.fixture
def succeeded(polled):
    pipeline = polled["seed-success"]
    pipeline.last_success_at = WHEN
    pipeline.save(update_fields=["last_success_at"])
    return pipeline


def _title(html: str, pipeline) -> str:
    row = html.split(f'id="p-{pipeline.uuid}"')[1]
    return row.split("<time ")[1].split('title="')[1].split('"')[0]


def test_utc_without_any_hint(logged_in, succeeded) -> None:
    html = logged_in.get("/").content.decode()
    assert _title(html, succeeded) == "2026-11-20 23:30:00 UTC"
    assert "Times in UTC" in html


def test_browser_zone_from_the_cookie(logged_in, succeeded) -> None:
    logged_in.cookies["pw_tz"] = "Asia/Tokyo"
    html = logged_in.get("/").content.decode()
    assert _title(html, succeeded) == "2026-11-21 08:30:00 JST"


def test_a_bogus_cookie_is_ignored(logged_in, succeeded) -> None:
    logged_in.cookies["pw_tz"] = "Mars/Olympus<script>"
    html = logged_in.get("/").content.decode()
    assert _title(html, succeeded).endswith("UTC") and "Olympus" not in html


def test_the_persons_setting_wins_and_bad_values_are_refused(logged_in, viewer, succeeded) -> None:
    logged_in.cookies["pw_tz"] = "Asia/Tokyo"
    refused = logged_in.post("/preferences/", {"time_zone": "Nowhere/Special"})
    assert refused.status_code == 200 and "Select a valid choice" in refused.content.decode()
    assert logged_in.post("/preferences/", {"time_zone": "America/New_York"}).status_code == 302
    assert Preference.objects.get(user=viewer).time_zone == "America/New_York"
    assert _title(logged_in.get("/").content.decode(), succeeded) == "2026-11-20 18:30:00 EST"
    logged_in.post("/preferences/", {"time_zone": ""})  # back to the browser's
    assert _title(logged_in.get("/").content.decode(), succeeded).endswith("JST")


def test_preferences_need_login(client, db) -> None:
    assert client.get("/preferences/").status_code == 302


def test_chart_labels_use_the_active_zone() -> None:
    now = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)
    with timezone.override("Asia/Kolkata"):
        ticks = [t.label for t in axis("24h", now).ticks]
        run = Run(state="succeeded", started_at=now - timedelta(hours=2), finished_at=now - timedelta(hours=1))
        (bar,) = bars([run], axis("24h", now))
    assert ticks[0] == "09:00"  # the reader's round hours (every third): 03:30 UTC
    assert "IST" in bar.label and "06:30" in bar.label
    with timezone.override("UTC"):
        assert axis("24h", now).ticks[0].label == "06:00"

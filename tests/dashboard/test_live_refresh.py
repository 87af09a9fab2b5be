"""The overview's live refresh: an unchanged refresh is a bodiless 204 after at most four
queries of its own, each bounded by the page (counters, the page's ids, its rows, the newest
run change and the windows: ADR 17); a change answers the fragment; every page and JSON answer is gzipped
when the browser accepts it, and a streamed CSV stays streamed."""

import gzip
import re
from datetime import UTC, datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from jobs.models import MaintenanceWindow, Run

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
NOON = datetime(2026, 11, 20, 12, 0, 10, tzinfo=UTC)
# Session, user, the user's role groups and zone preference: what every signed-in request reads.
AUTH_TABLES = ('"django_session"', '"auth_user"', '"auth_group"', '"auth_user_groups"', '"dashboard_preference"')


def _version(html: str) -> str:
    return re.search(r'id="live"[^>]*data-version="([0-9a-f]+)"', html).group(1)


def _wire_size(response) -> int:
    """Bytes on the wire: status line, headers and body, as an HTTP/1.1 server sends them."""
    head = f"HTTP/1.1 {response.status_code} {response.reason_phrase}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in response.headers.items()) + "\r\n"
    cookies = "".join(f"{c.output()}\r\n" for c in response.cookies.values())
    return len(head.encode()) + len(cookies.encode()) + len(response.content)


def _own(queries: list[dict]) -> list[str]:
    return [q["sql"] for q in queries if not any(t in q["sql"] for t in AUTH_TABLES)]


def test_an_unchanged_refresh_is_a_tiny_204_after_four_small_queries(logged_in, polled) -> None:
    with time_machine.travel(NOON, tick=False):
        version = _version(logged_in.get("/", **HTMX).content.decode())
        with CaptureQueriesContext(connection) as captured:
            response = logged_in.get("/", HTTP_X_LIVE_VERSION=version, HTTP_ACCEPT_ENCODING="gzip", **HTMX)
    assert response.status_code == 204 and response.content == b""
    own = _own(captured.captured_queries)
    assert len(own) <= 4, own
    counted = [q for q in own if "COUNT(" in q and 'FROM "jobs_pipeline"' in q]
    assert not counted, counted  # pipelines are counted by the database as they change, never here
    assert _wire_size(response) < 1024, response.headers


def test_a_change_anywhere_it_shows_answers_the_fragment(logged_in, polled) -> None:
    with time_machine.travel(NOON, tick=False):
        version = _version(logged_in.get("/", **HTMX).content.decode())
        run = Run.objects.filter(state="running").first()
        Run.objects.filter(pk=run.pk).update(progress=0.77, last_change_at=NOON)
        changed = logged_in.get("/", HTTP_X_LIVE_VERSION=version, **HTMX)
        assert changed.status_code == 200 and "77%" in changed.content.decode()
        newer = _version(changed.content.decode())
        assert newer != version
        assert logged_in.get("/", HTTP_X_LIVE_VERSION=newer, **HTMX).status_code == 204
        MaintenanceWindow.objects.create(starts_at=NOON, ends_at=NOON.replace(hour=13), reason="upgrade")
        assert logged_in.get("/", HTTP_X_LIVE_VERSION=newer, **HTMX).status_code == 200
    # the clock alone (ages, lateness, time left) renews the fragment once a minute
    with time_machine.travel(NOON.replace(minute=2), tick=False):
        latest = _version(logged_in.get("/", **HTMX).content.decode())
        assert latest != newer


def test_filters_are_part_of_the_version(logged_in, polled) -> None:
    with time_machine.travel(NOON, tick=False):
        everything = _version(logged_in.get("/", **HTMX).content.decode())
        failing = logged_in.get("/?vendor=statsig", HTTP_X_LIVE_VERSION=everything, **HTMX)
    assert failing.status_code == 200  # another view never reuses this one's version


def test_the_announced_summary_follows_the_counters(logged_in, polled) -> None:
    html = logged_in.get("/").content.decode()
    assert 'id="live-announce"' in html and 'aria-live="polite"' in html
    assert 'data-summary="Pipelines: 1 failing, 2 running, 1 healthy"' in html


def test_pages_and_json_are_gzipped_and_csv_still_streams(logged_in, polled) -> None:
    plain = logged_in.get("/")
    packed = logged_in.get("/", HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    assert packed["Content-Encoding"] == "gzip" and "Accept-Encoding" in packed["Vary"]
    assert gzip.decompress(packed.content).decode().count("<tr id=") == 4
    assert len(packed.content) < len(plain.content) / 3
    api = logged_in.get("/api/v1/pipelines/", HTTP_ACCEPT_ENCODING="gzip")
    assert api.status_code == 200 and api["Content-Encoding"] == "gzip"
    run = Run.objects.filter(pipeline__external_id="seed-failed").first()
    csv = logged_in.get(f"/runs/{run.uuid}/items.csv", HTTP_ACCEPT_ENCODING="gzip")
    assert csv.streaming and csv["Content-Encoding"] == "gzip"
    assert gzip.decompress(b"".join(csv.streaming_content)).startswith(b"position,kind,code,message,data")

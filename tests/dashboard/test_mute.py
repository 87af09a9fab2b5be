"""Mute and maintenance are visible (issue 18): a badge with until-when and why on the
overview row, the pipeline page and the failures page; operators mute and unmute from the
pipeline and failures pages; suppressed alerts are listed with why nothing was sent."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jobs import alerts
from jobs.models import AlertChannel, AlertEvent, AuditEvent, MaintenanceWindow, Pipeline
from jobs.suppression import UNTIL_UNMUTED

from ..conftest import csrf_headers, user_with_role


@pytest.fixture
def operator(db):
    return user_with_role("olga", "operator")


def _failing(polled) -> Pipeline:
    return Pipeline.objects.get(pk=polled["seed-failed"].pk)


def test_a_muted_pipeline_is_marked_on_overview_pipeline_and_failures_pages(logged_in, polled) -> None:
    pipeline = _failing(polled)
    pipeline.muted_until = timezone.now() + timedelta(hours=4)
    pipeline.save(update_fields=["muted_until"])
    until = timezone.localtime(pipeline.muted_until).strftime("%Y-%m-%d %H:%M")
    for url in ("/", f"/pipelines/{pipeline.uuid}/", "/failures/"):
        html = logged_in.get(url).content.decode()
        assert 'class="badge badge-muted"' in html and "Muted until <time" in html and until in html, url
    # Only that pipeline: the healthy one is not marked.
    overview = logged_in.get("/").content.decode()
    assert overview.count('class="badge badge-muted"') == 1


def test_a_maintenance_window_is_marked_with_its_reason_and_end(logged_in, polled, mp_account) -> None:
    now = timezone.now()
    soon = now + timedelta(hours=2)
    MaintenanceWindow.objects.create(
        starts_at=now - timedelta(minutes=5), ends_at=soon, account=mp_account, reason="vendor upgrade"
    )
    MaintenanceWindow.objects.create(starts_at=now - timedelta(days=2), ends_at=now - timedelta(days=1), reason="old")
    pipeline = _failing(polled)
    for url in ("/", f"/pipelines/{pipeline.uuid}/", "/failures/"):
        html = logged_in.get(url).content.decode()
        assert 'class="badge badge-maintenance"' in html and "Maintenance until" in html, url
        assert "vendor upgrade" in html and "· old" not in html, url
    api = logged_in.get("/api/v1/failures/").json()["results"][0]
    assert api["suppressed"]["kind"] == "maintenance" and api["suppressed"]["why"] == "vendor upgrade"


def test_marking_mutes_costs_one_query_whatever_the_number_of_muted_rows(logged_in, mp_account, make_pipeline) -> None:
    later = timezone.now() + timedelta(hours=1)

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert logged_in.get("/").status_code == 200
        return len(ctx.captured_queries)

    for i in range(3):
        make_pipeline(f"m-{i}", muted_until=later)
    few = queries()
    for i in range(3, 30):
        make_pipeline(f"m-{i}", muted_until=later)
    MaintenanceWindow.objects.create(starts_at=timezone.now(), ends_at=later, pipeline=Pipeline.objects.first())
    assert queries() == few


def test_operator_mutes_from_the_pipeline_page_for_a_duration_and_unmutes(client, operator, polled) -> None:
    pipeline = _failing(polled)
    client.force_login(operator)
    page = client.get(f"/pipelines/{pipeline.uuid}/").content.decode()
    assert f'action="/pipelines/{pipeline.uuid}/mute/"' in page and 'value="0">until unmuted' in page
    before = timezone.now()
    response = client.post(f"/pipelines/{pipeline.uuid}/mute/", {"minutes": "240", "next": "/failures/"})
    assert response.status_code == 303 and response["Location"] == "/failures/"
    pipeline.refresh_from_db()
    assert before + timedelta(hours=4) <= pipeline.muted_until <= timezone.now() + timedelta(hours=4)
    change = AuditEvent.objects.get(action="pipeline.changed", actor=operator)
    assert "muted_until" in change.detail["changes"]

    client.post(f"/pipelines/{pipeline.uuid}/mute/", {"minutes": "0"})
    pipeline.refresh_from_db()
    assert pipeline.muted_until == UNTIL_UNMUTED
    assert "Muted until unmuted" in client.get("/").content.decode()

    response = client.post(f"/pipelines/{pipeline.uuid}/unmute/", {"next": "https://evil.example/"})
    assert response.status_code == 303 and response["Location"] == f"/pipelines/{pipeline.uuid}/"  # same site only
    pipeline.refresh_from_db()
    assert pipeline.muted_until is None
    assert 'class="badge' not in client.get("/").content.decode()


def test_mute_from_the_failures_page_returns_there(client, operator, polled) -> None:
    client.force_login(operator)
    page = client.get("/failures/?vendor=mixpanel").content.decode()
    assert "/mute/" in page and 'name="next" value="/failures/?vendor=mixpanel"' in page


@pytest.mark.parametrize("minutes", ["7", "-1", "abc", "99999999"])
def test_a_duration_not_offered_is_a_400_and_changes_nothing(client, operator, polled, minutes) -> None:
    pipeline = _failing(polled)
    client.force_login(operator)
    assert client.post(f"/pipelines/{pipeline.uuid}/mute/", {"minutes": minutes}).status_code == 400
    pipeline.refresh_from_db()
    assert pipeline.muted_until is None


def test_a_viewer_cannot_mute_and_the_refusal_is_audited(logged_in, viewer, polled) -> None:
    pipeline = _failing(polled)
    page = logged_in.get(f"/pipelines/{pipeline.uuid}/").content.decode()
    assert "/mute/" not in page  # no form for someone who may not use it
    assert logged_in.post(f"/pipelines/{pipeline.uuid}/mute/", {"minutes": "60"}).status_code == 403
    assert logged_in.post(f"/pipelines/{pipeline.uuid}/unmute/").status_code == 403
    pipeline.refresh_from_db()
    assert pipeline.muted_until is None
    assert AuditEvent.objects.filter(action="refused", actor=viewer).count() == 2


def test_mute_needs_the_csrf_token(operator, polled) -> None:
    pipeline = _failing(polled)
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)
    assert client.post(f"/pipelines/{pipeline.uuid}/mute/", {"minutes": "60"}).status_code == 403
    pipeline.refresh_from_db()
    assert pipeline.muted_until is None
    ok = client.post(f"/pipelines/{pipeline.uuid}/mute/", {"minutes": "60"}, **csrf_headers(client))
    assert ok.status_code == 303


def test_suppressed_alerts_are_listed_with_why(client, logged_in, polled, django_user_model) -> None:
    AlertChannel.objects.create(name="ops", url="json://127.0.0.1:9/hook")
    pipeline = _failing(polled)
    pipeline.muted_until = timezone.now() + timedelta(hours=1)
    pipeline.save(update_fields=["muted_until"])
    alerts.evaluate()
    event = AlertEvent.objects.get(pipeline=pipeline)
    assert event.suppressed.startswith("muted until") and not event.deliveries.exists()
    page = logged_in.get(f"/pipelines/{pipeline.uuid}/").content.decode()
    assert "Recent alerts" in page and f"not sent: {event.suppressed}" in page
    admin = Client()
    admin.force_login(django_user_model.objects.create_superuser("ada", "ada@example.com", "x" * 12))
    listing = admin.get("/admin/jobs/alertevent/?suppressed=yes").content.decode()
    assert f"suppressed: {event.suppressed}" in listing
    assert "suppressed:" not in admin.get("/admin/jobs/alertevent/?suppressed=no").content.decode()


def test_the_api_says_which_pipelines_are_muted(logged_in, polled) -> None:
    pipeline = _failing(polled)
    pipeline.muted_until = UNTIL_UNMUTED
    pipeline.save(update_fields=["muted_until"])
    listed = {p["id"]: p["suppressed"] for p in logged_in.get("/api/v1/pipelines/").json()["results"]}
    assert listed.pop(str(pipeline.uuid)) == {"kind": "muted", "until": None, "why": "muted by an operator"}
    assert set(listed.values()) == {None}
    incident = logged_in.get("/api/v1/failures/").json()["results"][0]
    assert incident["suppressed"]["kind"] == "muted" and incident["suppressed"]["until"] is None

import pytest
from django.contrib.auth.models import Group

from jobs import alerts, polling
from jobs.models import Account, Acknowledgement, AlertEvent, AuditEvent
from vendors.simulator.core import Fault

GZIP = "No compression specified but Gzip detected. Please submit a new request with correct compression as param"


@pytest.fixture
def operator(django_user_model):
    user = django_user_model.objects.create_user("olga", password="x" * 12)
    user.groups.add(Group.objects.get_or_create(name="operator")[0])
    return user


def test_failures_lists_what_needs_a_human_with_hint(logged_in, polled) -> None:
    html = logged_in.get("/failures/").content.decode()
    assert GZIP in html and "Compression setting mismatch" in html
    assert "Pipeline seed-success" not in html  # healthy things are not on call's page


def test_unpollable_account_is_one_incident(logged_in, polled, sim, mp_account) -> None:
    sim.simulator.inject(
        Fault("status", status=401, body={"status": "error", "error": "Invalid service account credentials"})
    )
    mp_account.refresh_from_db()
    polling.poll_now(mp_account)
    body = logged_in.get("/api/v1/failures/").json()["results"]
    # Refused credentials: the word the alert uses too (one vocabulary, jobs/vocabulary.py).
    assert [i["what"] for i in body] == ["credentials"]
    assert body[0]["error_kind"] == "auth" and body[0]["whose"] == "ours: credentials"
    assert "service account" in body[0]["hint"]
    alerts.evaluate()
    assert set(AlertEvent.objects.values_list("kind", flat=True)) == {"credentials"}
    assert 'class="pill pill-unknown">credentials<' in logged_in.get("/failures/").content.decode()

    # Any other reason we cannot see the account: unpollable, and no alert of its own.
    Account.objects.update(poll_error_kind="transient", poll_error_message="HTTP 503", consecutive_errors=4)
    body = logged_in.get("/api/v1/failures/").json()["results"]
    assert [(i["what"], i["error_kind"], i["whose"]) for i in body] == [
        ("unpollable", "transient", "theirs: vendor unreachable")
    ]


def test_viewer_cannot_acknowledge(logged_in, polled) -> None:
    incident = logged_in.get("/api/v1/failures/").json()["results"][0]
    assert logged_in.post(f"/failures/{incident['id']}/ack/", {"note": "x"}).status_code == 403
    assert not Acknowledgement.objects.exists()


def test_operator_acknowledges_and_snoozes_everyone_sees_it(client, logged_in, polled, operator) -> None:
    incident = logged_in.get("/api/v1/failures/").json()["results"][0]
    client.force_login(operator)
    response = client.post(
        f"/failures/{incident['id']}/ack/", {"note": "on it, vendor ticket 42", "snooze": "60"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200 and "Acknowledged by <strong>olga</strong>" in response.content.decode()
    seen = logged_in.get("/api/v1/failures/").json()["results"][0]
    assert seen["acknowledged"]["by"] == "olga" and seen["acknowledged"]["note"] == "on it, vendor ticket 42"
    assert seen["acknowledged"]["snoozed_until"] is not None
    page = logged_in.get("/failures/").content.decode()
    assert "1 snoozed hidden" in page and GZIP not in page
    assert GZIP in logged_in.get("/failures/?snoozed=1").content.decode()
    assert AuditEvent.objects.filter(action="incident.acknowledge", actor=operator).exists()


def test_api_ack_needs_operator_and_a_known_incident(logged_in, polled, operator, viewer) -> None:
    from django.test import Client

    from dashboard.auth import issue_token

    client = Client(enforce_csrf_checks=True)  # no session cookie: the bearer token alone decides
    incident = logged_in.get("/api/v1/failures/").json()["results"][0]
    viewer_token = issue_token(viewer, scope="operate")  # the role still says no
    assert (
        client.post(
            f"/api/v1/failures/{incident['id']}/ack/",
            "{}",
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {viewer_token}",
        ).status_code
        == 403
    )
    token = issue_token(operator, scope="operate")
    ok = client.post(
        f"/api/v1/failures/{incident['id']}/ack/",
        '{"note": "seen"}',
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert ok.status_code == 200 and ok.json()["acknowledged"]["by"] == "olga"
    gone = client.post(
        "/api/v1/failures/nope/ack/", "{}", content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert gone.status_code == 404


def test_a_new_incident_is_not_pre_acknowledged(logged_in, polled, operator, client) -> None:
    incident = logged_in.get("/api/v1/failures/").json()["results"][0]
    Acknowledgement.objects.create(incident=incident["id"], by=operator, note="old")
    Account.objects.update(poll_error_kind="auth", poll_error_message="401", consecutive_errors=1)
    fresh = logged_in.get("/api/v1/failures/").json()["results"]
    assert fresh[0]["what"] == "credentials" and fresh[0]["acknowledged"] is None


def _failing(mp_account, n: int) -> None:
    """n pipelines whose last run failed, the i-th failure i minutes ago (newest first is 0)."""
    from datetime import timedelta

    from django.utils import timezone

    from jobs.models import Pipeline, Run

    now = timezone.now()
    for i in range(n):
        at = now - timedelta(minutes=i)
        p = Pipeline.objects.create(
            account=mp_account,
            kind="import_connector",
            external_id=f"bulk-{i:03}",
            name=f"bulk {i:03}",
            last_polled_at=now,
            last_failure_at=at,
            health_status="failing",
        )
        run = Run.objects.create(
            pipeline=p,
            external_id="r",
            state="failed",
            vendor_status="failed",
            error_message=f"boom {i:03}",
            finished_at=at,
            sort_at=at,
        )
        p.current_run = run
        p.save(update_fields=["current_run"])
    from jobs import health

    # as the poller leaves them: health and the incident's start stored together
    health.store(Pipeline.objects.select_related("account", "current_run"), now)


def test_a_storm_of_failures_is_summed_up_and_paged_newest_first(logged_in, mp_account) -> None:
    _failing(mp_account, 60)
    first = logged_in.get("/failures/").content.decode()
    assert "<strong>60</strong> need attention: 60 failed" in first
    assert "boom 000" in first and "boom 049" in first and "boom 050" not in first
    assert "Page 1 of 2" in first and 'href="?page=2"' in first
    second = logged_in.get("/failures/?page=2").content.decode()
    assert "boom 050" in second and "boom 059" in second and "boom 000" not in second

    api = logged_in.get("/api/v1/failures/?limit=25").json()
    assert [i["message"] for i in api["results"]] == [f"boom {i:03}" for i in range(25)]
    following = logged_in.get(api["next"]).json()
    assert following["results"][0]["message"] == "boom 025"
    assert logged_in.get("/api/v1/failures/?limit=x").status_code == 400


def test_failures_page_costs_the_same_queries_for_5_or_120_incidents(logged_in, mp_account) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from jobs.models import Pipeline

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert logged_in.get("/failures/").status_code == 200
        return len(ctx.captured_queries)

    _failing(mp_account, 5)
    few = queries()
    Pipeline.objects.all().delete()
    _failing(mp_account, 120)
    assert queries() == few


def test_a_404_from_the_legacy_connectors_api_says_the_api_is_gone(logged_in, sim, mp_account, make_pipeline) -> None:
    """Mixpanel deleted the Cloud Import connectors API in November 2024: a 404 from it most
    likely means the API is gone, not the connector id. Every page showing the error says so."""
    sim.mixpanel.projects["12345"].legacy_api_removed = True
    pipeline = make_pipeline("seed-success", name="Old connector")
    polling.poll_now(mp_account)
    [incident] = logged_in.get("/api/v1/failures/").json()["results"]
    assert (incident["what"], incident["error_kind"]) == ("unpollable", "not_found")
    assert "removed its Cloud Import connectors API in November 2024" in incident["message"]
    assert "does not know" not in incident["message"]
    assert "warehouse import" in incident["hint"] and "the id is wrong" not in incident["hint"]
    for page in ("/failures/", f"/pipelines/{pipeline.uuid}/", "/"):
        assert "November 2024" in logged_in.get(page).content.decode(), page

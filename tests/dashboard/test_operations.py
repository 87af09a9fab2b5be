"""A kind's own operations through the pages and the API, as browsers and scripts call them
(CSRF enforced), against PostHog's simulator: who may, what is checked first, what the
vendor did, what is audited; and the pipeline page's facts and forms."""

from collections.abc import Iterator

import pytest
from django.test import Client

from jobs import polling
from jobs.models import Account, AuditEvent, Pipeline, Run
from jobs.tokens import issue_token
from vendors.posthog.simulator import DEMO_KEY, DEMO_PROJECT, install_demo
from vendors.simulator.core import Clock, SimServer, Simulator

from ..conftest import T0, csrf_headers, patient_vendor_http, user_with_role


@pytest.fixture
def posthog(db, product_at_t0, settings) -> Iterator[tuple[object, Clock, dict[str, Pipeline]]]:
    patient_vendor_http(settings)
    clock = Clock(T0, frozen=True)
    simulator = Simulator(clock)
    demo = install_demo(simulator, T0)
    clock.advance(600)
    server = SimServer(simulator).start()
    try:
        account = Account(name="ph", vendor="posthog", base_url=server.url, settings={"project_id": str(DEMO_PROJECT)})
        account.credentials = {"api_key": DEMO_KEY}
        account.save()
        assert polling.poll_now(account).outcome == "ok"
        pipelines = {p.display_name: p for p in Pipeline.objects.select_related("account").filter(account=account)}
        yield demo.projects[DEMO_PROJECT], clock, pipelines
    finally:
        server.stop()


def browser(role: str) -> tuple[Client, dict[str, str]]:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user_with_role(role, role))
    return client, csrf_headers(client)


def url(pipeline: Pipeline, name: str) -> str:
    return f"/pipelines/{pipeline.uuid}/operations/{name}/"


def test_an_operator_backfills_from_the_page_and_it_is_audited(posthog) -> None:
    project, _, pipelines = posthog
    bigquery = pipelines["Persons to BigQuery"]
    client, csrf = browser("operator")
    answer = client.post(url(bigquery, "backfill"), {"start": "2026-11-15", "end": "2026-11-16"}, **csrf)
    assert answer.status_code == 200 and "started a backfill of 2 days" in answer.content.decode()
    assert len(project.exports[bigquery.external_id].backfills) == 1
    event = AuditEvent.objects.get(action="pipeline.backfill")
    assert event.outcome == "ok" and event.actor_label == "operator"
    assert event.detail["values"] == {"start": "2026-11-15", "end": "2026-11-16"}


def test_inputs_are_checked_and_refusals_said(posthog) -> None:
    project, _, pipelines = posthog
    bigquery = pipelines["Persons to BigQuery"]
    client, csrf = browser("operator")
    bad = client.post(url(bigquery, "backfill"), {"start": "2026-11-16", "end": "2026-11-15"}, **csrf)
    assert bad.status_code == 422 and "must be on or after the start" in bad.content.decode()
    assert AuditEvent.objects.get(action="pipeline.backfill").outcome == "invalid"
    missing = client.post(url(bigquery, "backfill"), {"start": "2026-11-16"}, **csrf)
    assert missing.status_code == 422 and "end: required" in missing.content.decode()
    unknown = client.post(url(bigquery, "resync"), {}, **csrf)  # a table's operation, not an export's
    assert unknown.status_code == 409 and "offers no" in unknown.content.decode()
    assert client.post(url(bigquery, "retry"), {"run": "not-a-uuid"}, **csrf).status_code == 404
    other_run = Run.objects.exclude(pipeline=bigquery).first()
    assert client.post(url(bigquery, "retry"), {"run": str(other_run.uuid)}, **csrf).status_code == 404
    succeeded = Run.objects.filter(pipeline=bigquery, state="succeeded").first()
    wrong_state = client.post(url(bigquery, "retry"), {"run": str(succeeded.uuid)}, **csrf)
    assert wrong_state.status_code == 409 and "applies to canceled, failed runs" in wrong_state.content.decode()
    assert project.exports[bigquery.external_id].backfills == []  # nothing reached PostHog


def test_a_failed_interval_is_retried_from_its_row(posthog) -> None:
    _, clock, pipelines = posthog
    bigquery = pipelines["Persons to BigQuery"]
    failed = Run.objects.filter(pipeline=bigquery, state="failed").order_by("-sort_at").first()
    client, csrf = browser("operator")
    page = client.get(f"/pipelines/{bigquery.uuid}/").content.decode()
    assert f'name="run" value="{failed.uuid}"' in page and ">Retry</button>" in page
    answer = client.post(url(bigquery, "retry"), {"run": str(failed.uuid)}, **csrf)
    assert answer.status_code == 200, answer.content.decode()
    clock.advance(400)
    polling.poll_now(bigquery.account)
    failed.refresh_from_db()
    assert failed.state == "succeeded", failed.raw
    event = AuditEvent.objects.get(action="pipeline.retry")
    assert event.detail["run"] == failed.external_id


def test_the_vendor_refusing_is_a_502_with_its_words(posthog) -> None:
    _, _, pipelines = posthog
    s3 = pipelines["Events to S3"]
    client, csrf = browser("operator")
    answer = client.post(url(s3, "cancel-backfill"), {"backfill_id": "00000000-0000-0000-0000-000000000000"}, **csrf)
    assert answer.status_code == 502 and "The vendor refused" in answer.content.decode()
    assert AuditEvent.objects.get(action="pipeline.cancel-backfill").outcome == "refused"


def test_viewers_see_facts_but_no_operation(posthog) -> None:
    _, _, pipelines = posthog
    snowflake = pipelines["Events to Snowflake"]
    viewer, csrf = browser("viewer")
    page = viewer.get(f"/pipelines/{snowflake.uuid}/").content.decode()
    assert "At PostHog" in page and "Paused at PostHog" in page and "every hour" in page
    assert "/operations/" not in page
    assert viewer.post(url(snowflake, "unpause-backfill"), {}, **csrf).status_code == 403
    operator, _ = browser("operator")
    page = operator.get(f"/pipelines/{snowflake.uuid}/").content.decode()
    assert url(snowflake, "unpause-backfill") in page and url(snowflake, "backfill") in page
    assert "Resume at PostHog" in page and "Pause at PostHog" not in page  # it is paused there
    reason = snowflake.health().reason  # the error, then why nothing runs: two sentences
    assert reason.startswith("Snowflake: 250001 (08001): Incorrect username or password was specified. Paused at")
    assert "PostHog (most likely by PostHog itself" in reason and snowflake.health().status == "failing"


def test_the_api_lists_and_runs_operations(posthog) -> None:
    project, _, pipelines = posthog
    customers = pipelines["Stripe customers"]
    bigquery = pipelines["Persons to BigQuery"]
    token = issue_token(user_with_role("robot", "operator"), name="ops", scope="operate")
    api = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {token}")
    body = api.get(f"/api/v1/pipelines/{customers.uuid}/").json()
    assert {op["name"] for op in body["operations"]} == {"cancel-sync", "resync"}
    assert any(f["label"] == "Status" and f["value"] == "BillingLimitReached" for f in body["facts"])
    backfill = api.post(
        f"/api/v1/pipelines/{bigquery.uuid}/operations/backfill/",
        {"values": {"start": "2026-11-14", "end": "2026-11-14"}},
        content_type="application/json",
    )
    assert backfill.status_code == 200 and backfill.json()["ok"] is True
    assert len(project.exports[bigquery.external_id].backfills) == 1
    invalid = api.post(
        f"/api/v1/pipelines/{bigquery.uuid}/operations/backfill/",
        {"values": {"start": "2026-11-14"}},
        content_type="application/json",
    )
    assert invalid.status_code == 400 and invalid.json()["error"]["fields"] == {"end": "required"}
    nothing = api.post(f"/api/v1/pipelines/{bigquery.uuid}/operations/fly/", {}, content_type="application/json")
    assert nothing.status_code == 404
    typed = api.post(
        f"/api/v1/pipelines/{bigquery.uuid}/operations/backfill/",
        {"values": {"start": 3}},
        content_type="application/json",
    )
    assert typed.status_code == 400
    reader = issue_token(user_with_role("reader", "viewer"), name="read")
    refused = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {reader}").post(
        f"/api/v1/pipelines/{bigquery.uuid}/operations/backfill/", {}, content_type="application/json"
    )
    assert refused.status_code == 403


def test_hourly_exports_get_an_hour_grid_and_daily_ones_a_day_grid(posthog) -> None:
    _, _, pipelines = posthog
    viewer, _ = browser("viewer")
    s3 = pipelines["Events to S3"]
    grid = viewer.get(f"/pipelines/{s3.uuid}/timeline/").content.decode()
    assert "Hours (last 7 days, UTC)" in grid and "Days (last 30)" not in grid
    failed = Run.objects.filter(pipeline=s3, state="failed", external_id__gte="2026-11-14")  # Nov 14 to T0
    assert failed.exists()
    for run in failed:  # each failed hour is a red cell linking to its run
        assert f'class="hour day-failed"><a href="/runs/{run.uuid}/"' in grid
    assert grid.count('class="hour day-failed"') == failed.count()
    assert grid.count('class="hour ') == 7 * 24 and 'class="hour day-later"' in grid
    daily = viewer.get(f"/pipelines/{pipelines['Persons to BigQuery'].uuid}/timeline/").content.decode()
    assert "Days (last 30)" in daily and "Hours (last 7 days" not in daily

"""PostHog through the engine: the real poller (`poll_now`) against the simulator's demo
project over HTTP, into PostgreSQL. Exports and tables discovered; intervals recorded with
their attempts and decided by the newest; a failed interval never retried keeps its export
failing (ADR 11) until a retry lands; the automatic pause and the billing limit explained;
runs older than PostHog's 7-day listing kept; a 429 backs off; a read-only key polls."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
import time_machine

from dashboard.auth import issue_token
from jobs import alerts, polling
from jobs.failures import hint_for, incidents
from jobs.models import Account, AlertEvent, Pipeline, PollAttempt, Run
from vendors.posthog.sim_exports import Plan, SimExport, always
from vendors.posthog.sim_tables import SimSchema, SimSource
from vendors.posthog.simulator import DEMO_KEY, DEMO_PROJECT, DEMO_READONLY_KEY, PostHogWorld, install_demo
from vendors.simulator.core import Clock, SimServer, Simulator
from vendors.timeparse import parse_time

from ..conftest import T0, patient_vendor_http
from ..hostile import LONG, MARKUP, WITH_NUL

pytestmark = pytest.mark.django_db
LATER = T0 + timedelta(minutes=10)  # the demo's origin is T0: the syncs that start then are over
DEMO_PIPELINES = {
    ("batch_export", "Events to S3"),
    ("batch_export", "Persons to BigQuery"),
    ("batch_export", "Events to Snowflake"),
    ("batch_export", "Sessions to Postgres"),
    ("warehouse_table", "Stripe charges"),
    ("warehouse_table", "Stripe customers"),
    ("warehouse_table", "Stripe invoices"),
    ("warehouse_table", "Hubspot contacts"),
}


@dataclass
class Demo:
    url: str
    clock: Clock
    world: PostHogWorld
    simulator: Simulator

    def account(self, key: str = DEMO_KEY, name: str = "posthog-demo") -> Account:
        account = Account(name=name, vendor="posthog", base_url=self.url, settings={"project_id": str(DEMO_PROJECT)})
        account.credentials = {"api_key": key}
        account.save()
        return account

    def export(self, name: str) -> SimExport:
        return next(e for e in self.world.projects[DEMO_PROJECT].exports.values() if e.name == name)

    def advance(self, seconds: float, traveller: time_machine.Coordinates) -> None:
        """The simulator's clock and ours move together."""
        self.clock.advance(seconds)
        traveller.shift(timedelta(seconds=seconds))


@pytest.fixture
def demo(settings) -> Iterator[tuple[Demo, time_machine.Coordinates]]:
    patient_vendor_http(settings)
    clock = Clock(T0, frozen=True)
    simulator = Simulator(clock)
    world = install_demo(simulator, T0)
    clock.advance((LATER - T0).total_seconds())
    server = SimServer(simulator).start()
    try:
        with time_machine.travel(LATER, tick=False) as traveller:
            yield Demo(server.url, clock, world, simulator), traveller
    finally:
        server.stop()


def poll(account: Account) -> polling.PollSummary:
    account.refresh_from_db()
    return polling.poll_now(account)


def by_name(account: Account) -> dict[str, Pipeline]:
    return {p.name: p for p in Pipeline.objects.filter(account=account).select_related("account", "current_run")}


def interval_start(run: Run) -> datetime:
    start = parse_time(run.external_id.partition("/")[0], "interval")
    assert start is not None
    return start


def test_discovery_history_attempts_and_missing_intervals(demo) -> None:
    d, _ = demo
    account = d.account()
    summary = poll(account)
    assert summary.outcome == "ok" and summary.discovered == 8, summary.line()
    pipelines = by_name(account)
    assert {(p.kind, name) for name, p in pipelines.items()} == DEMO_PIPELINES
    assert {p.source for p in pipelines.values()} == {"discovered"}

    s3 = pipelines["Events to S3"]
    runs = list(Run.objects.filter(pipeline=s3))
    assert len(runs) == 10 * 24  # every hour of the demo's ten days, not PostHog's default seven
    assert min(interval_start(r) for r in runs) < LATER - timedelta(days=9)
    assert {r.external_id.count("/") for r in runs} == {1}  # <data_interval_start>/<data_interval_end>

    retried = [r for r in runs if isinstance(r.raw, dict) and "attempts" in r.raw]
    assert len(retried) == 1 and retried[0].state == "succeeded"  # decided by its newest attempt
    assert [a["status"] for a in retried[0].raw["attempts"]] == ["Failed", "Completed"]
    assert retried[0].external_id not in s3.missing_days  # a retry that landed is not missing

    failed = {r.external_id for r in runs if r.state == "failed"}
    assert failed and set(s3.missing_days) == failed  # never retried: missing data, whatever came after
    assert s3.current_run.state == "succeeded"  # the newest hour landed ...
    health = s3.health()
    assert health.status == "failing" and "AccessDenied" in str(s3.missing_days[min(failed)])  # ... still failing
    assert s3.vendor_info["destination"] == "S3" and s3.vendor_info["interval"] == "hour"

    bigquery = pipelines["Persons to BigQuery"]
    partial = Run.objects.filter(pipeline=bigquery, flags__contains=["partial"]).first()
    assert partial is not None and partial.counts["failed"] == 17
    retryable = Run.objects.filter(pipeline=bigquery, vendor_status="FailedRetryable").first()
    assert retryable is not None and retryable.error_kind == "vendor" and "Quota exceeded" in retryable.error_message


def test_an_export_posthog_paused_and_a_table_stopped_by_billing_are_explained(demo) -> None:
    d, _ = demo
    account = d.account()
    poll(account)
    pipelines = by_name(account)

    snowflake = pipelines["Events to Snowflake"]
    assert snowflake.vendor_info["paused"] is True
    assert "most likely by PostHog itself" in snowflake.vendor_info["paused_reason"]
    assert snowflake.health().status == "failing"
    assert "Incorrect username or password" in snowflake.current_run.error_message

    customers = pipelines["Stripe customers"]
    newest = customers.current_run
    assert (newest.state, newest.vendor_status, newest.error_kind) == ("failed", "BillingLimitReached", "config")
    assert "billing limit" in newest.error_message
    assert "billing limit" in hint_for(newest.error_kind, newest.error_message, customers)
    listed = {i.pipeline.name: i for i in incidents() if i.pipeline is not None}
    assert listed["Stripe customers"].error_kind == "config"
    assert "Hubspot contacts" in listed and "revoked" in listed["Hubspot contacts"].message

    invoices = pipelines["Stripe invoices"]
    assert invoices.vendor_info["should_sync"] is False and invoices.vendor_info["status"] == "Paused"

    alerts.evaluate()
    alerted = set(AlertEvent.objects.filter(kind="failed").values_list("pipeline__name", flat=True))
    assert {"Events to S3", "Events to Snowflake", "Stripe customers", "Hubspot contacts"} <= alerted


def test_a_retry_of_an_old_interval_lands_and_the_export_recovers(demo) -> None:
    d, traveller = demo
    account = d.account()
    poll(account)
    s3 = by_name(account)["Events to S3"]
    missing = sorted(s3.missing_days)
    assert missing

    export = d.export("Events to S3")
    for key in missing:  # retried at PostHog now: a new row for each interval, created now
        start, _, end = key.partition("/")
        export.backfill(parse_time(start, "start"), parse_time(end, "end"), d.clock.now())
    d.advance(600, traveller)
    summary = poll(account)
    assert summary.outcome == "ok", summary.line()

    s3.refresh_from_db()
    assert s3.missing_days == {} and s3.missing_since is None
    oldest = Run.objects.get(pipeline=s3, external_id=missing[0])
    assert oldest.state == "succeeded" and interval_start(oldest) < LATER - timedelta(days=7)
    assert Run.objects.filter(pipeline=s3).count() == 10 * 24  # the retries are attempts, not intervals
    assert by_name(account)["Events to S3"].health().status != "failing"


def test_an_export_deleted_at_posthog_is_a_problem_of_its_own(demo) -> None:
    d, _ = demo
    account = d.account()
    poll(account)
    gone = d.export("Events to Snowflake")
    del d.world.projects[DEMO_PROJECT].exports[gone.id]
    summary = poll(account)
    assert summary.outcome == "ok" and "not_found" in summary.message, summary.line()
    pipelines = by_name(account)
    snowflake = pipelines.pop("Events to Snowflake")
    assert snowflake.poll_error_kind == "not_found" and snowflake.health().status == "unknown"
    assert Run.objects.filter(pipeline=snowflake).exists()  # what was seen stays
    assert all(p.poll_error_kind == "" for p in pipelines.values())


def test_a_429_backs_off_and_a_read_only_key_still_polls(demo) -> None:
    d, _ = demo
    read_only = d.account(DEMO_READONLY_KEY, name="posthog-read-only")
    summary = poll(read_only)
    assert summary.outcome == "ok" and summary.discovered == 8, summary.line()
    assert Run.objects.filter(pipeline__account=read_only).count() > 1000

    d.world.per_minute = 3  # the key's minute is used up after three requests
    throttled = d.account(name="posthog-throttled")
    summary = poll(throttled)
    throttled.refresh_from_db()
    assert summary.outcome == "rate_limited", summary.line()
    assert "throttled" in summary.message.lower()
    assert throttled.backoff_until is not None and throttled.backoff_until > LATER
    attempt = PollAttempt.objects.filter(account=throttled).latest("at")
    assert (attempt.outcome, attempt.http_status) == ("rate_limited", 429)


def test_posthog_pipelines_in_the_api_metrics_and_pages(demo, client, viewer) -> None:
    """What every vendor's pipelines have: the API, the failures list, metrics, the pages."""
    d, _ = demo
    account = d.account()
    poll(account)
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {issue_token(viewer)}"}
    listed = client.get("/api/v1/pipelines/?vendor=posthog", **bearer).json()["results"]
    assert {(p["kind"], p["name"]) for p in listed} == DEMO_PIPELINES
    s3 = next(p for p in listed if p["name"] == "Events to S3")
    assert s3["health"] == "failing" and s3["missing_days"] and s3["current_run"]["state"] == "succeeded"
    failures = {f["pipeline_name"]: f for f in client.get("/api/v1/failures/", **bearer).json()["results"]}
    assert {"Events to S3", "Stripe customers", "Hubspot contacts"} <= set(failures)
    billing = failures["Stripe customers"]
    assert (billing["vendor"], billing["error_kind"]) == ("posthog", "config") and "billing" in billing["hint"]
    metrics = client.get("/metrics").content.decode()
    assert 'vendor="posthog"' in metrics and 'kind="batch_export"' in metrics and 'kind="warehouse_table"' in metrics
    client.force_login(viewer)
    assert "Stripe customers" in client.get("/failures/").content.decode()
    for pipeline in Pipeline.objects.filter(account=account):
        page = client.get(f"/pipelines/{pipeline.uuid}/")
        assert page.status_code == 200 and pipeline.name in page.content.decode()
    assert client.get("/timeline/?vendor=posthog").status_code == 200


def test_hostile_strings_from_posthog_are_stored_without_a_crash(demo) -> None:
    d, _ = demo
    project = d.world.projects[DEMO_PROJECT]
    born = LATER - timedelta(hours=3)
    hostile = SimExport(
        MARKUP + WITH_NUL, "hour", {"type": MARKUP, "config": {}}, born, always(Plan("Failed", 5, 0, LONG))
    )
    source = SimSource(MARKUP, born)
    source.schemas = [SimSchema(WITH_NUL, source.id, "1hour", born, always(Plan("Failed", 5, 0, MARKUP + WITH_NUL)))]
    project.exports[hostile.id], project.sources[source.id] = hostile, source
    account = d.account()
    summary = poll(account)
    assert summary.outcome == "ok" and summary.discovered == 10, summary.line()
    stored_nul = WITH_NUL.replace("\x00", "\ufffd")
    export = Pipeline.objects.get(account=account, external_id=hostile.id)
    assert export.name == (MARKUP + stored_nul)[:200] and export.vendor_info["destination"] == MARKUP
    assert {r.error_message for r in Run.objects.filter(pipeline=export)} == {LONG}
    table = Pipeline.objects.get(account=account, external_id__endswith=source.schemas[0].id)
    assert table.name == f"{MARKUP} {stored_nul}"[:200]
    assert {r.error_message for r in Run.objects.filter(pipeline=table, state="failed")} == {MARKUP + stored_nul}
    assert poll(account).outcome == "ok"  # and again: nothing left half-written

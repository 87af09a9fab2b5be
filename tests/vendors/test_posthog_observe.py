"""A poll of PostHog's demo world over HTTP, through the session and the normalizers:
discovery, intervals with their attempts, how far back a poll asks, tables and billing."""

from collections.abc import Iterator
from datetime import timedelta

import pytest

from vendors.base import NotFound, Target
from vendors.http import HttpClient, HttpSettings
from vendors.posthog.observe import (
    BATCH_EXPORT,
    HISTORY,
    LOOKBACK,
    WAREHOUSE_TABLE,
    check,
    discover,
    observe_export,
    observe_table,
    since_for,
)
from vendors.posthog.session import PostHogSession, error_parser
from vendors.posthog.simulator import DEMO_KEY, DEMO_PROJECT, PostHogWorld, install_demo
from vendors.simulator.core import Clock, SimServer, Simulator

from ..conftest import T0

FAST = HttpSettings(connect_timeout=1, read_timeout=2, total_timeout=3, retries=0)
LATER = T0 + timedelta(minutes=10)  # the syncs that start at T0 are over


@pytest.fixture
def demo() -> Iterator[tuple[PostHogSession, PostHogWorld]]:
    clock = Clock(T0, frozen=True)
    simulator = Simulator(clock)
    world = install_demo(simulator, T0)
    clock.advance((LATER - T0).total_seconds())
    server = SimServer(simulator).start()
    try:
        yield (
            PostHogSession(HttpClient(FAST, error_parser=error_parser), server.url, DEMO_KEY, str(DEMO_PROJECT)),
            world,
        )
    finally:
        server.stop()


def by_name(results):
    return {r.name: r for r in results}


def test_discovery_finds_every_export_and_table_named_as_posthog_names_them(demo) -> None:
    session, _ = demo
    found = by_name(discover(session))
    assert set(found) == {
        "Events to S3",
        "Persons to BigQuery",
        "Events to Snowflake",
        "Sessions to Postgres",
        "Stripe charges",
        "Stripe customers",
        "Stripe invoices",
        "Hubspot contacts",
    }
    assert found["Events to Snowflake"].target.kind == BATCH_EXPORT
    assert "by PostHog itself" in found["Events to Snowflake"].info["paused_reason"]
    table = found["Stripe charges"].target
    assert table.kind == WAREHOUSE_TABLE and table.external_id.count("/") == 1
    assert "4 batch exports and 4 warehouse tables" in check(session)


def test_a_first_poll_reads_thirty_days_and_an_interval_is_decided_by_its_newest_attempt(demo) -> None:
    session, _ = demo
    s3 = by_name(discover(session))["Events to S3"].target
    first = observe_export(session, s3, since_for(s3, LATER, first=True))
    assert len(first.observations) == 10 * 24  # every hour of the ten days, beyond PostHog's 7-day default
    failed = [o for o in first.observations if o.state == "failed"]
    retried = [o for o in first.observations if isinstance(o.raw, dict) and "attempts" in o.raw]
    assert failed and all("AccessDenied" in o.error.message for o in failed)
    assert len(retried) == 1 and retried[0].state == "succeeded"
    assert [a["status"] for a in retried[0].raw["attempts"]] == ["Failed", "Completed"]
    later = observe_export(session, s3, since_for(s3, LATER, first=False))
    assert len(later.observations) < 60  # a known pipeline asks for about two days


def test_a_later_poll_reaches_back_to_its_oldest_open_interval() -> None:
    target = Target(BATCH_EXPORT, "e", open_runs=("2026-11-10T00:00:00Z/2026-11-11T00:00:00Z", "garbage"))
    assert since_for(target, T0, first=False) == T0.replace(day=10, hour=0) - timedelta(hours=1)
    assert since_for(Target(BATCH_EXPORT, "e"), T0, first=False) == T0 - LOOKBACK - timedelta(hours=1)
    assert since_for(target, T0, first=True) == T0 - HISTORY


def test_tables_billing_limits_and_cancel(demo) -> None:
    session, _ = demo
    found = by_name(discover(session))
    customers = observe_table(session, found["Stripe customers"].target, LATER - HISTORY)
    newest = customers.observations[0]
    assert newest.state == "failed" and newest.error.kind == "config" and "billing limit" in newest.error.message
    assert customers.info["sync_frequency"] == "6hour"
    contacts = observe_table(session, found["Hubspot contacts"].target, LATER - HISTORY)
    assert {o.state for o in contacts.observations} == {"failed"}
    assert "revoked" in contacts.observations[0].error.message
    invoices = observe_table(session, found["Stripe invoices"].target, LATER - HISTORY)
    assert invoices.info["status"] == "Paused" and invoices.info["should_sync"] is False


def test_a_pipeline_posthog_no_longer_knows_is_a_not_found_result(demo) -> None:
    session, _ = demo
    gone = observe_export(session, Target(BATCH_EXPORT, "deleted-export"), LATER - LOOKBACK)
    assert isinstance(gone.error, NotFound) and gone.http_status == 404
    gone_table = observe_table(session, Target(WAREHOUSE_TABLE, "src/deleted"), LATER - LOOKBACK)
    assert isinstance(gone_table.error, NotFound)

"""Statsig through the engine: one call per account, discovered (source, dataset)
pipelines, days as runs, empty days, backfills created and tracked, into PostgreSQL."""

from datetime import timedelta

import pytest
import time_machine

from jobs import actions, polling
from jobs.models import Account, Pipeline, Run
from vendors.simulator.core import Clock, SimServer, Simulator
from vendors.statsig.simulator import SimConsole, SimSource, StatsigWorld, scripted_day

from ..conftest import T0

KEY = "console-engine-test-key"
TODAY = T0.date()


@pytest.fixture
def statsig(db):
    clock = Clock(T0, frozen=True)
    simulator = Simulator(clock)
    source = SimSource("snowflake-prod", "events", "snowflake")
    source.days = [
        scripted_day(TODAY - timedelta(days=2), rows=1000),
        scripted_day(TODAY - timedelta(days=3), ("IMPORT_SCHEDULED", "IMPORT_STARTED", "LOADED_EMPTY_DATA")),
        scripted_day(TODAY - timedelta(days=4), ("IMPORT_SCHEDULED", "QUERY_ERROR"), message="SQL compilation error"),
    ]
    console = SimConsole(KEY).add(
        source, SimSource("bq", "export_exposures", "bigquery", days=[scripted_day(TODAY - timedelta(days=2), rows=5)])
    )
    StatsigWorld([console]).install(simulator)
    server = SimServer(simulator).start()
    account = Account(name="statsig-prod", vendor="statsig", base_url=server.url, settings={"window_days": 7})
    account.credentials = {"api_key": KEY}
    account.save()
    with time_machine.travel(T0, tick=True):
        yield account, simulator, clock
    server.stop()


def test_discovery_days_and_backfill(statsig, viewer) -> None:
    account, simulator, clock = statsig
    summary = polling.poll_now(account)
    assert summary.outcome == "ok" and summary.discovered == 2, summary.line()
    assert sum(1 for _, path in simulator.request_log if path.endswith("/ingestion/status")) == 1
    events = Pipeline.objects.get(kind="ingestion", external_id="snowflake-prod/events")
    assert events.source == "discovered" and events.cadence_seconds() == 86400
    days = {r.external_id: r for r in Run.objects.filter(pipeline=events)}
    assert days[str(TODAY - timedelta(days=2))].state == "succeeded"
    assert days[str(TODAY - timedelta(days=2))].counts == {"rows": 1000}
    assert days[str(TODAY - timedelta(days=3))].flags == ["empty"]
    failed = days[str(TODAY - timedelta(days=4))]
    assert failed.state == "failed" and failed.error_kind == "query" and "SQL compilation" in failed.error_message

    result = actions.create(
        account,
        "backfill",
        {
            "datestamp_start": str(TODAY - timedelta(days=3)),
            "datestamp_end": str(TODAY - timedelta(days=2)),
            "type": "snowflake-v2",
            "dataset": "Events",
        },
        viewer,
    )
    assert result.ok, result.message
    backfills = Pipeline.objects.get(kind="backfill")
    run = Run.objects.get(pipeline=backfills)
    account.refresh_from_db()
    polling.poll_now(account)
    clock.advance(3600)
    account.refresh_from_db()
    polling.poll_now(account)
    run.refresh_from_db()
    assert run.state == "succeeded" and run.closed

    bad = actions.create(account, "backfill", {"datestamp_start": "2026-13-01", "type": "oracle"}, viewer)
    assert not bad.ok and {"datestamp_start", "type"} <= set(bad.field_errors)

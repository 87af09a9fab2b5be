"""PostHog through the poller, at its edges: a retry made long after its interval keeps every
attempt, discovery reads only exports it does not know, an alert carries PostHog's own hint,
and an interval running longer than the lookback is read until it ends."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from jobs import payload
from jobs.models import Account, Pipeline, Run
from vendors.posthog.sim_exports import Plan, SimExport
from vendors.posthog.sim_world import SimProject
from vendors.posthog.simulator import DEMO_KEY, DEMO_PROJECT, PostHogWorld, SimKey
from vendors.simulator.core import Clock, SimServer, Simulator
from vendors.timeparse import parse_time

from ..conftest import T0
from .test_posthog_engine import LATER, by_name, demo, poll  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db


def test_a_late_retry_keeps_every_attempt_of_its_interval(demo) -> None:  # noqa: F811
    d, traveller = demo
    account = d.account()
    poll(account)
    key = min(by_name(account)["Events to S3"].missing_days)  # failed nine days ago, never retried
    start, _, end = key.partition("/")
    d.export("Events to S3").backfill(parse_time(start, "start"), parse_time(end, "end"), d.clock.now())
    d.advance(600, traveller)
    poll(account)
    run = Run.objects.get(pipeline__name="Events to S3", external_id=key)
    assert run.state == "succeeded"  # holds
    assert [a["status"] for a in run.raw.get("attempts", [])] == ["Failed", "Completed"]


def test_discovery_does_not_reread_the_history_of_known_exports(demo) -> None:  # noqa: F811
    d, _ = demo
    account = d.account()
    poll(account)
    postgres = by_name(account)["Sessions to Postgres"]  # every 15 minutes: 960 runs in ten days
    runs_path = f"/api/projects/{DEMO_PROJECT}/batch_exports/{postgres.external_id}/runs/"
    before = len(d.simulator.request_log)
    poll(account)  # poll_now discovers too
    pages = sum(1 for _, path in d.simulator.request_log[before:] if path == runs_path)
    assert pages <= 2  # two days of 96 intervals: what a known export's poll reads


def test_an_alert_for_a_billing_stop_carries_posthogs_hint(demo) -> None:  # noqa: F811
    d, _ = demo
    account = d.account()
    poll(account)
    customers = by_name(account)["Stripe customers"]
    body = payload.build(customers, "failed", LATER, "Stripe customers failed", "billing", None)
    assert body["error"]["kind"] == "config"  # holds
    assert "billing limit" in body["error"]["hint"]


@pytest.fixture
def slow_interval():
    """An hourly export whose interval of T0-2h runs for three days (PostHog retries inside a
    run without limit), then completes."""
    clock = Clock(T0, frozen=True)
    simulator = Simulator(clock)
    slow_start = T0 - timedelta(hours=2)

    def script(start, attempt=0):
        return Plan("Completed", 3 * 86400 if start == slow_start else 60, 500)

    export = SimExport("Slow to S3", "hour", {"type": "S3", "config": {}}, slow_start, script)
    project = SimProject(DEMO_PROJECT, exports={export.id: export})
    PostHogWorld(keys={DEMO_KEY: SimKey({DEMO_PROJECT})}, projects={DEMO_PROJECT: project}).install(simulator)
    clock.advance((LATER - T0).total_seconds())
    server = SimServer(simulator).start()
    account = Account(name="ph-slow", vendor="posthog", base_url=server.url, settings={"project_id": str(DEMO_PROJECT)})
    account.credentials = {"api_key": DEMO_KEY}
    account.save()
    try:
        with time_machine.travel(LATER, tick=False) as traveller:
            yield account, clock, traveller, f"{slow_start:%Y-%m-%dT%H:%M:%SZ}"
    finally:
        server.stop()


def test_an_interval_running_longer_than_the_lookback_is_seen_to_finish(slow_interval) -> None:
    account, clock, traveller, start = slow_interval
    poll(account)
    pipeline = Pipeline.objects.get(account=account)
    run = Run.objects.get(pipeline=pipeline, external_id__startswith=start)
    assert run.state == "running"
    later = 3 * 86400 + 3600
    clock.advance(later)
    traveller.shift(timedelta(seconds=later))
    poll(account)
    run.refresh_from_db()
    assert run.state == "succeeded"

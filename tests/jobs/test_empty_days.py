"""Empty days (issue 18, ADR 13): a day that loaded nothing (`LOADED_EMPTY_DATA`) is its own
state; with the pipeline's `empty_day_is_failure` it counts as a missing day for health,
/failures/ and alerts until it is reloaded with rows. End to end: the Statsig simulator,
the real poller and alert sender, a local webhook."""

from datetime import timedelta

import pytest
import time_machine
from django.test import Client

from jobs import alerts, polling
from jobs.emptydays import set_empty_day_is_failure
from jobs.models import EMPTY, FAILING, HEALTHY, AlertEvent, Pipeline, Run, Team
from vendors.simulator.core import Clock, SimServer, Simulator
from vendors.statsig.simulator import SimConsole, SimSource, StatsigWorld, scripted_day

from ..conftest import T0
from .test_alerts import Receiver, channel

KEY = "console-empty-days-key"
TODAY = T0.date()
EMPTY_DAY = TODAY - timedelta(days=1)
EMPTY_PATH = ("IMPORT_SCHEDULED", "IMPORT_STARTED", "LOADED_EMPTY_DATA")


class World:
    def __init__(self, clock: Clock, traveller: object, source: SimSource, account: object) -> None:
        self.clock, self.traveller, self.source, self.account = clock, traveller, source, account

    def at(self, minutes: float) -> None:
        target = T0 + timedelta(minutes=minutes)
        self.clock.advance((target - self.clock.now()).total_seconds())
        self.traveller.move_to(target)

    def cycle(self) -> None:
        self.account.refresh_from_db()
        polling.poll_now(self.account)
        alerts.evaluate()
        alerts.deliver_due()


@pytest.fixture
def world(db, settings):
    from jobs.models import Account

    settings.SITE_URL = "https://pipewatch.example.com"
    settings.ALERT_CHANNEL_ALLOWED_HOSTS = ["127.0.0.1"]
    clock = Clock(T0, frozen=True)
    simulator = Simulator(clock)
    source = SimSource("snowflake-prod", "events", "snowflake")
    source.days = [
        scripted_day(TODAY - timedelta(days=2), rows=1000),
        scripted_day(EMPTY_DAY, EMPTY_PATH, at=T0 + timedelta(minutes=10), gap=5 * 60),  # empty 20 min from now
    ]
    StatsigWorld([SimConsole(KEY).add(source)]).install(simulator)
    server = SimServer(simulator).start()
    account = Account(name="statsig-prod", vendor="statsig", base_url=server.url, settings={"window_days": 7})
    account.credentials = {"api_key": KEY}
    account.team = Team.objects.create(slug="growth", name="Growth")
    account.save()
    with time_machine.travel(T0, tick=False) as traveller:
        yield World(clock, traveller, source, account)
    server.stop()


def _pipeline() -> Pipeline:
    return Pipeline.objects.select_related("account", "current_run").get(kind="ingestion")


@pytest.mark.django_db
def test_an_empty_day_is_shown_as_empty_and_is_healthy_by_default(world, viewer) -> None:
    world.cycle()
    world.at(25)  # yesterday loaded no data
    world.cycle()
    pipeline = _pipeline()
    assert pipeline.current_run.external_id == str(EMPTY_DAY) and pipeline.current_run.is_empty
    assert pipeline.health().status == HEALTHY and pipeline.missing_days == {}
    client = Client()
    client.force_login(viewer)
    overview = client.get("/").content.decode()
    assert '<a class="tick tick-empty" href=' in overview and "empty, no data loaded" in overview
    assert "empty (no data loaded)" in overview  # the legend
    grid = client.get(f"/pipelines/{pipeline.uuid}/timeline/").content.decode()
    assert 'class="day day-empty"' in grid and f"{EMPTY_DAY} loaded no data" in grid
    assert client.get("/api/v1/failures/").json()["results"] == []
    assert not AlertEvent.objects.filter(kind="failed").exists()


@pytest.mark.django_db
def test_with_the_option_an_empty_day_fails_alerts_once_and_recovers_when_reloaded(world, viewer) -> None:
    hook = Receiver()
    try:
        channel("growth-hook", hook.url)
        world.cycle()
        pipeline = _pipeline()
        assert set_empty_day_is_failure(pipeline, True)
        world.at(25)
        world.cycle()
        pipeline = _pipeline()
        assert list(pipeline.missing_days) == [str(EMPTY_DAY)]
        assert pipeline.missing_days[str(EMPTY_DAY)]["kind"] == EMPTY
        health = pipeline.health()
        assert health.status == FAILING and "loaded no data" in health.reason, health
        assert pipeline.health_status == FAILING and pipeline.incident_since == T0 + timedelta(minutes=20)

        client = Client()
        client.force_login(viewer)
        [incident] = client.get("/api/v1/failures/").json()["results"]
        assert incident["missing_days"] == [str(EMPTY_DAY)]
        assert "loaded no data" in client.get("/failures/").content.decode()
        grid = client.get(f"/pipelines/{pipeline.uuid}/timeline/").content.decode()
        assert "loaded no data (counts as a failure here)" in grid

        [note] = hook.received
        assert (note["event"], note["severity"]) == ("failed", "failure")
        assert note["team"] == {"slug": "growth", "name": "Growth"}
        assert note["error"]["kind"] == EMPTY and note["error"]["vendor_code"] == "LOADED_EMPTY_DATA"
        assert note["missing_days"] == [str(EMPTY_DAY)] and "Team: Growth" in note["message"]

        world.source.day(EMPTY_DAY).reopen(T0 + timedelta(minutes=60), rows=500, run_seconds=300)
        for minutes in (70, 80):  # Statsig reloads the day, this time with rows
            world.at(minutes)
            world.cycle()
        pipeline = _pipeline()
        assert pipeline.missing_days == {} and pipeline.health_status == HEALTHY
        assert [n["event"] for n in hook.received] == ["failed", "recovered"]
    finally:
        hook.close()


@pytest.mark.django_db
def test_switching_the_option_rereads_recorded_empty_days_both_ways(world) -> None:
    world.cycle()
    world.at(25)
    world.cycle()
    pipeline = _pipeline()
    assert pipeline.health_status == HEALTHY
    assert set_empty_day_is_failure(pipeline, True)
    pipeline = _pipeline()
    assert list(pipeline.missing_days) == [str(EMPTY_DAY)] and pipeline.health_status == FAILING
    assert not set_empty_day_is_failure(pipeline, True)  # no change, nothing written
    assert set_empty_day_is_failure(pipeline, False)
    pipeline = _pipeline()
    assert pipeline.missing_days == {} and pipeline.health_status == HEALTHY


@pytest.mark.django_db
def test_a_job_stream_whose_last_run_loaded_nothing_fails_only_with_the_option(mp_account) -> None:
    """Runs that are not days (a Mixpanel import connector): the current run speaks."""
    from django.utils import timezone

    from jobs.failures import incidents
    from jobs.payload import build

    now = timezone.now()
    pipeline = Pipeline.objects.create(
        account=mp_account, kind="import_connector", external_id="c1", last_polled_at=now
    )
    run = Run.objects.create(
        pipeline=pipeline, external_id="r1", state="succeeded", vendor_status="succeeded", counts={"processed": 0}
    )
    pipeline.current_run = run
    pipeline.save()
    pipeline = Pipeline.objects.select_related("account", "current_run").get(pk=pipeline.pk)
    assert run.is_empty and not pipeline.is_periodic
    assert pipeline.health(now).status == HEALTHY
    assert set_empty_day_is_failure(pipeline, True, now)
    pipeline = Pipeline.objects.select_related("account", "current_run").get(pk=pipeline.pk)
    assert pipeline.missing_days == {}  # not a daily pipeline: nothing kept as a missing day
    assert pipeline.health_status == FAILING and "loaded no data" in pipeline.health(now).reason
    [incident] = incidents(now)
    assert (incident.what, incident.error_kind, incident.code) == ("failed", EMPTY, "succeeded")
    body = build(pipeline, "failed", now, "t", "m", pipeline.incident_since)
    assert body["error"]["kind"] == EMPTY and body["run"]["id"] == str(run.uuid)
    run.counts = {"processed": 10}
    run.save()
    pipeline = Pipeline.objects.select_related("account", "current_run").get(pk=pipeline.pk)
    assert pipeline.health(now).status == HEALTHY  # rows again: fine

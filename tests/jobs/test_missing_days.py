"""Nothing broken reads healthy (issue 18): a daily pipeline's failed day stays failing
until that same day lands, one alert and one recovery, each only where it belongs.
End to end: the Statsig simulator, the real poller and alert sender, a local webhook."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.test import Client

from jobs import alerts, polling
from jobs.models import FAILING, AlertDelivery, AlertEvent, Pipeline, day_label
from vendors.simulator.core import Clock, SimServer, Simulator
from vendors.statsig.simulator import SimConsole, SimSource, StatsigWorld, scripted_day

from ..conftest import T0
from .test_alerts import Receiver, channel

KEY = "console-missing-days-key"
TODAY = T0.date()
FAILED_DAY = TODAY - timedelta(days=1)
SQL_ERROR = "SQL compilation error: object 'EVENTS_{ds}' does not exist"
PATH_OK = ("IMPORT_SCHEDULED", "IMPORT_STARTED", "IMPORT_SUCCESSFUL")


class World:
    """The Statsig simulator and our clock, moved together."""

    def __init__(self, clock: Clock, traveller: object, source: SimSource, account: object) -> None:
        self.clock, self.traveller, self.source, self.account = clock, traveller, source, account

    def at(self, minutes: float) -> None:
        target = T0 + timedelta(minutes=minutes)
        seconds = (target - self.clock.now()).total_seconds()
        self.clock.advance(seconds)
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
    settings.ALERT_CHANNEL_ALLOWED_HOSTS = ["127.0.0.1"]  # the egress policy for channel URLs
    clock = Clock(T0, frozen=True)
    simulator = Simulator(clock)
    source = SimSource("snowflake-prod", "events", "snowflake")
    source.days = [
        scripted_day(TODAY - timedelta(days=3), rows=1000),
        scripted_day(TODAY - timedelta(days=2), rows=1000),
        # yesterday's load fails 20 minutes from now
        scripted_day(
            FAILED_DAY,
            ("IMPORT_SCHEDULED", "IMPORT_STARTED", "QUERY_ERROR"),
            at=T0 + timedelta(minutes=10),
            gap=5 * 60,
            message=SQL_ERROR,
        ),
        # today's starts an hour from now and lands 20 minutes later
        scripted_day(TODAY, PATH_OK, at=T0 + timedelta(minutes=60), gap=10 * 60, rows=900),
    ]
    StatsigWorld([SimConsole(KEY).add(source)]).install(simulator)
    server = SimServer(simulator).start()
    account = Account(name="statsig-prod", vendor="statsig", base_url=server.url, settings={"window_days": 7})
    account.credentials = {"api_key": KEY}
    account.save()
    with time_machine.travel(T0, tick=False) as traveller:
        yield World(clock, traveller, source, account)
    server.stop()


def _deliveries(receiver: Receiver) -> list[tuple[str, str]]:
    return [(r["event"], r["type"]) for r in receiver.received]


@pytest.mark.django_db
def test_a_failed_day_reads_failing_until_that_day_lands_one_alert_one_recovery(world, viewer) -> None:
    now_hook, patient_hook = Receiver(), Receiver()
    try:
        channel("ops", now_hook.url)
        channel("patient", patient_hook.url, min_consecutive_failures=2)
        world.cycle()  # first look: two good days
        pipeline = Pipeline.objects.get(kind="ingestion")
        assert pipeline.health_status == "healthy"

        world.at(25)  # yesterday's load has failed
        world.cycle()
        assert _deliveries(now_hook) == [("failed", "failure")]
        note = now_hook.received[0]
        pipeline.refresh_from_db()
        assert note["schema"] == "pipewatch.alert/1" and note["health"] == FAILING
        assert note["pipeline"]["id"] == str(pipeline.uuid) and note["pipeline"]["name"] == pipeline.display_name
        assert note["pipeline"]["url"] == f"https://pipewatch.example.com/pipelines/{pipeline.uuid}/"
        assert (note["vendor"], note["account"]["name"], note["pipeline"]["kind"]) == (
            "statsig",
            "statsig-prod",
            "ingestion",
        )
        assert note["run"]["key"] == str(FAILED_DAY) and note["run"]["url"].endswith(f"/runs/{note['run']['id']}/")
        assert note["error"]["vendor_code"] == "QUERY_ERROR" and "SQL compilation" in note["error"]["vendor_message"]
        assert note["error"]["kind"] == "query" and note["error"]["hint"]
        assert note["missing_days"] == [str(FAILED_DAY)]
        failed_at = T0 + timedelta(minutes=20)
        assert note["since"] == "2026-11-20T12:20:00Z" == note["at"].replace("12:25", "12:20")

        client = Client()
        client.force_login(viewer)
        for minutes in (65, 85):  # today's load runs, then lands: yesterday is still missing
            world.at(minutes)
            world.cycle()
            pipeline.refresh_from_db()
            assert pipeline.health(pipeline.last_polled_at).status == FAILING, minutes
            assert pipeline.health_status == FAILING and pipeline.incident_since == failed_at
            page = client.get("/failures/").content.decode()
            assert pipeline.display_name in page and str(FAILED_DAY) in page
            api = client.get("/api/v1/failures/").json()["results"]
            assert [(i["pipeline"], i["missing_days"], i["since"]) for i in api] == [
                (str(pipeline.uuid), [str(FAILED_DAY)], "2026-11-20T12:20:00Z")
            ]
            listed = client.get("/api/v1/pipelines/?health=failing").json()["results"]
            assert [p["id"] for p in listed] == [str(pipeline.uuid)]
            assert "1 day failed" in client.get("/?health=failing").content.decode()
        assert _deliveries(now_hook) == [("failed", "failure")]  # still one alert, no early recovery

        world.source.day(FAILED_DAY).reopen(T0 + timedelta(minutes=120), rows=1200, run_seconds=600)
        world.at(135)  # Statsig reloads the day and it lands
        world.cycle()
        pipeline.refresh_from_db()
        assert pipeline.health_status == "healthy" and pipeline.missing_days == {}
        assert pipeline.incident_since is None
        assert client.get("/api/v1/failures/").json()["results"] == []
        for minutes in range(140, 200, 10):
            world.at(minutes)
            world.cycle()
        assert _deliveries(now_hook) == [("failed", "failure"), ("recovered", "success")]
        recovered = now_hook.received[1]
        assert recovered["schema"] == "pipewatch.alert/1" and recovered["health"] == "healthy"
        assert recovered["since"] == "2026-11-20T12:20:00Z" and recovered["missing_days"] == []
        assert patient_hook.received == []  # one failure: not told of it, so not of its end
        assert AlertEvent.objects.filter(pipeline=pipeline).count() == 2
        assert set(AlertDelivery.objects.values_list("status", flat=True)) == {"sent"}
    finally:
        now_hook.close()
        patient_hook.close()


@pytest.mark.django_db
def test_the_next_day_running_or_landing_does_not_hide_a_failed_day(world, viewer) -> None:
    client = Client()
    client.force_login(viewer)
    world.cycle()
    world.at(25)
    world.cycle()
    pipeline = Pipeline.objects.select_related("account", "current_run").get(kind="ingestion")
    assert pipeline.health().status == FAILING
    for minutes, state in ((75, "running"), (85, "succeeded")):
        world.at(minutes)
        world.cycle()
        pipeline = Pipeline.objects.select_related("account", "current_run").get(kind="ingestion")
        assert pipeline.current_run.external_id == str(TODAY) and pipeline.current_run.state == state
        health = pipeline.health()
        assert health.status == FAILING and str(FAILED_DAY) in health.reason, (minutes, health)
        from jobs.failures import incidents

        found = incidents()
        assert [(i.pipeline.pk, i.what, i.missing) for i in found] == [(pipeline.pk, "failed", [str(FAILED_DAY)])]
        assert found[0].code == "QUERY_ERROR" and found[0].error_kind == "query"
        metrics = Client().get("/metrics").content.decode()  # the test client's address is allowed
        assert 'pipewatch_pipelines{health="failing"} 1.0' in metrics
        overview = client.get("/").content.decode()
        assert re.search(r"counter-failing[^>]*>.*?<strong>1</strong>", overview), "overview counter"
    assert [e.kind for e in AlertEvent.objects.order_by("pk")] == ["failed"]


@pytest.mark.django_db
def test_a_mixpanel_data_pipeline_window_that_failed_stays_failing_until_retried(
    product_at_t0, sim, mp_account, logged_in
) -> None:
    # Signed in on T0 too (product_at_t0): a session cookie dated on another day would have expired at T0.
    from vendors.mixpanel.nessie_simulator import SimPipeline

    from .test_mixpanel_engine import YESTERDAY, add_nessie, poll

    nessie: SimPipeline = add_nessie(sim, outcomes={1: "failed"})  # later windows succeed
    with time_machine.travel(T0, tick=False):
        poll(mp_account)  # discovered
        poll(mp_account)  # its tasks
        alerts.evaluate()
        pipeline = Pipeline.objects.select_related("account", "current_run").get(kind="export_pipeline")
        assert pipeline.current_run.state == "queued"  # the next window is on its way; older ones landed
        health = pipeline.health()
        assert health.status == FAILING and len(pipeline.missing_days) == 1, health
        [window] = pipeline.missing_days
        assert window.startswith(str(YESTERDAY - timedelta(days=2)))
        page = logged_in.get("/failures/").content.decode()
        assert "events-daily-gcs-raw" in page and f"<code>{day_label(window)}</code>" in page
        assert window not in page  # the window key reads as its day

        nessie.outcomes[1] = "succeeded"  # the retry of that window lands
        poll(mp_account)
        alerts.evaluate()
        pipeline = Pipeline.objects.select_related("account", "current_run").get(kind="export_pipeline")
        assert pipeline.health().status == "running" and pipeline.missing_days == {}  # only the next window left
        assert logged_in.get("/api/v1/failures/").json()["results"] == []
    assert [e.kind for e in AlertEvent.objects.order_by("pk")] == ["failed", "recovered"]

"""Alerts people can trust (issue 18): a recovery goes only where the failure went, and
every alert's severity follows its event, into real local webhook receivers."""

from datetime import timedelta

import pytest
import time_machine

from jobs import alerts, polling
from jobs.models import AlertDelivery
from vendors.mixpanel.simulator import ScriptedRun, SimConnector

from ..conftest import T0
from .test_alerts import GZIP, Receiver, channel


@pytest.fixture
def hooks(settings):
    settings.ALERT_CHANNEL_ALLOWED_HOSTS = ["127.0.0.1"]  # the egress policy for channel URLs
    made = {name: Receiver() for name in ("now", "patient")}
    yield made
    for receiver in made.values():
        receiver.close()


@pytest.fixture
def clock(sim):
    """Our clock and the simulator's, moved together."""
    with time_machine.travel(T0, tick=False) as traveller:

        def advance(seconds: float) -> None:
            sim.advance(seconds)
            traveller.shift(timedelta(seconds=seconds))

        yield advance


def cycle(account) -> None:
    account.refresh_from_db()
    polling.poll_now(account)
    alerts.evaluate()
    alerts.deliver_due()


@pytest.mark.django_db
def test_a_recovery_goes_only_where_the_failure_went(sim, mp_account, make_pipeline, hooks, clock) -> None:
    runs = [
        ScriptedRun(queued_at=T0, queue_seconds=5, run_seconds=100, outcome="failed", message=GZIP, run_id="r1"),
        ScriptedRun(queued_at=T0 + timedelta(seconds=100), queue_seconds=5, run_seconds=50, run_id="r2"),
    ]
    sim.mixpanel.projects["12345"].add(SimConnector("flaky", runs=runs))
    make_pipeline("flaky", name="Flaky S3 import")
    channel("ops-now", hooks["now"].url)
    channel("ops-patient", hooks["patient"].url, min_consecutive_failures=2)
    clock(10)
    cycle(mp_account)
    clock(40)  # one failure
    cycle(mp_account)
    clock(120)  # the next run succeeds
    cycle(mp_account)
    assert [r["title"].split("]")[0] for r in hooks["now"].received] == ["[FAILED", "[RECOVERED"]
    assert hooks["patient"].received == []  # never told of the failure: no recovery either
    assert AlertDelivery.objects.filter(channel__name="ops-patient").count() == 0


@pytest.mark.django_db
def test_severity_follows_the_event(sim, mp_account, make_pipeline, hooks, clock, settings) -> None:
    settings.SITE_URL = "https://pipewatch.example.com"
    runs = [
        # no visible progress (under 1%) for 4,000 s, then it fails
        ScriptedRun(
            queued_at=T0, queue_seconds=0, run_seconds=1_000_000, outcome="failed", message=GZIP, fail_at=0.004
        ),
        ScriptedRun(queued_at=T0 + timedelta(hours=2), queue_seconds=0, run_seconds=10, run_id="good"),
    ]
    sim.mixpanel.projects["12345"].add(SimConnector("wobbly", runs=runs))
    pipeline = make_pipeline("wobbly", name="Wobbly import", stuck_after_seconds=600)
    channel("ops", hooks["now"].url)
    clock(5)
    cycle(mp_account)  # running
    clock(1200)  # 20 minutes without progress: stuck
    cycle(mp_account)
    clock(4100 - 1205)  # then it failed
    cycle(mp_account)
    clock(3600)  # and the next run succeeded
    cycle(mp_account)
    assert [(r["title"].split("]")[0], r["type"]) for r in hooks["now"].received] == [
        ("[STUCK", "warning"),
        ("[FAILED", "failure"),
        ("[RECOVERED", "success"),
    ]
    got = [(r["event"], r["type"], r["severity"]) for r in hooks["now"].received]
    assert got == [
        ("stuck", "warning", "warning"),
        ("failed", "failure", "failure"),
        ("recovered", "success", "success"),
    ]
    stuck, failed, recovered = hooks["now"].received
    for note in (stuck, failed, recovered):
        assert note["schema"] == "pipewatch.alert/1" and note["pipeline"]["id"] == str(pipeline.uuid)
        assert note["pipeline"]["url"] == f"https://pipewatch.example.com/pipelines/{pipeline.uuid}/"
        assert (note["vendor"], note["account"]["name"]) == ("mixpanel", "mp-test")
    assert stuck["health"] == "stuck" and stuck["error"]["kind"] == "stuck" and stuck["error"]["hint"]
    assert stuck["since"] == "2026-11-20T12:00:05Z"  # its last change: when we first saw it run
    assert failed["health"] == "failing" and failed["run"]["id"]
    assert failed["error"]["vendor_message"] == GZIP and "gzip" in failed["error"]["hint"]
    assert recovered["health"] == "healthy" and recovered["since"] == stuck["since"] and recovered["error"] is None

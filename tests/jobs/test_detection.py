"""Stuck and late detection with frozen time; count checks."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from jobs import polling
from jobs.models import Pipeline, Run
from vendors.mixpanel.simulator import ScriptedRun, SimConnector

from ..conftest import T0


def fresh(pipeline: Pipeline) -> Pipeline:
    return Pipeline.objects.select_related("account", "current_run").get(pk=pipeline.pk)


@pytest.mark.django_db
def test_a_run_that_stops_changing_becomes_stuck_even_while_the_vendor_says_running(
    sim, mp_account, make_pipeline, settings
) -> None:
    settings.STUCK_AFTER_SECONDS = 3600
    pipeline = make_pipeline("seed-running")  # the seed's run sits at 25 % forever
    with time_machine.travel(datetime(2026, 11, 23, 8, 0, tzinfo=UTC), tick=False) as clock:
        polling.poll_now(mp_account)
        assert fresh(pipeline).health().status == "running"
        clock.shift(timedelta(minutes=59))
        mp_account.refresh_from_db()
        polling.poll_now(mp_account)
        assert fresh(pipeline).health().status == "running"
        clock.shift(timedelta(minutes=2))
        health = fresh(pipeline).health()
        assert health.status == "stuck" and "No progress for 1 h 1 min" in health.reason
        Pipeline.objects.filter(pk=pipeline.pk).update(stuck_after_seconds=7200)  # adjustable per pipeline
        assert fresh(pipeline).health().status == "running"


@pytest.mark.django_db
def test_stuck_threshold_is_learned_from_successful_runs(sim, mp_account, make_pipeline, settings) -> None:
    settings.STUCK_MIN_SECONDS, settings.STUCK_HISTORY_FACTOR = 60, 3
    runs = [
        ScriptedRun(queued_at=T0 + timedelta(minutes=10 * i), queue_seconds=0, run_seconds=120, run_id=f"r{i}")
        for i in range(4)
    ]
    sim.mixpanel.projects["12345"].add(SimConnector("regular", runs=runs))
    pipeline = make_pipeline("regular")
    sim.advance(3600)
    polling.poll_now(mp_account)  # history: learned on the first success transition after this
    mp_account.refresh_from_db()
    Run.objects.filter(pipeline=pipeline).update(state="running")
    Run.objects.filter(pipeline=pipeline).update(fingerprint="")
    polling.poll_now(mp_account)
    assert fresh(pipeline).stuck_after_learned == 360  # 3 x the 120 s median
    assert fresh(pipeline).stuck_threshold() == 360


@pytest.mark.django_db
def test_the_vendors_schedule_is_read_by_the_kinds_adapter() -> None:
    """A nessie pipeline's "frequency" is Mixpanel's schedule; an import connector has none."""
    from vendors.mixpanel.client import MixpanelClient

    assert MixpanelClient.cadence_for("export_pipeline", {"frequency": "daily"}) == 86400
    assert MixpanelClient.cadence_for("export_pipeline", {"frequency": "hourly"}) == 3600
    assert MixpanelClient.cadence_for("import_connector", {"frequency": "daily"}) is None


@pytest.mark.django_db
def test_late_when_no_success_within_cadence_and_grace(mp_account, make_pipeline, settings) -> None:
    settings.LATE_GRACE_FRACTION, settings.LATE_GRACE_MIN_SECONDS = 0.5, 1800
    with time_machine.travel(datetime(2026, 11, 23, 8, 0, tzinfo=UTC), tick=False) as clock:
        pipeline = make_pipeline("seed-success", expected_every_seconds=86400)
        polling.poll_now(mp_account)
        now = timezone.now()
        Pipeline.objects.filter(pk=pipeline.pk).update(last_success_at=now)
        clock.shift(timedelta(hours=35, minutes=59))  # 24 h cadence + 12 h grace
        assert fresh(pipeline).health().status == "healthy"
        clock.shift(timedelta(minutes=2))
        health = fresh(pipeline).health()
        assert health.status == "late" and "Expected a success every 24 h 0 min" in health.reason
        Pipeline.objects.filter(pk=pipeline.pk).update(expected_every_seconds=7 * 86400)  # configured expectation
        assert fresh(pipeline).health().status == "healthy"


@pytest.mark.django_db
def test_pipelines_without_a_cadence_are_never_late(mp_account, make_pipeline) -> None:
    pipeline = make_pipeline("seed-success")
    polling.poll_now(mp_account)
    with time_machine.travel(timezone.now() + timedelta(days=400)):
        assert fresh(pipeline).health().status == "healthy"


@pytest.mark.parametrize(
    ("counts", "warns"),
    [
        ({"processed": 1000, "succeeded": 985, "dropped": 15}, True),
        ({"processed": 1000, "succeeded": 995, "dropped": 5}, False),
        ({"total": 200, "processed": 200, "succeeded": 190, "failed": 10}, True),
        ({"processed": 0, "dropped": 0}, False),
        ({}, False),
    ],
)
def test_count_checks(counts, warns, settings) -> None:
    settings.COUNT_WARNING_RATE = 0.01
    warning = Run(counts=counts).count_warning
    assert bool(warning) == warns
    if warns:
        assert "above 1.0%" in warning

"""The alert scan looks only at pipelines whose next check has come (ADR 14): stuck and late
are found when their time comes, by index, and a pipeline with nothing due is not read."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from jobs import alerts, polling
from jobs.models import AlertEvent, Pipeline


@pytest.mark.django_db
def test_a_run_becoming_stuck_is_found_when_its_time_comes_and_only_then(
    sim, mp_account, make_pipeline, settings
) -> None:
    settings.STUCK_AFTER_SECONDS = 3600
    stuck = make_pipeline("seed-running")  # the seed's run sits at 25 % forever
    unseen = make_pipeline("seed-queued")
    with time_machine.travel(datetime(2026, 11, 23, 8, 0, tzinfo=UTC), tick=False) as clock:
        polling.poll_now(mp_account)
        alerts.evaluate(scan_all=False, checks_due=True)  # first looks: "ok", boundaries set
        stuck.refresh_from_db()
        run = stuck.current_run
        assert stuck.next_check_at == run.last_change_at + timedelta(seconds=3600, microseconds=1)
        # Pretend the other one is stuck too, but with nothing due: the scan must not read it.
        Pipeline.objects.filter(pk=unseen.pk).update(next_check_at=None, stuck_after_seconds=60)
        clock.shift(timedelta(minutes=59))
        assert alerts.evaluate(scan_all=False, checks_due=True) == 0  # not yet
        clock.shift(timedelta(minutes=2))
        assert alerts.evaluate(scan_all=False) == 0  # the pass for state changes alone does not see time
        assert alerts.evaluate(scan_all=False, checks_due=True) == 1
    assert list(AlertEvent.objects.values_list("pipeline_id", "kind")) == [(stuck.pk, "stuck")]
    stuck.refresh_from_db()
    assert stuck.health_status == "stuck" and stuck.next_check_at is None  # only a poll can change it now


@pytest.mark.django_db
def test_an_edit_of_a_knob_is_looked_at_by_the_next_scan(mp_account, make_pipeline) -> None:
    pipeline = make_pipeline("edited")
    Pipeline.objects.filter(pk=pipeline.pk).update(next_check_at=None)
    pipeline.refresh_from_db()
    pipeline.expected_every_seconds = 3600
    pipeline.save()  # a form or the admin: the whole row
    assert pipeline.next_check_at is not None
    assert pipeline.pk in set(alerts.checks_due_query(pipeline.next_check_at))

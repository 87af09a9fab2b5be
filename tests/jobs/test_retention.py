from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from jobs import retention
from jobs.models import PollAttempt, Run, Snapshot


def snap(run: Run, at, changed, state="running", raw=None) -> Snapshot:
    return Snapshot.objects.create(run=run, observed_at=at, state=state, changed=changed, raw=raw or {"at": str(at)})


@pytest.mark.django_db
def test_thinning_keeps_first_last_and_state_changes(mp_account, make_pipeline, settings) -> None:
    settings.SNAPSHOT_RETENTION_DAYS, settings.RAW_RETENTION_DAYS = 30, 14
    run = Run.objects.create(pipeline=make_pipeline("old"), external_id="r", state="succeeded")
    old = timezone.now() - timedelta(days=60)
    first = snap(run, old, ["created"], state="queued")
    started = snap(run, old + timedelta(minutes=1), ["state", "progress"])
    middle = [snap(run, old + timedelta(minutes=2 + i), ["progress", "counts"]) for i in range(50)]
    flagged = snap(run, old + timedelta(hours=2), ["flags"])
    done = snap(run, old + timedelta(hours=3), ["state"], state="succeeded")
    last = snap(run, old + timedelta(hours=4), ["raw"], state="succeeded")
    recent_run = Run.objects.create(pipeline=make_pipeline("new"), external_id="r", state="running")
    recent = [snap(recent_run, timezone.now() - timedelta(days=1, minutes=i), ["progress"]) for i in range(5)]

    result = retention.run()
    kept = set(Snapshot.objects.values_list("pk", flat=True))
    assert kept == {first.pk, started.pk, flagged.pk, done.pk, last.pk} | {s.pk for s in recent}
    assert result.snapshots_deleted == len(middle)
    assert Snapshot.objects.filter(run=run, raw__isnull=False).count() == 0  # older than 14 days: raw dropped
    assert Snapshot.objects.filter(run=recent_run, raw__isnull=False).count() == 5
    assert retention.run().snapshots_deleted == 0  # idempotent


@pytest.mark.django_db
def test_old_poll_attempts_go_and_the_command_reports(mp_account, capsys, settings) -> None:
    settings.POLL_ATTEMPT_RETENTION_DAYS = 14
    PollAttempt.objects.create(account=mp_account, outcome="ok")
    stale = PollAttempt.objects.create(account=mp_account, outcome="ok")
    PollAttempt.objects.filter(pk=stale.pk).update(at=timezone.now() - timedelta(days=20))
    call_command("housekeeping")
    assert "1 poll attempt(s) deleted" in capsys.readouterr().out
    assert PollAttempt.objects.count() == 1


def test_queues_are_separate(settings) -> None:
    routes = settings.CELERY_TASK_ROUTES
    assert routes["jobs.tasks.poll_account"]["queue"] == "polling"
    assert routes["jobs.tasks.send_alerts"]["queue"] == "alerts"
    assert routes["jobs.tasks.housekeeping"]["queue"] == "housekeeping"
    assert routes["jobs.tasks.make_partitions"]["queue"] == "housekeeping"


def test_beat_makes_partitions_every_hour() -> None:
    from dashboard.celery import _schedule, app

    _schedule(app)
    entry = app.conf.beat_schedule["make partitions"]
    assert entry["task"] == "jobs.tasks.make_partitions" and entry["schedule"].minute == {41}
    assert entry["schedule"].hour == set(range(24))


@pytest.mark.django_db
def test_partitioned_tables_follow_the_database() -> None:
    """Run again on SQLite by test_embedded_sqlite.py: there nothing is partitioned and
    making partitions is nothing to do, so retention deletes rows."""
    from django.db import connection

    from jobs import partitions

    postgres = connection.vendor == "postgresql"
    assert [partitions.partitioned(spec) for spec in partitions.SPECS] == [postgres, postgres]
    made = partitions.ensure()
    assert made == ({"jobs_snapshot": 0, "jobs_pollattempt": 0} if postgres else {})

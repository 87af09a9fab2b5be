"""Snapshots and poll attempts partitioned by day on PostgreSQL (ADR 17): a write lands in its
day's partition, or in the DEFAULT one and is moved into its day later; retention drops the
days that aged out, keeps the ones inside the window, and keeps what thinning keeps."""

from datetime import UTC, date, datetime, time, timedelta

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from jobs import partitions, retention, tasks
from jobs.models import PollAttempt, Run, Snapshot
from jobs.partitions import POLL_ATTEMPTS, SNAPSHOTS


def where(model, pk: int) -> str:
    """The partition a row sits in."""
    with connection.cursor() as cur:
        cur.execute(f"SELECT tableoid::regclass::text FROM {model._meta.db_table} WHERE id = %s", [pk])
        return cur.fetchone()[0]


def names(spec) -> set[str]:
    return {p.name for p in partitions.partitions(spec)}


def day_partition(spec, day: date) -> None:
    """As a deployment running for weeks has them (the test database's begin at its migration)."""
    if f"{spec.table}_p{day:%Y%m%d}" not in names(spec):
        assert partitions.create(spec, day) == 0


def noon(day: date) -> datetime:
    return datetime.combine(day, time(12), UTC)


def snap(run: Run, at: datetime, changed: list[str], raw: dict | None = None) -> Snapshot:
    return Snapshot.objects.create(run=run, observed_at=at, state="running", changed=changed, raw=raw or {"a": 1})


@pytest.mark.django_db
def test_a_write_lands_in_its_days_partition(mp_account, make_pipeline) -> None:
    today = timezone.now().astimezone(UTC).date()
    assert partitions.partitioned(SNAPSHOTS) and partitions.partitioned(POLL_ATTEMPTS)
    ahead = {f"jobs_snapshot_p{today + timedelta(days=n):%Y%m%d}" for n in range(8)}
    assert ahead <= names(SNAPSHOTS)  # made by the migration, today and a week ahead
    run = Run.objects.create(pipeline=make_pipeline("p"), external_id="r", state="running")
    snapshot = snap(run, timezone.now(), ["created"])
    attempt = PollAttempt.objects.create(account=mp_account, outcome="ok")
    assert where(Snapshot, snapshot.pk) == f"jobs_snapshot_p{today:%Y%m%d}"
    assert where(PollAttempt, attempt.pk) == f"jobs_pollattempt_p{today:%Y%m%d}"
    # Django still reads and writes them by id alone.
    Snapshot.objects.filter(pk=snapshot.pk).update(progress=0.5)
    assert Snapshot.objects.get(pk=snapshot.pk).progress == 0.5 and run.snapshots.count() == 1


@pytest.mark.django_db
def test_a_day_without_partition_lands_in_default_and_is_moved_into_its_own(mp_account, make_pipeline) -> None:
    now = timezone.now()
    far = (now + timedelta(days=40)).astimezone(UTC).date()
    run = Run.objects.create(pipeline=make_pipeline("p"), external_id="r", state="running")
    stray = snap(run, noon(far), ["created"])
    attempt = PollAttempt.objects.create(account=mp_account, outcome="ok", at=noon(far))
    assert where(Snapshot, stray.pk) == "jobs_snapshot_default"  # the write did not fail
    assert where(PollAttempt, attempt.pk) == "jobs_pollattempt_default"

    made = tasks.make_partitions()  # beat's hourly task

    assert made == {"jobs_snapshot": 1, "jobs_pollattempt": 1}
    assert where(Snapshot, stray.pk) == f"jobs_snapshot_p{far:%Y%m%d}"
    assert where(PollAttempt, attempt.pk) == f"jobs_pollattempt_p{far:%Y%m%d}"
    assert partitions.stray_days(SNAPSHOTS) == set() and partitions.stray_days(POLL_ATTEMPTS) == set()
    assert partitions.ensure(now) == {"jobs_snapshot": 0, "jobs_pollattempt": 0}  # nothing more to do


@pytest.mark.django_db
def test_retention_drops_aged_days_and_keeps_the_window(mp_account, make_pipeline, settings) -> None:
    settings.SNAPSHOT_RETENTION_DAYS, settings.RAW_RETENTION_DAYS, settings.POLL_ATTEMPT_RETENTION_DAYS = 30, 14, 14
    now = timezone.now()
    day = {age: (now - timedelta(days=age)).astimezone(UTC).date() for age in (40, 20, 10, 1)}
    for age in (40, 20, 10):
        for spec in (SNAPSHOTS, POLL_ATTEMPTS):
            day_partition(spec, day[age])
    run = Run.objects.create(pipeline=make_pipeline("old"), external_id="r", state="succeeded")
    created = snap(run, noon(day[40]), ["created"])
    progress = [snap(run, noon(day[40]) + timedelta(minutes=m), ["progress"]) for m in range(1, 6)]
    done = snap(run, noon(day[40]) + timedelta(hours=1), ["state"])
    middle_run = Run.objects.create(pipeline=make_pipeline("middle"), external_id="r", state="running")
    middle = [snap(middle_run, noon(day[20]) + timedelta(minutes=m), ["progress"]) for m in range(3)]
    new_run = Run.objects.create(pipeline=make_pipeline("new"), external_id="r", state="running")
    new = [snap(new_run, noon(day[1]) + timedelta(minutes=m), ["progress"]) for m in range(3)]
    old_attempt = PollAttempt.objects.create(account=mp_account, outcome="ok", at=noon(day[20]))
    kept_attempt = PollAttempt.objects.create(account=mp_account, outcome="ok", at=noon(day[10]))

    result = retention.run(now)

    assert f"jobs_snapshot_p{day[40]:%Y%m%d}" not in names(SNAPSHOTS)
    assert {f"jobs_snapshot_p{day[20]:%Y%m%d}", f"jobs_snapshot_p{day[1]:%Y%m%d}"} <= names(SNAPSHOTS)
    assert f"jobs_pollattempt_p{day[20]:%Y%m%d}" not in names(POLL_ATTEMPTS)
    assert f"jobs_pollattempt_p{day[10]:%Y%m%d}" in names(POLL_ATTEMPTS)
    # The aged day's first, last and state change survive, in the kept tier, without raw payload.
    assert set(run.snapshots.values_list("pk", flat=True)) == {created.pk, done.pk}
    assert {where(Snapshot, created.pk), where(Snapshot, done.pk)} == {"jobs_snapshot_kept"}
    assert not Snapshot.objects.filter(pk__in=[p.pk for p in progress]).exists()
    assert run.snapshots.filter(raw__isnull=False).count() == 0
    # Inside the window: all kept; past RAW_RETENTION_DAYS the raw payloads are gone.
    assert middle_run.snapshots.count() == 3 and middle_run.snapshots.filter(raw__isnull=False).count() == 0
    assert new_run.snapshots.filter(raw__isnull=False).count() == 3
    assert {where(Snapshot, s.pk) for s in middle + new} == {
        f"jobs_snapshot_p{day[20]:%Y%m%d}",
        f"jobs_snapshot_p{day[1]:%Y%m%d}",
    }
    assert not PollAttempt.objects.filter(pk=old_attempt.pk).exists()
    assert PollAttempt.objects.filter(pk=kept_attempt.pk).exists()
    assert (result.snapshots_deleted, result.raw_dropped, result.poll_attempts_deleted) == (5, 3, 1)
    assert result.partitions_dropped >= 2 and result.partitions_busy == 0

    again = retention.run(now)  # the raw-dropped day is remembered, not read again
    assert (again.snapshots_deleted, again.raw_dropped, again.poll_attempts_deleted, again.partitions_dropped) == (
        0,
        0,
        0,
        0,
    )


@pytest.mark.django_db
def test_a_run_over_two_aged_days_keeps_its_first_and_last_only(make_pipeline, settings) -> None:
    """What `thin_snapshots` keeps (first and last of the run, not of each day)."""
    settings.SNAPSHOT_RETENTION_DAYS = 30
    now = timezone.now()
    first_day, second_day = ((now - timedelta(days=age)).astimezone(UTC).date() for age in (41, 40))
    for d in (first_day, second_day):
        day_partition(SNAPSHOTS, d)
    run = Run.objects.create(
        pipeline=make_pipeline("long"),
        external_id="r",
        state="running",
        first_seen_at=noon(first_day),
        last_change_at=noon(second_day) + timedelta(hours=2),
    )
    start = snap(run, noon(first_day), ["created"])
    [snap(run, noon(first_day) + timedelta(hours=h), ["progress"]) for h in (1, 2, 3)]
    [snap(run, noon(second_day) + timedelta(hours=h), ["progress"]) for h in (0, 1)]
    last = snap(run, noon(second_day) + timedelta(hours=2), ["progress"])

    retention.run(now)

    assert set(run.snapshots.values_list("pk", flat=True)) == {start.pk, last.pk}


@pytest.mark.django_db
def test_a_partition_that_cannot_be_locked_is_left_for_the_next_run(mp_account, settings) -> None:
    settings.POLL_ATTEMPT_RETENTION_DAYS, settings.PARTITION_LOCK_TIMEOUT_MS = 14, 200
    now = timezone.now()
    old = (now - timedelta(days=20)).astimezone(UTC).date()
    day_partition(POLL_ATTEMPTS, old)
    db = connection.settings_dict
    # Another session reading poll attempts, its transaction still open (a long report).
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"], dbname=db["NAME"]
    ) as reader:
        reader.execute("SET lock_timeout = '5s'")  # a mistake here fails, never hangs
        reader.execute("LOCK TABLE ONLY jobs_pollattempt IN ACCESS SHARE MODE")
        started = timezone.now()
        busy = retention.run(now)
        assert timezone.now() - started < timedelta(seconds=10)  # waited for its lock timeout, not for the reader
    assert busy.partitions_busy >= 1 and f"jobs_pollattempt_p{old:%Y%m%d}" in names(POLL_ATTEMPTS)
    done = retention.run(now)
    assert done.partitions_busy == 0 and f"jobs_pollattempt_p{old:%Y%m%d}" not in names(POLL_ATTEMPTS)

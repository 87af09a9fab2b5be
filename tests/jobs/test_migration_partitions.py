"""The partitioning migration carries every snapshot and poll attempt over, ids and values
kept, each into its day (older ones into one partition, days beyond the made ones into the
DEFAULT partition); ids continue after the highest; undone, the plain tables come back."""

from datetime import UTC, timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("jobs", "0021_one_vocabulary")]
AFTER = [("jobs", "0022_partition_snapshots_attempts")]


def _migrate(target):
    executor = MigrationExecutor(connection)
    executor.migrate(target)
    return executor.loader.project_state(target).apps


def _placed(table: str) -> dict[int, str]:
    with connection.cursor() as cur:
        cur.execute(f"SELECT id, tableoid::regclass::text FROM {table}")
        return dict(cur.fetchall())


def _relkind(table: str) -> str:
    with connection.cursor() as cur:
        cur.execute("SELECT relkind FROM pg_class WHERE relname = %s", [table])
        return cur.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_rows_are_carried_into_their_days_and_back() -> None:
    now = timezone.now()
    apps = _migrate(BEFORE)
    Account, Pipeline, Run, Snapshot, PollAttempt = (
        apps.get_model("jobs", m) for m in ("Account", "Pipeline", "Run", "Snapshot", "PollAttempt")
    )
    account = Account.objects.create(name="old", vendor="mixpanel")
    run = Run.objects.create(
        pipeline=Pipeline.objects.create(account=account, kind="import_connector", external_id="c"),
        external_id="r",
        state="running",
    )
    ages = {"ancient": 60, "recent": 5, "today": 0, "future": -30}
    snapshots = {
        name: Snapshot.objects.create(
            run=run, observed_at=now - timedelta(days=age), state="running", changed=[name], raw={"age": age}
        )
        for name, age in ages.items()
    }
    attempts = {
        name: PollAttempt.objects.create(account=account, at=now - timedelta(days=age), outcome="ok", message=name)
        for name, age in ages.items()
    }

    apps = _migrate(AFTER)
    Snapshot, PollAttempt = apps.get_model("jobs", "Snapshot"), apps.get_model("jobs", "PollAttempt")
    assert _relkind("jobs_snapshot") == "p" and _relkind("jobs_pollattempt") == "p"
    for name, old in snapshots.items():
        new = Snapshot.objects.get(pk=old.pk)
        assert (new.observed_at, new.changed, new.raw, new.run_id, new.kept) == (
            old.observed_at,
            [name],
            {"age": ages[name]},
            run.pk,
            False,
        )
        assert PollAttempt.objects.get(pk=attempts[name].pk).message == name

    def day(name: str) -> str:
        return f"{(now - timedelta(days=ages[name])).astimezone(UTC):%Y%m%d}"

    placed = _placed("jobs_snapshot")
    assert placed[snapshots["ancient"].pk] == f"jobs_snapshot_p{day('ancient')}"  # all older days in one
    assert placed[snapshots["recent"].pk] == f"jobs_snapshot_p{day('recent')}"
    assert placed[snapshots["today"].pk] == f"jobs_snapshot_p{day('today')}"
    assert placed[snapshots["future"].pk] == "jobs_snapshot_default"
    placed = _placed("jobs_pollattempt")
    assert placed[attempts["ancient"].pk] == f"jobs_pollattempt_p{day('ancient')}"
    assert placed[attempts["today"].pk] == f"jobs_pollattempt_p{day('today')}"
    assert placed[attempts["future"].pk] == "jobs_pollattempt_default"
    fresh = Snapshot.objects.create(run_id=run.pk, observed_at=now, state="running")
    assert fresh.pk > max(s.pk for s in snapshots.values())
    assert PollAttempt.objects.create(account_id=account.pk, outcome="ok").pk > max(a.pk for a in attempts.values())

    apps = _migrate(BEFORE)
    Snapshot, PollAttempt = apps.get_model("jobs", "Snapshot"), apps.get_model("jobs", "PollAttempt")
    assert _relkind("jobs_snapshot") == "r" and _relkind("jobs_pollattempt") == "r"
    assert set(Snapshot.objects.values_list("pk", flat=True)) == {s.pk for s in snapshots.values()} | {fresh.pk}
    assert Snapshot.objects.create(run_id=run.pk, observed_at=now, state="running").pk > fresh.pk
    assert PollAttempt.objects.count() == len(attempts) + 1
    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes("jobs"))

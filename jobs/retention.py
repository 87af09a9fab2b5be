"""Growing old: thin old snapshots, drop old raw payloads, forget old poll attempts.

What is kept of an old run: its first and last snapshot and every snapshot where its state
or flags changed, which is all the timeline, the run page and the audit trail need.

On PostgreSQL both tables are partitioned by day (ADR 17, `jobs.partitions`): a day that has
aged out goes as a whole. Its snapshots worth keeping are copied (without raw payload) into
the kept tier in one statement and the partition is dropped; a day past RAW_RETENTION_DAYS
has its raw payloads emptied once, in id ranges. Elsewhere (the embedded SQLite) rows are
deleted in small batches by primary key, each its own short transaction, so no table is
locked for long and polling carries on while it runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Max, Min
from django.utils import timezone

from . import partitions, upload_queue
from .models import PollAttempt, Run, Snapshot
from .partitions import POLL_ATTEMPTS, SNAPSHOTS

KEEP_CHANGES = {"created", "state", "flags"}
RAW_DROPPED = "pipewatch: raw payloads dropped"  # a partition's comment once drop_raw is done with it


@dataclass
class Thinned:
    snapshots_deleted: int = 0
    raw_dropped: int = 0
    poll_attempts_deleted: int = 0
    uploads_deleted: int = 0
    partitions_made: int = 0
    partitions_dropped: int = 0
    partitions_busy: int = 0  # could not be locked now: left for the next run

    def line(self) -> str:
        line = (
            f"{self.snapshots_deleted} snapshot(s) thinned, {self.raw_dropped} raw payload(s) dropped, "
            f"{self.poll_attempts_deleted} poll attempt(s) deleted, {self.uploads_deleted} old upload(s) forgotten"
        )
        if self.partitions_made or self.partitions_dropped or self.partitions_busy:
            line += f"; {self.partitions_dropped} partition(s) dropped, {self.partitions_made} made"
            line += f", {self.partitions_busy} busy (next run)" if self.partitions_busy else ""
        return line


def thin_snapshots(cutoff: datetime, batch: int = 2000) -> int:
    deleted, last_pk = 0, 0
    while True:
        rows = list(
            Snapshot.objects.filter(observed_at__lt=cutoff, pk__gt=last_pk)
            .order_by("pk")
            .values_list("pk", "run_id", "changed")[:batch]
        )
        if not rows:
            return deleted
        last_pk = rows[-1][0]
        bounds = (
            Snapshot.objects.filter(run_id__in={r[1] for r in rows})
            .values("run_id")
            .annotate(first=Min("pk"), last=Max("pk"))
            .order_by()
        )
        keep = {pk for b in bounds for pk in (b["first"], b["last"])}
        doomed = [pk for pk, _, changed in rows if pk not in keep and not KEEP_CHANGES & set(changed or ())]
        if doomed:
            deleted += Snapshot.objects.filter(pk__in=doomed).delete()[0]


def drop_raw(cutoff: datetime, batch: int = 2000) -> int:
    # From where the last batch ended: each batch began again at the first snapshot, reading
    # every payload it had already dropped, once per batch (ADR 14).
    dropped, last_pk = 0, 0
    while True:
        ids = list(
            Snapshot.objects.filter(observed_at__lt=cutoff, raw__isnull=False, pk__gt=last_pk)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch]
        )
        if not ids:
            return dropped
        last_pk = ids[-1]
        dropped += Snapshot.objects.filter(pk__in=ids).update(raw=None)


def delete_poll_attempts(cutoff: datetime, batch: int = 5000) -> int:
    deleted = 0
    while True:
        ids = list(PollAttempt.objects.filter(at__lt=cutoff).order_by("pk").values_list("pk", flat=True)[:batch])
        if not ids:
            return deleted
        deleted += PollAttempt.objects.filter(pk__in=ids).delete()[0]


def run(now: datetime | None = None) -> Thinned:
    now = now or timezone.now()
    snapshots_cutoff = now - timedelta(days=settings.SNAPSHOT_RETENTION_DAYS)
    raw_cutoff = now - timedelta(days=settings.RAW_RETENTION_DAYS)
    attempts_cutoff = now - timedelta(days=settings.POLL_ATTEMPT_RETENTION_DAYS)
    # First, so rows that sat in a DEFAULT partition are in their day's and age like the rest.
    result = Thinned(partitions_made=sum(partitions.ensure(now).values()))
    if partitions.partitioned(SNAPSHOTS):
        thin_snapshot_days(snapshots_cutoff, result)
        result.raw_dropped = drop_raw_days(raw_cutoff)
    else:
        result.snapshots_deleted = thin_snapshots(snapshots_cutoff)
        result.raw_dropped = drop_raw(raw_cutoff)
    if partitions.partitioned(POLL_ATTEMPTS):
        for partition in partitions.expired(POLL_ATTEMPTS, attempts_cutoff):
            dropped = partitions.drop(partition)
            _count(result, dropped)
            result.poll_attempts_deleted += dropped[0] if dropped else 0
    else:
        result.poll_attempts_deleted = delete_poll_attempts(attempts_cutoff)
    result.uploads_deleted = upload_queue.forget_old(now)
    return result


def _count(result: Thinned, dropped: tuple[int, int] | None) -> None:
    if dropped is None:
        result.partitions_busy += 1
    else:
        result.partitions_dropped += 1


def thin_snapshot_days(cutoff: datetime, result: Thinned) -> None:
    """Each day wholly older than `cutoff`: what `thin_snapshots` keeps moves to the kept tier
    (without raw payload), in one INSERT ... SELECT, and the day's partition is dropped."""
    columns = [f.column for f in Snapshot._meta.concrete_fields if f.column not in ("raw", "kept")]
    names = ", ".join(columns)
    picked = ", ".join(f"s.{c}" for c in columns)
    for partition in partitions.expired(SNAPSHOTS, cutoff):
        keep = _KEEP_SQL.format(
            part=partition.name, table=SNAPSHOTS.table, run=Run._meta.db_table, names=names, picked=picked
        )
        dropped = partitions.drop(
            partition,
            keep,
            {"start": partition.start, "end": partition.end, "changes": sorted(KEEP_CHANGES)},
        )
        _count(result, dropped)
        if dropped:
            result.snapshots_deleted += dropped[0] - dropped[1]


# A run's first and last snapshot of the day are its first and last of all unless it has
# snapshots on another day: looked up only for runs seen before the day or changed after it
# (a run's snapshots are written when it changes: first_seen_at and last_change_at bound them).
_KEEP_SQL = """
WITH b AS (SELECT run_id, min(id) AS first, max(id) AS last FROM {part} GROUP BY run_id),
ends AS (
    SELECT b.first AS id FROM b JOIN {run} r ON r.id = b.run_id
    WHERE r.first_seen_at >= %(start)s
       OR NOT EXISTS (SELECT 1 FROM {table} o WHERE o.run_id = b.run_id AND o.observed_at < %(start)s)
    UNION
    SELECT b.last FROM b JOIN {run} r ON r.id = b.run_id
    WHERE r.last_change_at < %(end)s
       OR NOT EXISTS (SELECT 1 FROM {table} o WHERE o.run_id = b.run_id AND o.observed_at >= %(end)s)
)
INSERT INTO {table} ({names}, raw, kept)
SELECT {picked}, NULL, true FROM {part} s
WHERE s.changed ?| %(changes)s OR s.id IN (SELECT id FROM ends)
"""


def drop_raw_days(cutoff: datetime, batch: int = 5000) -> int:
    """Empty the raw payloads of each day wholly older than `cutoff`, once (the partition's
    comment remembers it), a range of ids at a time."""
    dropped = 0
    for partition in partitions.expired(SNAPSHOTS, cutoff):
        if partition.note == RAW_DROPPED:
            continue
        with connection.cursor() as cur:
            cur.execute(f"SELECT min(id), max(id) FROM {partition.name}")
            low, high = cur.fetchone()
            for start in range(low or 0, (high or -1) + 1, batch):
                cur.execute(
                    f"UPDATE {partition.name} SET raw = NULL WHERE id >= %s AND id < %s AND raw IS NOT NULL",
                    [start, start + batch],
                )
                dropped += cur.rowcount
        partitions.note(partition, RAW_DROPPED)
    return dropped

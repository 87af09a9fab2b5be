"""Growing old: thin old snapshots, drop old raw payloads, forget old poll attempts.

Deletes go in small batches by primary key, each its own short transaction, so no
table is locked for long and polling carries on while it runs. What is kept of an old
run: its first and last snapshot and every snapshot where its state or flags changed,
which is all the timeline, the run page and the audit trail need."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Max, Min
from django.utils import timezone

from . import upload_queue
from .models import PollAttempt, Snapshot

KEEP_CHANGES = {"created", "state", "flags"}


@dataclass
class Thinned:
    snapshots_deleted: int = 0
    raw_dropped: int = 0
    poll_attempts_deleted: int = 0
    uploads_deleted: int = 0

    def line(self) -> str:
        return (
            f"{self.snapshots_deleted} snapshot(s) thinned, {self.raw_dropped} raw payload(s) dropped, "
            f"{self.poll_attempts_deleted} poll attempt(s) deleted, {self.uploads_deleted} old upload(s) forgotten"
        )


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
    return Thinned(
        snapshots_deleted=thin_snapshots(now - timedelta(days=settings.SNAPSHOT_RETENTION_DAYS)),
        raw_dropped=drop_raw(now - timedelta(days=settings.RAW_RETENTION_DAYS)),
        poll_attempts_deleted=delete_poll_attempts(now - timedelta(days=settings.POLL_ATTEMPT_RETENTION_DAYS)),
        uploads_deleted=upload_queue.forget_old(now),
    )

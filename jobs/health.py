"""Keep `Pipeline.health_status` equal to `Pipeline.health()`, writing only what changed,
`Pipeline.incident_since` (when the current trouble began) and `Pipeline.next_check_at`
(when the alert scan must look again, ADR 14): the one place they are computed."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings

from vendors import base as vb

from .bulk import update_fields
from .models import FAILING, LATE, PAUSED, STUCK, UNKNOWN, Health, Pipeline

TROUBLE = (FAILING, STUCK, LATE, UNKNOWN)
FIELDS = ["health_status", "incident_since", "next_check_at"]
# Moves to or from these come without a StateChange row (the alert pass's other input):
# a stuck run moving again, a target or account error, a first poll.
UNANNOUNCED = {STUCK, LATE, UNKNOWN}
# A boundary is "past" once health() would see it: both compare with a strict `>`.
_TICK = timedelta(microseconds=1)


def _began(pipeline: Pipeline, status: str, now: datetime) -> datetime | None:
    """When trouble of this kind began, from what the pipeline row holds."""
    run = pipeline.current_run
    if status == FAILING:
        return pipeline.missing_since or pipeline.last_failure_at or (run.finished_at if run else None) or now
    if status == STUCK and run is not None:
        return run.last_change_at
    if status == LATE:
        return pipeline.last_success_at or pipeline.created_at
    return now  # unknown (the vendor no longer knows the id, an unknown status): first seen now


def next_time_change(pipeline: Pipeline, now: datetime) -> datetime | None:
    """The first moment after `now` at which time alone can change this pipeline's health
    (its run becomes stuck, it becomes late); None when only a poll or an edit can."""
    if pipeline.paused:
        return None
    moments = []
    run = pipeline.current_run
    if run is not None and run.state == vb.RUNNING:
        moments.append(run.last_change_at + timedelta(seconds=pipeline.stuck_threshold()) + _TICK)
    if cadence := pipeline.cadence_seconds():
        grace = max(settings.LATE_GRACE_MIN_SECONDS, cadence * settings.LATE_GRACE_FRACTION)
        since = pipeline.last_success_at or pipeline.created_at
        moments.append(since + timedelta(seconds=cadence + grace) + _TICK)
    future = [m for m in moments if m > now]
    return min(future) if future else None


def derive(pipeline: Pipeline, now: datetime, health: Health | None = None, *, scanned: bool = False) -> bool:
    """Set health_status, incident_since and next_check_at on the row (not saved); True
    when any moved.

    `since` is stable while the trouble lasts: a failing pipeline that keeps failing, or an
    id the vendor keeps answering 404 for, keeps the start it had (pages sort by it).
    Health that moved outside the alert scan (`scanned=False`: a poll, a pause) in a way no
    StateChange announces makes the next scan look at once; the scan sets the next boundary."""
    status = (health or pipeline.health(now)).status
    if status not in TROUBLE:
        since = None
    elif status == pipeline.health_status and pipeline.incident_since is not None:
        since = pipeline.incident_since
    else:
        since = _began(pipeline, status, now)
    moved_unannounced = status != pipeline.health_status and {status, pipeline.health_status} & UNANNOUNCED
    if moved_unannounced and not scanned and status != PAUSED:
        check = now
    elif pipeline.next_check_at is not None and pipeline.next_check_at <= now and not scanned:
        check = pipeline.next_check_at  # a look still owed: the scan clears it, not a poll
    else:
        check = next_time_change(pipeline, now)
    before = (pipeline.health_status, pipeline.incident_since, pipeline.next_check_at)
    pipeline.health_status, pipeline.incident_since, pipeline.next_check_at = status, since, check
    return (status, since, check) != before


def rederive(pipelines: Iterable[Pipeline], now: datetime, *, recheck: bool = False) -> list[Pipeline]:
    """Re-derive health for loaded pipelines (account and current run loaded), not saved;
    the ones whose `FIELDS` moved. `recheck`: something outside the row changed (the
    account's poll error): the next alert scan looks at them."""
    changed = []
    for pipeline in pipelines:
        moved = derive(pipeline, now)
        if recheck and pipeline.next_check_at != now:
            pipeline.next_check_at, moved = now, True
        if moved:
            changed.append(pipeline)
    return changed


def store(pipelines: Iterable[Pipeline], now: datetime, *, recheck: bool = False) -> int:
    """`rederive` and save what moved; how many did."""
    changed = rederive(pipelines, now, recheck=recheck)
    update_fields(changed, FIELDS)
    return len(changed)

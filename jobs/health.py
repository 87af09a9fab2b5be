"""Keep `Pipeline.health_status` equal to `Pipeline.health()`, writing only what changed,
`Pipeline.incident_since` (when the current trouble began) and `Pipeline.next_check_at`
(when the alert scan must look again, ADR 14): the one place they are computed. And what
the health means as trouble (`condition`), for incidents and alerts alike."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from vendors import base as vb

from .bulk import update_fields
from .models import Account, Health, Pipeline
from .vocabulary import ALERTED, FAILING, LATE, OK, PAUSED, STUCK, TROUBLE, UNKNOWN, Condition

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
        return pipeline.waiting_since()
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
    if (late := pipeline.late_after()) is not None:
        moments.append(late + _TICK)
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
    write(changed)
    return len(changed)


def write(pipelines: list[Pipeline]) -> None:
    """Save what `derive` set on these rows, in one statement."""
    if pipelines:
        update_fields(pipelines, FIELDS)


def account_condition(account: Account) -> Condition | None:
    """What is wrong with an account we cannot poll (None: we can): its credentials are
    refused, or something else keeps us from seeing its pipelines."""
    if not account.poll_problem():
        return None
    return Condition.CREDENTIALS if account.poll_error_kind == vb.ErrorKind.AUTH else Condition.UNPOLLABLE


def condition(pipeline: Pipeline, health: Health) -> Condition | None:
    """What is wrong with this pipeline, in the words incidents and alerts share; None when
    nothing is, or nothing we can name yet (waiting for a first poll, a status we do not know)."""
    run = pipeline.current_run
    if health.status == FAILING:
        partial = run is not None and run.state == vb.FAILED and "partial" in run.flags
        return Condition.PARTIAL if partial else Condition.FAILED
    if health.status in (STUCK, LATE):
        return Condition(health.status)
    if health.status == UNKNOWN:
        if found := account_condition(pipeline.account):
            return found
        return Condition.UNPOLLABLE if pipeline.poll_error_kind else None
    return None


def alert_condition(pipeline: Pipeline, health: Health) -> str | None:
    """What people should be told now: a condition in ALERTED, or "ok"; None: say nothing
    new (a first poll pending, a target or vendor hiccup: keep what was said)."""
    found = condition(pipeline, health)
    if found in ALERTED:
        return found
    return None if found is not None or health.status == UNKNOWN else OK

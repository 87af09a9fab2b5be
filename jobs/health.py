"""Keep `Pipeline.health_status` equal to `Pipeline.health()`, writing only what changed,
and `Pipeline.incident_since` (when the current trouble began): the one place it is computed."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from .bulk import update_fields
from .models import FAILING, LATE, STUCK, UNKNOWN, Health, Pipeline

TROUBLE = (FAILING, STUCK, LATE, UNKNOWN)
FIELDS = ["health_status", "incident_since"]


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


def derive(pipeline: Pipeline, now: datetime, health: Health | None = None) -> bool:
    """Set health_status and incident_since on the row (not saved); True when either moved.

    `since` is stable while the trouble lasts: a failing pipeline that keeps failing, or an
    id the vendor keeps answering 404 for, keeps the start it had (pages sort by it)."""
    status = (health or pipeline.health(now)).status
    if status not in TROUBLE:
        since = None
    elif status == pipeline.health_status and pipeline.incident_since is not None:
        since = pipeline.incident_since
    else:
        since = _began(pipeline, status, now)
    moved = (status, since) != (pipeline.health_status, pipeline.incident_since)
    pipeline.health_status, pipeline.incident_since = status, since
    return moved


def store(pipelines: Iterable[Pipeline], now: datetime) -> int:
    """Re-derive health for loaded pipelines (account and current run loaded); return how many changed."""
    changed = [pipeline for pipeline in pipelines if derive(pipeline, now)]
    if changed:
        update_fields(changed, FIELDS)
    return len(changed)

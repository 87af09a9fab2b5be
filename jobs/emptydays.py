"""The per-pipeline "treat an empty day as a failure" option (ADR 13), applied to the days
already recorded when it is switched: the poller keeps it up to date afterwards."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from vendors import base as vb

from .health import FIELDS as HEALTH_FIELDS
from .health import derive
from .models import EMPTY, Pipeline
from .rollup import empty_entry

RESCAN_RUNS = 400  # the days a person still acts on; older ones stay as they were recorded


def set_empty_day_is_failure(pipeline: Pipeline, value: bool, now: datetime | None = None) -> bool:
    """Switch the option and re-read the recent days under it; True when it changed."""
    if pipeline.empty_day_is_failure == value:
        return False
    now = now or timezone.now()
    with transaction.atomic():
        pipeline.empty_day_is_failure = value
        reconcile(pipeline)
        derive(pipeline, now)
        pipeline.save(update_fields=["empty_day_is_failure", "missing_days", "missing_since", *HEALTH_FIELDS])
    return True


def reconcile(pipeline: Pipeline) -> None:
    """Add the recent empty days (option on) or drop them (off) from the missing days of a
    pipeline whose runs are days (any other reads its current run: `Pipeline.health`)."""
    if not pipeline.is_periodic:
        return
    missing = {k: v for k, v in pipeline.missing_days.items() if v.get("kind") != EMPTY}
    if pipeline.empty_day_is_failure and pipeline.pk:
        runs = pipeline.runs.filter(state=vb.SUCCEEDED).order_by("-sort_at")[:RESCAN_RUNS]
        for run in runs:
            if run.is_empty and run.external_id not in missing:
                missing[run.external_id] = empty_entry(run, run.last_change_at)
    pipeline.missing_days = missing
    pipeline.missing_since = min((datetime.fromisoformat(m["at"]) for m in missing.values()), default=None)

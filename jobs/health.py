"""Keep `Pipeline.health_status` equal to `Pipeline.health()`, writing only what changed."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from .bulk import update_fields
from .models import Pipeline


def store(pipelines: Iterable[Pipeline], now: datetime) -> int:
    """Re-derive health for loaded pipelines (account and current run loaded); return how many changed."""
    changed = []
    for pipeline in pipelines:
        status = pipeline.health(now).status
        if status != pipeline.health_status:
            pipeline.health_status = status
            changed.append(pipeline)
    if changed:
        update_fields(changed, ["health_status"])
    return len(changed)

"""What a page row shows about a pipeline, computed once for pages and the API alike."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from jobs.models import HEALTHS, RUNNING, UNKNOWN, Health, Pipeline, Run

_URGENCY = {h: i for i, h in enumerate(HEALTHS)}


@dataclass
class PipelineRow:
    pipeline: Pipeline
    health: Health
    run: Run | None

    @property
    def live(self) -> bool:
        """Can this row change soon? Then its page keeps polling quickly."""
        return self.health.status == RUNNING or (self.health.status == UNKNOWN and self.pipeline.last_polled_at is None)

    def sort_key(self) -> tuple[int, str, str]:
        return (_URGENCY[self.health.status], self.pipeline.account.name, self.pipeline.display_name)


def pipeline_rows(pipelines: Iterable[Pipeline], now: datetime) -> list[PipelineRow]:
    return [PipelineRow(p, p.health(now), p.current_run) for p in pipelines]

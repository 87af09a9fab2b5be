"""The Mixpanel simulator's world: projects, their import connectors and scripted runs.

Runs are a pure function of the simulator clock: a `ScriptedRun` knows when it was
queued, how long it waits, how long it runs and how it ends, so a scenario is data and
the same instant always gives the same answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..timeparse import format_go_time
from .nessie_sim_pipeline import SimPipeline
from .warehouse_simulator import SimWarehouseImport


@dataclass
class ScriptedRun:
    queued_at: datetime
    queue_seconds: float = 5
    run_seconds: float = 60
    outcome: str = "success"  # success | failed
    events: int = 1000
    dropped: int = 0
    files: int = 4
    bytes_per_event: int = 120
    message: str = ""
    run_id: str = ""  # "" like the seed samples
    id_field: str = "id"  # "id" or "run_id": Mixpanel uses both
    fail_at: float = 0.4  # fraction of the run done when a failure happens

    def render(self, now: datetime) -> dict[str, Any] | None:
        if now < self.queued_at:
            return None
        started = self.queued_at + timedelta(seconds=self.queue_seconds)
        if now < started:
            return self._item("queued", None, None, 0.0, 0.0)
        span = self.run_seconds * (self.fail_at if self.outcome == "failed" else 1.0)
        elapsed = (now - started).total_seconds()
        if elapsed < span:
            frac = round(elapsed / self.run_seconds, 2)
            return self._item("running", started, None, frac, frac)
        ended = started + timedelta(seconds=span)
        if self.outcome == "failed":
            return self._item("failed", started, ended, 0.0, self.fail_at)
        return self._item("success", started, ended, 1.0, 1.0)

    def _item(
        self, status: str, started: datetime | None, ended: datetime | None, progress: float, done: float
    ) -> dict[str, Any]:
        processed = int(self.events * done)
        dropped = int(self.dropped * done)
        imported = processed - dropped if status != "failed" else 0
        return {
            self.id_field: self.run_id,
            "start_time": format_go_time(started),
            "end_time": format_go_time(ended) if ended else "",
            "status": status,
            "progress": progress,
            "error": {"message": self.message if status == "failed" else "", "code": ""},
            "connector_properties": {
                "num_events_imported": imported,
                "num_events_processed": processed if status != "failed" else 0,
                "num_events_dropped": dropped if status != "failed" else 0,
                "num_files_imported": int(self.files * done) if status != "failed" else 0,
                "size_imported": imported * self.bytes_per_event,
            },
        }


@dataclass
class CyclingRuns:
    """An endless schedule for the demo: a run every `period` seconds from `origin`."""

    origin: datetime
    period: float
    outcomes: tuple[str, ...] = ("success",)
    queue_seconds: float = 5
    run_seconds: float = 40
    events: int = 5000
    dropped: int = 0
    message: str = ""
    keep: int = 12
    id_style: str = "empty"  # empty | uuid-ish

    def runs(self, now: datetime) -> list[ScriptedRun]:
        current = int((now - self.origin).total_seconds() // self.period)
        out = []
        for n in range(max(0, current - self.keep + 1), current + 1):
            outcome = self.outcomes[n % len(self.outcomes)]
            out.append(
                ScriptedRun(
                    queued_at=self.origin + timedelta(seconds=n * self.period),
                    queue_seconds=self.queue_seconds,
                    run_seconds=self.run_seconds,
                    outcome=outcome,
                    events=self.events + 37 * n,
                    dropped=self.dropped,
                    message=self.message if outcome == "failed" else "",
                    run_id="" if self.id_style == "empty" else f"run-{n:05d}",
                    id_field="run_id" if n % 2 else "id",
                )
            )
        return out


@dataclass
class SimConnector:
    connector_id: str
    label: str = ""
    runs: list[ScriptedRun] = field(default_factory=list)
    cycle: CyclingRuns | None = None
    verbatim: str | None = None  # a seed sample, served byte for byte

    def history(self, now: datetime) -> list[dict[str, Any]]:
        scripted = list(self.runs) + (self.cycle.runs(now) if self.cycle else [])
        items = [item for run in scripted if (item := run.render(now)) is not None]
        items.reverse()  # newest first
        return items


@dataclass
class SimProject:
    project_id: str
    username: str = "svc-user"
    secret: str = "svc-secret"
    api_secret: str = ""
    connectors: dict[str, SimConnector] = field(default_factory=dict)
    pipelines: dict[str, SimPipeline] = field(default_factory=dict)  # nessie, by name
    imports: dict[str, SimWarehouseImport] = field(default_factory=dict)  # warehouse, by id
    legacy_api_removed: bool = False  # answer the legacy connectors API as Mixpanel does now: 404
    jobs_verbatim: str | None = None  # a seed `pipeline/jobs` sample, served byte for byte
    # Scripted burst limit: more than `rate_limit` requests in `rate_window` s -> 429.
    rate_limit: int | None = None
    rate_window: float = 10.0
    retry_after: int = 5

    def add(self, *connectors: SimConnector) -> SimProject:
        for c in connectors:
            self.connectors[c.connector_id] = c
        return self

    def add_pipelines(self, *pipelines: SimPipeline) -> SimProject:
        for p in pipelines:
            self.pipelines[p.name] = p
        return self

    def add_imports(self, *imports: SimWarehouseImport) -> SimProject:
        for i in imports:
            self.imports[i.import_id] = i
        return self

"""Mixpanel Warehouse Connectors imports (VENDORS.md §1b) as the simulator speaks them.

Runs are a pure function of the simulator clock, like the connectors' ScriptedRun: a
run is triggered, starts `queue_seconds` later (RUNNING without a start_time until then),
runs `run_seconds` and ends as its outcome. History lists the 30 most recent, newest first.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..simulator.core import SimRequest, SimResponse, Simulator, json_response

if TYPE_CHECKING:
    from .simulator import MixpanelWorld, SimProject

HISTORY_LIMIT = 30
_run_ids = itertools.count(9001)


@dataclass
class WarehouseRun:
    triggered_at: datetime
    queue_seconds: float = 0
    run_seconds: float = 60
    outcome: str = "SUCCEEDED"  # SUCCEEDED | FAILED | CANCELLED
    events: int = 1000
    run_id: int = 0

    def render(self, now: datetime) -> dict[str, Any] | None:
        if now < self.triggered_at:
            return None
        started = self.triggered_at + timedelta(seconds=self.queue_seconds)
        if now < started:
            return _run("RUNNING", None, None, None)
        ended = started + timedelta(seconds=self.run_seconds)
        if now < ended:
            return _run("RUNNING", started, None, None)
        imported = {"SUCCEEDED": self.events, "CANCELLED": self.events // 3}.get(self.outcome)
        return _run(self.outcome, started, ended, imported)

    def active(self, now: datetime) -> bool:
        item = self.render(now)
        return item is not None and item["status"] == "RUNNING"


def _run(status: str, started: datetime | None, ended: datetime | None, imported: int | None) -> dict[str, Any]:
    return {
        "status": status,
        "start_time": int(started.timestamp()) if started else None,
        "end_time": int(ended.timestamp()) if ended else None,
        "num_events_imported": imported,
    }


@dataclass
class WarehouseCycle:
    """A scheduled sync every `period` seconds from `origin` (the demo's imports)."""

    origin: datetime
    period: float
    outcomes: tuple[str, ...] = ("SUCCEEDED",)
    queue_seconds: float = 3
    run_seconds: float = 40
    events: int = 2500

    def runs(self, now: datetime) -> list[WarehouseRun]:
        current = int((now - self.origin).total_seconds() // self.period)
        return [
            WarehouseRun(
                self.origin + timedelta(seconds=n * self.period),
                self.queue_seconds,
                self.run_seconds,
                self.outcomes[n % len(self.outcomes)],
                self.events + 11 * n,
            )
            for n in range(max(0, current - HISTORY_LIMIT + 1), current + 1)
        ]


@dataclass
class SimWarehouseImport:
    import_id: str
    runs: list[WarehouseRun] = field(default_factory=list)
    cycle: WarehouseCycle | None = None

    def all_runs(self, now: datetime) -> list[WarehouseRun]:
        runs = list(self.runs) + (self.cycle.runs(now) if self.cycle else [])
        return sorted(runs, key=lambda r: r.triggered_at)

    def history(self, now: datetime) -> list[dict[str, Any]]:
        items = [item for run in self.all_runs(now) if (item := run.render(now)) is not None]
        return items[::-1][:HISTORY_LIMIT]


class WarehouseApi:
    """The /warehouse-sources/imports routes, over the projects of a MixpanelWorld."""

    def __init__(self, world: MixpanelWorld) -> None:
        self.world = world

    def install(self, sim: Simulator) -> None:
        self.sim = sim
        base = r"/api/app/projects/(?P<project_id>[^/]+)/warehouse-sources/imports/(?P<import_id>[^/]+)"
        sim.add_route("GET", base + "/history", self.history)
        sim.add_route("PUT", base + "/manual-sync", self.manual_sync)

    def _import(self, req: SimRequest, project_id: str, import_id: str) -> SimWarehouseImport | SimResponse:
        project: SimProject | SimResponse = self.world._guard(req, project_id)
        if isinstance(project, SimResponse):
            return project
        if not import_id.isdigit():
            return _error(400, f"importId must be an integer, got {import_id[:40]}")
        found = project.imports.get(import_id)
        return found if found is not None else _error(404, f"Import {import_id} not found")

    def history(self, req: SimRequest, project_id: str, import_id: str) -> SimResponse:
        found = self._import(req, project_id, import_id)
        if isinstance(found, SimResponse):
            return found
        return json_response({"status": "ok", "results": {"runs": found.history(self.sim.clock.now())}})

    def manual_sync(self, req: SimRequest, project_id: str, import_id: str) -> SimResponse:
        found = self._import(req, project_id, import_id)
        if isinstance(found, SimResponse):
            return found
        now = self.sim.clock.now()
        if any(run.active(now) for run in found.all_runs(now)):  # [I] one sync at a time
            return _error(400, f"A sync of import {import_id} is already running")
        run = WarehouseRun(now, queue_seconds=5, run_seconds=60, run_id=next(_run_ids))
        found.runs.append(run)
        return json_response({"status": "ok", "results": {"run_id": run.run_id}})


def _error(status: int, message: str) -> SimResponse:
    return json_response({"status": "error", "error": message}, status)

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
    from .sim_world import SimProject
    from .simulator import MixpanelWorld

HISTORY_LIMIT = 30
_run_ids = itertools.count(9001)
HOURLY_NS = 3_600_000_000_000  # run_every is in nanoseconds, one of 0, hourly, daily, weekly
CREATED = "2026-01-05T10:00:00Z"


@dataclass
class WarehouseRun:
    triggered_at: datetime
    queue_seconds: float = 0
    run_seconds: float = 60
    outcome: str = "SUCCEEDED"  # SUCCEEDED | FAILED | CANCELLED
    events: int = 1000
    run_id: str = ""  # a string in the spec's manual-sync answer

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
    import_type: str = "event_stream"
    sync_mode: str = "time_based"
    run_every: int = HOURLY_NS
    paused: bool = False

    def all_runs(self, now: datetime) -> list[WarehouseRun]:
        runs = list(self.runs) + (self.cycle.runs(now) if self.cycle else [])
        return sorted(runs, key=lambda r: r.triggered_at)

    def history(self, now: datetime) -> list[dict[str, Any]]:
        items = [item for run in self.all_runs(now) if (item := run.render(now)) is not None]
        return items[::-1][:HISTORY_LIMIT]

    def listing(self, now: datetime) -> dict[str, Any]:
        """The spec's WarehouseImport, as the list answers it."""
        dispatched = [r.triggered_at for r in self.all_runs(now) if r.triggered_at <= now]
        return {
            "id": int(self.import_id),
            "import_type": self.import_type,
            "sync_mode": self.sync_mode,
            "created": CREATED,
            "creator_id": 1001,
            "creator_name": "Demo Owner",
            "creator_email": "owner@example.com",
            "warehouse_source_id": 7,
            "table_params": {"dataset": "analytics", "table": f"events_{self.import_id}"},
            "paused": self.paused,
            "run_every": self.run_every,
            "last_dispatch": int(max(dispatched).timestamp()) if dispatched else None,
            "is_deleted": False,
        }


class WarehouseApi:
    """The /warehouse-sources/imports routes, over the projects of a MixpanelWorld."""

    def __init__(self, world: MixpanelWorld) -> None:
        self.world = world

    def install(self, sim: Simulator) -> None:
        self.sim = sim
        base = r"/api/app/projects/(?P<project_id>[^/]+)/warehouse-sources/imports"
        self.world.route("GET", base, self.listing, _error)
        self.world.route("GET", base + r"/(?P<import_id>[^/]+)/history", self.history, _error)
        self.world.route("PUT", base + r"/(?P<import_id>[^/]+)/manual-sync", self.manual_sync, _error)

    def _project(self, req: SimRequest, project_id: str) -> SimProject | SimResponse:
        return self.world._guard(req, project_id, service_account_only=True)

    def _import(self, req: SimRequest, project_id: str, import_id: str) -> SimWarehouseImport | SimResponse:
        project = self._project(req, project_id)
        if isinstance(project, SimResponse):
            return project
        found = project.imports.get(import_id)
        return found if found is not None else _error(404, f"Import {import_id} not found")

    def listing(self, req: SimRequest, project_id: str) -> SimResponse:
        project = self._project(req, project_id)
        if isinstance(project, SimResponse):
            return project
        now = self.sim.clock.now()
        return json_response({"status": "ok", "results": [i.listing(now) for i in project.imports.values()]})

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
        active = [run for run in found.all_runs(now) if run.active(now) and run.run_id]
        if active:  # [I] one sync at a time: a second trigger answers the running one's id
            return json_response({"status": "ok", "results": {"run_id": active[-1].run_id}})
        run = WarehouseRun(now, queue_seconds=5, run_seconds=60, run_id=str(next(_run_ids)))
        found.runs.append(run)
        return json_response({"status": "ok", "results": {"run_id": run.run_id}})


def _error(status: int, message: str) -> SimResponse:
    return json_response({"status": "error", "error": message}, status)

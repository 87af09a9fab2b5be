"""Mixpanel app API (import connectors) as the simulator speaks it; the warehouse imports
(warehouse_simulator.py) and data pipelines (nessie_simulator.py) install from here too.

Runs are a pure function of the simulator clock: a `ScriptedRun` knows when it was
queued, how long it waits, how long it runs and how it ends, so a scenario is data and
the same instant always gives the same answer. Seed samples are served verbatim.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..seeds import readme_code_samples
from ..simulator.core import SimRequest, SimResponse, Simulator, json_response
from ..timeparse import format_go_time
from .nessie_seed import seed_pipeline_project
from .nessie_simulator import NessieApi, SimPipeline
from .warehouse_simulator import SimWarehouseImport, WarehouseApi, WarehouseCycle, WarehouseRun

HISTORY_PAGE_SIZE = 20


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


class MixpanelWorld:
    def __init__(self, projects: Iterable[SimProject] = ()) -> None:
        self.projects = {p.project_id: p for p in projects}
        self._hits: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def install(self, sim: Simulator) -> None:
        base = r"/api/app/projects/(?P<project_id>[^/]+)"
        self.sim = sim
        sim.add_route("GET", base + r"/connectors", self.list_connectors)
        sim.add_route("GET", base + r"/connectors/(?P<connector_id>[^/]+)", self.get_connector)
        sim.add_route("GET", base + r"/connectors/(?P<connector_id>[^/]+)/history", self.history)
        WarehouseApi(self).install(sim)
        NessieApi(self).install(sim)

    # -- auth, rate limit, lookup ------------------------------------------------------
    def _guard(self, req: SimRequest, project_id: str) -> SimProject | SimResponse:
        creds = req.basic_auth()
        if creds is None:
            return _error(401, "Authentication required: use HTTP Basic auth")
        project = self.projects.get(project_id)
        known = [
            p
            for p in self.projects.values()
            if creds == (p.username, p.secret) or (p.api_secret and creds[0] == p.api_secret)
        ]
        if not known:
            return _error(401, "Invalid service account credentials")
        if project is None or project not in known:
            return _error(403, f"Service account has no access to project {project_id}")
        if project.rate_limit is not None:
            with self._lock:
                now = time.monotonic()
                hits = [t for t in self._hits.get(project_id, []) if now - t < project.rate_window]
                hits.append(now)
                self._hits[project_id] = hits
                if len(hits) > project.rate_limit:
                    return json_response(
                        {"status": "error", "error": "Rate limit exceeded, retry later"},
                        429,
                        **{"Retry-After": str(project.retry_after)},
                    )
        return project

    def _connector(self, project: SimProject, connector_id: str) -> SimConnector | SimResponse:
        connector = project.connectors.get(connector_id)
        if connector is None:
            return json_response(
                {"status": "error", "type": "not_found", "message": f"Connector {connector_id} not found"},
                404,
            )
        return connector

    # -- endpoints -----------------------------------------------------------------
    def list_connectors(self, req: SimRequest, project_id: str) -> SimResponse:
        project = self._guard(req, project_id)
        if isinstance(project, SimResponse):
            return project
        data = [_connector_object(c) for c in project.connectors.values()]
        return json_response({"status": "ok", "results": {"url": None, "has_more": False, "data": data}})

    def get_connector(self, req: SimRequest, project_id: str, connector_id: str) -> SimResponse:
        project = self._guard(req, project_id)
        if isinstance(project, SimResponse):
            return project
        connector = self._connector(project, connector_id)
        if isinstance(connector, SimResponse):
            return connector
        return json_response({"status": "ok", "results": _connector_object(connector)})

    def history(self, req: SimRequest, project_id: str, connector_id: str) -> SimResponse:
        project = self._guard(req, project_id)
        if isinstance(project, SimResponse):
            return project
        connector = self._connector(project, connector_id)
        if isinstance(connector, SimResponse):
            return connector
        if connector.verbatim is not None:
            return SimResponse(200, connector.verbatim, {"Content-Type": "application/json"})
        items = connector.history(self.sim.clock.now())
        page = int(req.arg("page", "1") or 1)
        start = (page - 1) * HISTORY_PAGE_SIZE
        chunk = items[start : start + HISTORY_PAGE_SIZE]
        has_more = len(items) > start + HISTORY_PAGE_SIZE
        next_url = f"{req.path}?page={page + 1}" if has_more else None
        return json_response({"status": "ok", "results": {"url": next_url, "has_more": has_more, "data": chunk}})


def _connector_object(c: SimConnector) -> dict[str, Any]:
    return {
        "connector_id": c.connector_id,
        "label": c.label,
        "connector_type": "s3Import",
        "connector_properties": {"s3_bucket": "example-bucket", "s3_prefix": c.connector_id},
        "category_properties": {"data_format": "mixpanel_event", "compression": "gzip"},
        "status": None,
        "failure_message": None,
        "created_at": "2020-09-01T00:00:00Z",
        "created_by": "ops@example.com",
    }


def _error(status: int, message: str) -> SimResponse:
    return json_response({"status": "error", "error": message}, status)


GZIP_MESSAGE = (
    "No compression specified but Gzip detected. Please submit a new request with correct compression as param"
)
MIXPANEL_SEED = "mixpanel-import-connector-history.txt"
SEED_CONNECTORS = {
    "seed-queued": "Sample Response - Queued Job",
    "seed-running": "Sample Response - Running Job",
    "seed-success": "Sample Response - Successfully Completed Job",
    "seed-failed": "Sample Response - Failed Job",
}


def seed_connectors() -> list[SimConnector]:
    samples = readme_code_samples(MIXPANEL_SEED)
    return [SimConnector(cid, label=name, verbatim=samples[name]) for cid, name in SEED_CONNECTORS.items()]


def install_demo(sim: Simulator, origin: datetime) -> MixpanelWorld:
    """The Mixpanel part of `make run`'s demo (demo/demo.toml points at it)."""
    main = SimProject("12345", username="demo-svc", secret="demo-secret").add(
        SimConnector(
            "s3-events",
            label="S3 events (hourly drop)",
            cycle=CyclingRuns(origin, period=75, run_seconds=45, events=120_000),
        ),
        SimConnector(
            "gcs-people",
            label="GCS people profiles",
            cycle=CyclingRuns(
                origin + timedelta(seconds=20),
                period=95,
                run_seconds=50,
                outcomes=("success", "success", "failed"),
                message=GZIP_MESSAGE,
                events=8_000,
                dropped=40,
            ),
        ),
        SimConnector(
            "backfill-2024",
            label="2024 backfill",
            cycle=CyclingRuns(origin, period=1800, queue_seconds=30, run_seconds=1500, events=9_000_000),
        ),
        *seed_connectors(),
    )
    _add_demo_pipelines(main, origin)
    busy = SimProject(
        "777", username="busy-svc", secret="busy-secret", rate_limit=3, rate_window=30, retry_after=20
    ).add(
        SimConnector("busy-feed", cycle=CyclingRuns(origin, period=120, run_seconds=60, id_style="ids")),
    )
    world = MixpanelWorld([main, busy, seed_pipeline_project(origin.date())])
    world.install(sim)
    return world


def _add_demo_pipelines(project: SimProject, origin: datetime) -> None:
    """Nessie pipelines and warehouse imports of the demo's project 12345."""
    ten_days_ago = origin.date() - timedelta(days=10)
    project.add_pipelines(
        SimPipeline(
            "events-daily-bigquery-monoschema", origin=ten_days_ago, timeline_gaps=frozenset({4}), delay_seconds=900
        ),
        SimPipeline(
            "people-daily-s3-raw",
            origin=ten_days_ago,
            data_source="people",
            outcomes={3: "failed", 6: "timed_out", 8: "retried"},
            dispatcher="daily",
            sync_enabled=False,
        ),
    )
    project.add_imports(
        SimWarehouseImport(
            "4242",
            cycle=WarehouseCycle(origin, period=120, outcomes=("SUCCEEDED",) * 5 + ("FAILED",), events=48_000),
        ),
        SimWarehouseImport(
            "4243",
            runs=[
                WarehouseRun(origin - timedelta(hours=3), run_seconds=600, events=9_000),
                WarehouseRun(origin - timedelta(hours=2), run_seconds=900, outcome="CANCELLED", events=9_000),
            ],
            cycle=WarehouseCycle(origin, period=600, run_seconds=90, events=9_500),
        ),
    )

"""Mixpanel app API (import connectors) as the simulator speaks it; the warehouse imports
(warehouse_simulator.py) and data pipelines (nessie_simulator.py) install from here too.

What answers is the world of sim_world.py (projects, connectors, scripted runs, a pure
function of the simulator clock). Seed samples are served verbatim.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta

from ..seeds import readme_code_samples
from ..simulator.core import Handler, SimRequest, SimResponse, Simulator, json_response
from .nessie_seed import (
    SEED_PIPELINE,
    SEED_PROJECT_ID,
    SEED_TIMELINE,
    seed_canceled_task,
    seed_jobs_text,
    seed_summary_text,
)
from .nessie_simulator import NessieApi, SimPipeline
from .sim_world import CyclingRuns, SimConnector, SimProject
from .sim_world import ScriptedRun as ScriptedRun  # tests and the bench script runs from here
from .simulator_specs import judge, specs
from .warehouse_simulator import SimWarehouseImport, WarehouseApi, WarehouseCycle, WarehouseRun

HISTORY_PAGE_SIZE = 20


class MixpanelWorld:
    def __init__(self, projects: Iterable[SimProject] = ()) -> None:
        self.projects = {p.project_id: p for p in projects}
        self._hits: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def install(self, sim: Simulator) -> None:
        base = r"/api/app/projects/(?P<project_id>[^/]+)"
        self.sim = sim
        specs()  # read the spec files now, not while the first request waits
        # Only history: the connectors list and get went with the API (Nov 2024) and no
        # client of ours reads them; the seed documents history alone.
        self.route("GET", base + r"/connectors/(?P<connector_id>[^/]+)/history", self.history, legacy_error)
        WarehouseApi(self).install(sim)
        NessieApi(self).install(sim)

    def route(self, method: str, pattern: str, handler: Handler, error: ErrorBody, waive: Waiver = None) -> None:
        """A route whose requests are judged by Mixpanel's specs before `handler` sees them:
        unknown credentials 401, a path the spec's types do not fit 404, any other problem 400.
        `waive` drops problems the spec's prose excuses (its schemas say less than its text)."""

        def checked(req: SimRequest, **groups: str) -> SimResponse:
            if (denied := self._authenticate(req)) is not None:
                return denied
            verdict = judge(req)
            if verdict is not None and verdict.path:
                return error(404, "; ".join(verdict.path))
            problems = waive(req, verdict.request) if verdict is not None and waive else verdict and verdict.request
            if problems:
                return error(400, "; ".join(problems))
            return handler(req, **groups)

        self.sim.add_route(method, pattern, checked)

    # -- auth, rate limit, lookup: the app APIs' shared answers, {status, error} ---------
    def _authenticate(self, req: SimRequest) -> SimResponse | None:
        error = _error
        creds = req.basic_auth()
        if creds is None:
            return error(401, "Authentication required: use HTTP Basic auth")
        if not any(self._matches(p, creds) for p in self.projects.values()):
            return error(401, "Invalid service account credentials")
        return None

    @staticmethod
    def _matches(project: SimProject, creds: tuple[str, str]) -> bool:
        secret = bool(project.api_secret) and creds[0] == project.api_secret
        return creds == (project.username, project.secret) or secret

    def _guard(self, req: SimRequest, project_id: str, service_account_only: bool = False) -> SimProject | SimResponse:
        error = _error
        if (denied := self._authenticate(req)) is not None:
            return denied
        creds = req.basic_auth()
        assert creds is not None
        if service_account_only and not any(creds == (p.username, p.secret) for p in self.projects.values()):
            # The app APIs' only security scheme is ServiceAccount; a project secret is not one.
            return error(401, "This API needs a service account (username and secret), not a project secret")
        project = self.projects.get(project_id)
        if project is None or not self._matches(project, creds):
            return error(403, f"Service account has no access to project {project_id}")
        if project.rate_limit is not None:
            with self._lock:
                now = time.monotonic()
                hits = [t for t in self._hits.get(project_id, []) if now - t < project.rate_window]
                hits.append(now)
                self._hits[project_id] = hits
                if len(hits) > project.rate_limit:
                    response = error(429, "Rate limit exceeded, retry later")
                    response.headers["Retry-After"] = str(project.retry_after)
                    return response
        return project

    # -- endpoints -----------------------------------------------------------------
    def history(self, req: SimRequest, project_id: str, connector_id: str) -> SimResponse:
        project = self._guard(req, project_id, service_account_only=True)
        if isinstance(project, SimResponse):
            return project
        if project.legacy_api_removed:  # [I] what Mixpanel answers since it deleted the API
            return legacy_error(404, "Not Found", "not_found")
        connector = project.connectors.get(connector_id)
        if connector is None:
            return legacy_error(404, f"Connector {connector_id} not found", "not_found")
        if connector.verbatim is not None:
            return SimResponse(200, connector.verbatim, {"Content-Type": "application/json"})
        items = connector.history(self.sim.clock.now())
        page = _page_of(req.arg("cursor"))
        start = (page - 1) * HISTORY_PAGE_SIZE
        chunk = items[start : start + HISTORY_PAGE_SIZE]
        has_more = len(items) > start + HISTORY_PAGE_SIZE
        # `url` is a uuid in the spec and no request parameter is documented to follow it: [I]
        # the simulator takes it back as `cursor`.
        cursor = str(uuid.UUID(int=page + 1)) if has_more else None
        return json_response({"status": "ok", "results": {"url": cursor, "has_more": has_more, "data": chunk}})


def _page_of(cursor: str) -> int:
    try:
        return max(1, uuid.UUID(cursor).int) if cursor else 1
    except ValueError:
        return 1


ErrorBody = Callable[..., SimResponse] | None
Waiver = Callable[[SimRequest, list[str]], list[str]] | None


def legacy_error(status: int, message: str, kind: str = "") -> SimResponse:
    """The legacy spec's errorResponse: {status, type, message}."""
    kind = kind or ("missing_required_property" if "required" in message else "invalid_property")
    return json_response({"status": "error", "type": kind, "message": message}, status)


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


def seed_pipeline_project(today: date) -> SimProject:
    """Project 9876543210 of the seed: legacy secret "seed-api-secret", the jobs sample
    verbatim, and the seed's backfill pipeline with its summary and canceled task."""
    project = SimProject(
        SEED_PROJECT_ID,
        username="seed-svc",
        secret="seed-svc-secret",
        api_secret="seed-api-secret",
        jobs_verbatim=seed_jobs_text(),
    )
    project.add_pipelines(
        SimPipeline(
            SEED_PIPELINE,
            origin=date(2016, 7, 26),
            frequency="hourly",
            to_date=date(2016, 7, 31),
            summary_verbatim=seed_summary_text(),
            tasks_verbatim={"canceled": [seed_canceled_task()]},
            timeline_verbatim=SEED_TIMELINE,
        ),
        SimPipeline(
            "events-daily-bigquery-monoschema", origin=today - timedelta(days=7), frequency="hourly", delay_seconds=600
        ),
    )
    return project

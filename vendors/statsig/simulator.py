"""Statsig Console API (warehouse ingestion, VENDORS.md §5) as the simulator speaks it.

Everything is a pure function of the simulator clock. A `SimDay` is a list of timestamped
status steps for one day of one (source, dataset): the status listing shows the steps
whose time has come, so a day is scheduled, starts, succeeds (or comes back empty, or
fails), and may be re-opened later. A `SimRun` is a backfill run whose `runHistory`
advances along a script of (seconds after creation, status).

The console key "seed-console-key" gets the seed's sample answer, a bare array, byte for
byte (Statsig's own example, which contradicts its schema); an unknown key gets the
seed's 401 body with the first 12 characters of the key.

Requests are checked against Statsig's published spec (`spec/console-api.openapi.json`),
read by the simulator itself; it imports nothing from the client. The seed's status enum
is a subset of the spec's, so accepting the spec's accepts both.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from ..simulator.core import SimRequest, SimResponse, Simulator, json_response
from ..simulator.spec_check import load_spec, problems
from .simulator_model import (
    BACKFILL_PATH,
    BACKFILL_SCRIPT,
    BUSY_KEY,
    DEMO_KEY,
    FAIL_SCRIPT,
    QUERY_ERROR_MESSAGE,
    RETRY_SCRIPT,
    RUNS_PAGE_SIZE,
    RUNS_PATH,
    SEED_KEY,
    SPEC_FILE,
    STATSIG_SEED,
    STATUS_PAGE_SIZE,
    STATUS_PATH,
    SimConsole,
    SimRun,
    SimSource,
    Step,
    auth_message,
    scripted_day,
    seed_status_example,
)

# The world's parts are in simulator_model.py; tests and the demo import them from here too.
__all__ = [
    "BUSY_KEY",
    "DEMO_KEY",
    "FAIL_SCRIPT",
    "RETRY_SCRIPT",
    "SEED_KEY",
    "STATSIG_SEED",
    "SimConsole",
    "SimRun",
    "SimSource",
    "StatsigWorld",
    "install_demo",
    "scripted_day",
    "seed_console",
    "seed_status_example",
]


def _error(status: int, message: str, **headers: str) -> SimResponse:
    return json_response({"status": status, "message": message}, status, **headers)


def _spec() -> dict[str, Any]:
    return load_spec(SPEC_FILE)


def _query_enum(name: str) -> list[str]:
    """The enum of one query parameter of the status endpoint, as the spec gives it."""
    [param] = [p for p in _spec()["paths"][STATUS_PATH]["get"]["parameters"] if p["name"] == name]
    schema = param["schema"]
    return schema.get("enum") or schema["items"]["enum"]


def backfill_problems(body: Any) -> list[str]:
    """What IngestionBackfillContractDto refuses, and dates not "in the form of YYYY-MM-DD"."""
    found = problems({"$ref": "#/components/schemas/IngestionBackfillContractDto"}, body, _spec())
    for name in ("datestamp_start", "datestamp_end"):
        if not found and _day_arg(body[name]) is None:
            found.append(f"{name} must be a valid date in the form of YYYY-MM-DD")
    return found


def _day_arg(value: str) -> date | None:
    if not re.match(r"^\d{4}-\d{2}-\d{2}$", value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


class StatsigWorld:
    def __init__(self, consoles: Iterable[SimConsole] = (), page_size: int = STATUS_PAGE_SIZE) -> None:
        self.consoles = {c.key: c for c in consoles}
        self.page_size = page_size
        self.status_queries: list[dict[str, list[str]]] = []  # what clients asked, for tests
        self._hits: dict[str, list[datetime]] = {}
        self._lock = threading.Lock()

    def add(self, console: SimConsole) -> SimConsole:
        self.consoles[console.key] = console
        return console

    def install(self, sim: Simulator) -> None:
        self.sim = sim
        sim.add_route("GET", STATUS_PATH, self.status)
        sim.add_route("GET", RUNS_PATH, self.list_runs)
        sim.add_route("GET", RUNS_PATH + r"/(?P<run_id>[^/]+)", self.get_run)
        sim.add_route("POST", BACKFILL_PATH, self.backfill)

    # -- auth, rate limit ----------------------------------------------------------
    def _guard(self, req: SimRequest) -> SimConsole | SimResponse:
        key = req.headers.get("statsig-api-key", "")
        console = self.consoles.get(key)
        if console is None:
            return _error(401, auth_message(key))
        now = self.sim.clock.now()
        with self._lock:
            longest = max((window for _, window in console.rate_limits), default=0)
            hits = [t for t in self._hits.get(key, []) if (now - t).total_seconds() < longest]
            for limit, window in console.rate_limits:
                recent = [t for t in hits if (now - t).total_seconds() < window]
                if len(recent) >= limit:
                    self._hits[key] = hits
                    wait = window - (now - recent[0]).total_seconds()
                    return _error(
                        429,
                        f"Rate limit exceeded: at most {limit} requests per {window:g} seconds",
                        **{"Retry-After": str(max(1, math.ceil(wait)))},
                    )
            hits.append(now)
            self._hits[key] = hits
        return console

    # -- endpoints -----------------------------------------------------------------
    def status(self, req: SimRequest) -> SimResponse:
        console = self._guard(req)
        if isinstance(console, SimResponse):
            return console
        self.status_queries.append(dict(req.query))
        start_arg, end_arg = req.arg("startDate"), req.arg("endDate")
        if not start_arg or not end_arg:
            return _error(400, "startDate and endDate are required (YYYY-MM-DD)")
        start, end = _day_arg(start_arg), _day_arg(end_arg)
        if start is None or end is None:
            return _error(400, "startDate and endDate must be dates (YYYY-MM-DD)")
        if start > end:
            return _error(400, "startDate must be on or before endDate")
        if req.arg("dataset") and req.arg("dataset") not in _query_enum("dataset"):
            return _error(400, f"dataset must be one of {', '.join(_query_enum('dataset'))}")
        filters = req.query.get("status", []) + req.query.get("statuses", []) + req.query.get("statuses[]", [])
        if unknown := [v for v in filters if v not in _query_enum("status")]:
            return _error(400, f"unknown status {unknown[0][:40]!r}")
        try:
            page = int(req.arg("page", "1") or 1)
        except ValueError:
            return _error(400, "page must be a number")
        if console.status_verbatim is not None:
            return SimResponse(200, console.status_verbatim, {"Content-Type": "application/json"})
        now = self.sim.clock.now()
        source, dataset = req.arg("source"), req.arg("dataset").lower()
        wanted = set(req.query.get("statuses[]", []) + req.query.get("statuses", []))
        if req.arg("status"):
            wanted.add(req.arg("status"))
        rows = [
            row
            for s in console.sources
            if (not source or source in (s.source_name, s.ingestion_source))
            and (not dataset or dataset == s.dataset.lower())
            for row in s.rows(now)
            if start.isoformat() <= row["ds"][:10] <= end.isoformat() and (not wanted or row["status"] in wanted)
        ]
        rows.sort(key=lambda r: r["timestamp"], reverse=True)  # newest first
        size = self.page_size
        chunk = rows[(page - 1) * size : page * size]
        others = [(k, v) for k, values in req.query.items() if k != "page" for v in values]

        def link(n: int) -> str:
            return f"{STATUS_PATH}?{urlencode([*others, ('page', str(n))])}"

        pagination = {
            "itemsPerPage": size,
            "pageNumber": page,
            "nextPage": link(page + 1) if len(rows) > page * size else None,
            "previousPage": link(page - 1) if page > 1 else None,
            "totalItems": len(rows),
        }
        return json_response(
            {"message": "Ingestion status listed successfully.", "data": chunk, "pagination": pagination}
        )

    def list_runs(self, req: SimRequest) -> SimResponse:
        console = self._guard(req)
        if isinstance(console, SimResponse):
            return console
        try:
            page = max(1, int(req.arg("page", "1") or 1))
            limit = max(1, int(req.arg("limit", str(RUNS_PAGE_SIZE)) or RUNS_PAGE_SIZE))
        except ValueError:
            return _error(400, "page and limit must be numbers")
        now = self.sim.clock.now()
        runs = [r for run in console.runs.values() if (r := run.render(now)) is not None]
        runs.sort(key=lambda r: r["createdAt"], reverse=True)
        chunk = runs[(page - 1) * limit : page * limit]
        pagination = {
            "itemsPerPage": limit,
            "pageNumber": page,
            "nextPage": f"{RUNS_PATH}?page={page + 1}" if len(runs) > page * limit else None,
            "previousPage": f"{RUNS_PATH}?page={page - 1}" if page > 1 else None,
            "totalItems": len(runs),
        }
        return json_response(
            {"message": "Ingestion runs listed successfully.", "data": chunk, "pagination": pagination}
        )

    def get_run(self, req: SimRequest, run_id: str) -> SimResponse:
        console = self._guard(req)
        if isinstance(console, SimResponse):
            return console
        run = console.runs.get(run_id)
        rendered = run.render(self.sim.clock.now()) if run else None
        if rendered is None:
            return _error(404, f"runID {run_id} not found")
        return json_response({"message": "Ingestion run read successfully.", "data": rendered})

    def backfill(self, req: SimRequest) -> SimResponse:
        console = self._guard(req)
        if isinstance(console, SimResponse):
            return console
        try:
            spec = req.json()
        except ValueError:
            return _error(400, "request body must be JSON")
        if found := backfill_problems(spec):
            return _error(400, "; ".join(found))
        now = self.sim.clock.now()
        cleaned = spec
        start, end = date.fromisoformat(cleaned["datestamp_start"]), date.fromisoformat(cleaned["datestamp_end"])
        if start > end:
            return _error(400, "datestamp_start must be on or before datestamp_end")
        days = [start + timedelta(days=i) for i in range(min(60, (end - start).days + 1))]
        wanted = cleaned.get("source")
        names = [wanted] if isinstance(wanted, str) else list(wanted or [])
        sources = [
            s
            for s in console.sources
            if s.dataset.lower() == cleaned["dataset"].lower() and (not names or s.source_name in names)
        ]
        script = console.backfill_scripts[console.created % len(console.backfill_scripts)]
        run = SimRun(
            console.next_run_id(),
            now,
            script,
            sources=[s.source_name for s in sources] or names,
            date_stamps=[d.isoformat() for d in days],
        )
        console.add_runs(run)
        end_offset = timedelta(seconds=script[-1][0])
        for source in sources:
            for d in days:
                sim_day = source.day(d)
                sim_day.steps.append(Step(now, "BACKFILL_REQUESTED"))
                sim_day.steps.append(Step(now + timedelta(seconds=10), "BACKFILL_STARTED"))
                if run.ends_in_success:
                    sim_day.steps.append(Step(now + end_offset, "IMPORT_SUCCESSFUL", 1_000 + d.toordinal() % 97))
                else:
                    sim_day.steps.append(Step(now + end_offset, "ERROR", message="Backfill failed while downloading"))
        return json_response({"message": "Ingestion backfilled successfully.", "data": {"runID": run.run_id}})


# -- worlds -------------------------------------------------------------------------
def seed_console() -> SimConsole:
    return SimConsole(SEED_KEY, status_verbatim=seed_status_example())


def install_demo(sim: Simulator, origin: datetime) -> StatsigWorld:
    """The Statsig part of `make run`'s demo: ten days of two sources, live for an hour.

    Account: api_key "console-demo-key", settings {window_days: 10}. Also the seed key
    (the seed's bare array) and "console-busy-key" (rate limited at once).
    """
    today = origin.astimezone(UTC).date()

    def ago(n: int) -> date:
        return today - timedelta(days=n)

    def soon(minutes: float) -> datetime:
        return origin + timedelta(minutes=minutes)

    snowflake = SimSource("snowflake-prod", "events", "snowflake")
    snowflake.days = [
        # live: scheduled before the demo starts, running during it, done after 45 min
        scripted_day(ago(1), at=soon(-5), gap=25 * 60, rows=1_204_388),
        # re-opened: succeeded long ago, reloaded during the demo with more rows
        scripted_day(ago(2), rows=1_180_002).reopen(soon(10), rows=1_193_415, run_seconds=25 * 60),
        scripted_day(ago(3), ("IMPORT_SCHEDULED", "IMPORT_STARTED", "QUERY_ERROR"), message=QUERY_ERROR_MESSAGE),
        scripted_day(ago(4), ("IMPORT_SCHEDULED", "IMPORT_STARTED", "LOADED_EMPTY_DATA")),
        # an unknown status for a while, then success
        scripted_day(ago(5), ("IMPORT_SCHEDULED", "IMPORT_STARTED", "DEDUPE_RUNNING"), rows=0),
        *(scripted_day(ago(n), rows=1_100_000 + 7_919 * n) for n in range(6, 11)),
    ]
    snowflake.days[4].steps.append(Step(soon(40), "IMPORT_SUCCESSFUL", 1_150_551))
    exposures = SimSource("bigquery-exposures", "export_exposures", "bigquery")
    exposures.days = [
        # live: rescheduled once, then runs through the end of the demo hour
        scripted_day(
            ago(1),
            ("IMPORT_SCHEDULED", "IMPORT_RESCHEDULED", "IMPORT_STARTED", "FILE_CREATED", "BULK_LOAD_SUCCESSFUL"),
            at=soon(0),
            gap=15 * 60,
            rows=88_120,
        ),
        scripted_day(ago(2), ("BACKFILL_REQUESTED", "BACKFILL_STARTED", "IMPORT_SUCCESSFUL"), rows=87_004),
        scripted_day(ago(3), ("IMPORT_SCHEDULED", "IMPORT_STARTED", "LOADED_EMPTY_DATA")),
        scripted_day(
            ago(4),
            ("IMPORT_SCHEDULED", "IMPORT_STARTED", "INTERNAL_WRITE_ERROR_EXPOSURES"),
            message="Internal error while writing exposures for {ds}; Statsig will retry",
        ),
        *(scripted_day(ago(n), rows=80_000 + 311 * n) for n in range(5, 11)),
    ]
    demo = SimConsole(DEMO_KEY, backfill_scripts=(BACKFILL_SCRIPT, RETRY_SCRIPT)).add(snowflake, exposures)
    demo.add_runs(
        SimRun(
            "demo-backfill-done",
            origin - timedelta(hours=3),
            sources=["snowflake-prod"],
            date_stamps=[ago(9).isoformat()],
        ),
        SimRun(
            "demo-backfill-retry",
            soon(20),  # `origin` is 20 minutes before the demo starts: this one runs live
            RETRY_SCRIPT,
            sources=["bigquery-exposures"],
            date_stamps=[ago(2).isoformat()],
        ),
    )
    busy = SimConsole(BUSY_KEY, rate_limits=((1, 30.0),)).add(
        SimSource("busy-warehouse", "events", days=[scripted_day(ago(n)) for n in range(1, 4)])
    )
    world = StatsigWorld([demo, busy, seed_console()])
    world.install(sim)
    return world

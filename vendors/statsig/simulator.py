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

import json
import math
import re
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from ..seeds import SEED_DIR
from ..simulator.core import SimRequest, SimResponse, Simulator, json_response
from ..simulator.spec_check import load_spec, problems

STATSIG_SEED = "statsig-ingestion-status.txt"
SPEC_FILE = Path(__file__).parent / "spec" / "console-api.openapi.json"
STATUS_PATH = "/console/v1/ingestion/status"
RUNS_PATH = "/console/v1/ingestion/runs"
BACKFILL_PATH = "/console/v1/ingestion/backfill"
SEED_KEY = "seed-console-key"
DEMO_KEY = "console-demo-key"
BUSY_KEY = "console-busy-key"
KEY_ECHO_CHARS = 12
STATUS_PAGE_SIZE = 100
RUNS_PAGE_SIZE = 10
RATE_LIMITS = ((100, 10.0), (900, 900.0))

# Backfill run scripts: (seconds after the run was created, status).
BACKFILL_SCRIPT = (
    (0, "enqueued"),
    (10, "started"),
    (20, "download_started"),
    (45, "download_complete"),
    (55, "metrics_started"),
    (85, "metrics_complete"),
    (95, "pulse_started"),
    (120, "pulse_complete"),
)
RETRY_SCRIPT = (  # download_error, retried a minute later, then done
    (0, "enqueued"),
    (10, "started"),
    (20, "download_started"),
    (35, "download_error"),
    (95, "download_started"),
    (115, "download_complete"),
    (125, "metrics_started"),
    (145, "metrics_complete"),
    (155, "pulse_started"),
    (180, "pulse_complete"),
)
FAIL_SCRIPT = (  # download_error and nothing after it
    (0, "enqueued"),
    (10, "started"),
    (20, "download_started"),
    (35, "download_error"),
)

SUCCESS_STATUSES = ("IMPORT_SUCCESSFUL", "BULK_LOAD_SUCCESSFUL")
DAY_PATH = ("IMPORT_SCHEDULED", "IMPORT_STARTED", "IMPORT_SUCCESSFUL")
QUERY_ERROR_MESSAGE = (
    "SQL compilation error: error line 4 at position 11\n"
    "invalid identifier 'EVENT_TIMESTAMP'. Query: SELECT user_id, event_name, EVENT_TIMESTAMP "
    "FROM analytics.events WHERE ds = '{ds}'"
)


# -- the seed -----------------------------------------------------------------------
def _seed_text() -> str:
    return (SEED_DIR / STATSIG_SEED).read_text()


def _yaml_scalar(text: str) -> Any:
    text = text.strip()
    if text in ("", "null", "~"):
        return None
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return json.loads(text)
    return text


@cache
def seed_status_example() -> str:
    """The seed's 200 example (a YAML list of flat maps) as the JSON text we serve."""
    m = re.search(r"^( *)example:\n((?:\1 +\S.*\n)+)", _seed_text(), re.M)
    if m is None:
        raise RuntimeError(f"{STATSIG_SEED}: no example block")
    items: list[dict[str, Any]] = []
    for line in m[2].splitlines():
        text = line.strip()
        if text.startswith("- "):
            items.append({})
            text = text[2:]
        key, _, value = text.partition(":")
        items[-1][key.strip()] = _yaml_scalar(value)
    return json.dumps(items)


@cache
def seed_401_message() -> str:
    """The seed's 401 example message, its folded YAML lines joined."""
    m = re.search(r"^( *)message: >-\n((?:\1 +\S.*\n)+)", _seed_text(), re.M)
    if m is None:
        raise RuntimeError(f"{STATSIG_SEED}: no 401 example")
    return " ".join(line.strip() for line in m[2].splitlines())


def auth_message(key: str) -> str:
    """The 401 message for a key: the seed's text with the sent key's first characters."""
    prefix = seed_401_message().split("Key: ")[0]
    return f"{prefix}Key: {key[:KEY_ECHO_CHARS]}"


# -- scripted days --------------------------------------------------------------------
def iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def day_end(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)


@dataclass
class Step:
    at: datetime
    status: str | None
    rows: int | None = None
    message: str | None = None  # None: the usual text for the status
    error_message: str | None = None


@dataclass
class SimDay:
    day: date
    steps: list[Step] = field(default_factory=list)

    def reopen(self, at: datetime, rows: int, run_seconds: float = 900) -> SimDay:
        """Statsig's auto-reload: the day starts again at `at` and succeeds with `rows`."""
        self.steps.append(Step(at, "IMPORT_STARTED"))
        self.steps.append(Step(at + timedelta(seconds=run_seconds), "IMPORT_SUCCESSFUL", rows))
        return self


def scripted_day(
    day: date,
    path: Iterable[str | None] = DAY_PATH,
    *,
    at: datetime | None = None,
    gap: float = 900,
    rows: int = 100_000,
    message: str | None = None,
) -> SimDay:
    """A day whose statuses follow `path`, `gap` seconds apart, from `at` (default: an
    hour after the day ends). Success statuses carry `rows`, LOADED_EMPTY_DATA 0 rows, and
    the last status gets `message` (an error's text, verbatim)."""
    path = list(path)
    at = at or day_end(day) + timedelta(hours=1)
    steps = []
    for i, status in enumerate(path):
        count = rows if status in SUCCESS_STATUSES else 0 if status == "LOADED_EMPTY_DATA" else None
        text = message.format(ds=day.isoformat()) if message and i == len(path) - 1 else None
        steps.append(Step(at + timedelta(seconds=i * gap), status, count, text))
    return SimDay(day, steps)


def _default_message(status: str | None, dataset: str) -> str | None:
    if status is None:
        return None
    if status in ("IMPORT_SCHEDULED", "IMPORT_RESCHEDULED"):
        return f"Your job for {dataset} ingestion is scheduled"
    if status == "BACKFILL_REQUESTED":
        return f"A backfill of {dataset} was requested"
    if status in SUCCESS_STATUSES:
        return f"Your job for {dataset} ingestion completed successfully"
    if status == "LOADED_EMPTY_DATA":
        return f"Your job for {dataset} ingestion completed, but the source returned no data"
    if status.endswith("ERROR"):
        return f"Your job for {dataset} ingestion failed"
    return f"Your job for {dataset} ingestion is in progress"


@dataclass
class SimSource:
    source_name: str
    dataset: str  # as Statsig spells it in rows: "events", "export_exposures", ...
    ingestion_source: str = "snowflake"  # the warehouse type
    days: list[SimDay] = field(default_factory=list)

    def day(self, day: date) -> SimDay:
        for d in self.days:
            if d.day == day:
                return d
        new = SimDay(day)
        self.days.append(new)
        return new

    def rows(self, now: datetime) -> list[dict[str, Any]]:
        out = []
        for d in self.days:
            for step in d.steps:
                if step.at > now:
                    continue
                row: dict[str, Any] = {
                    "ds": f"{d.day.isoformat()}T00:00:00.000Z",
                    "ingestion_dataset": self.dataset,
                    "ingestion_source": self.ingestion_source,
                    "source_name": self.source_name,
                    "message": step.message
                    if step.message is not None
                    else _default_message(step.status, self.dataset),
                    "status": step.status,
                    "timestamp": iso(step.at),
                }
                if step.rows is not None:
                    row["rowCount"] = step.rows
                if step.error_message is not None:
                    row["error_message"] = step.error_message
                out.append(row)
        return out


# -- backfill runs --------------------------------------------------------------------
@dataclass
class SimRun:
    run_id: str
    created_at: datetime
    script: tuple[tuple[float, str], ...] = BACKFILL_SCRIPT
    trigger: str = "backfill"
    sources: list[str] = field(default_factory=list)
    date_stamps: list[str] = field(default_factory=list)

    def render(self, now: datetime) -> dict[str, Any] | None:
        if now < self.created_at:
            return None
        history = [
            (self.created_at + timedelta(seconds=offset), status)
            for offset, status in self.script
            if self.created_at + timedelta(seconds=offset) <= now
        ]
        latest_at, latest = history[-1]
        # Newest first, as Statsig's examples list them; entries are {statusTimestamp, status}.
        entries = [{"statusTimestamp": iso(at), "status": status} for at, status in reversed(history)]
        return {
            "runID": self.run_id,
            "latestStatus": latest,
            "lastUpdatedAt": iso(latest_at),
            "createdAt": iso(self.created_at),
            "trigger": self.trigger,
            "sources": list(self.sources),
            "dateStamps": list(self.date_stamps),
            "runHistory": entries,
            "granularHistory": [
                {
                    "source": source,
                    "latestSourceStatus": latest,
                    "statusByDate": [{"dateStamp": ds, "statuses": list(entries)} for ds in self.date_stamps],
                }
                for source in self.sources
            ],
        }

    @property
    def ends_in_success(self) -> bool:
        return self.script[-1][1] == "pulse_complete"


@dataclass
class SimConsole:
    """One Statsig project, reached with one console key."""

    key: str
    sources: list[SimSource] = field(default_factory=list)
    runs: dict[str, SimRun] = field(default_factory=dict)
    status_verbatim: str | None = None  # a seed sample, served byte for byte
    rate_limits: tuple[tuple[int, float], ...] = RATE_LIMITS
    backfill_scripts: tuple[tuple[tuple[float, str], ...], ...] = (BACKFILL_SCRIPT,)
    created: int = 0

    def add(self, *sources: SimSource) -> SimConsole:
        self.sources.extend(sources)
        return self

    def add_runs(self, *runs: SimRun) -> SimConsole:
        for run in runs:
            self.runs[run.run_id] = run
        return self

    def next_run_id(self) -> str:
        self.created += 1
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"statsig-sim/{self.key}/{self.created}"))


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

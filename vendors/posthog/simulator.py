"""PostHog's batch exports and warehouse sources as the simulator speaks them (VENDORS.md
section 7, read from PostHog's serializers, views and models; there is no OpenAPI file).

`Authorization: Bearer <personal API key>`, scoped keys (`batch_export:read|write`,
`external_data_source:read|write`), paths under `/api/projects/{id}/` with the deprecated
`/api/environments/{id}/` alias, `{type, code, detail, attr}` errors, 480 requests a minute
per key, list pages `{count, next, previous, results}`, run and backfill cursor pages
without `count`, runs listed for the last 7 days unless `after` asks for more.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from ..simulator.core import SimRequest, SimResponse, Simulator, json_response
from .sim_world import (
    INTERVALS,
    SimExport,
    SimProject,
    SimSchema,
    SimSource,
    floor_interval,
    iso,
)

RUNS_PAGE, BACKFILLS_PAGE, LIST_PAGE, JOBS_LIMIT = 100, 50, 100, 50
DEFAULT_RUNS_AFTER = "-7d"
MAX_CONCURRENT_BACKFILLS = 5
PER_MINUTE, PER_HOUR = 480, 4800
_RELATIVE = re.compile(r"^-(\d+)([hdwmy])$")
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1), "m": timedelta(days=30)}
_UNITS["y"] = timedelta(days=365)


@dataclass
class SimKey:
    projects: set[int]
    scopes: frozenset[str] | None = None  # None: an unscoped key (all of the user's access)


def error(status: int, type_: str, code: str, detail: str, attr: str | None = None) -> SimResponse:
    return json_response({"type": type_, "code": code, "detail": detail, "attr": attr}, status)


AUTH = "authentication_error"


def denied(detail: str) -> SimResponse:
    return error(403, AUTH, "permission_denied", detail)


def invalid(detail: str, attr: str | None = None, code: str = "invalid_input") -> SimResponse:
    return error(400, "validation_error", code, detail, attr)


NOT_FOUND = ("invalid_request", "not_found", "Not found.")


@dataclass
class PostHogWorld:
    keys: dict[str, SimKey] = field(default_factory=dict)
    projects: dict[int, SimProject] = field(default_factory=dict)
    per_minute: int = PER_MINUTE
    per_hour: int = PER_HOUR

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self._hits: dict[str, list[float]] = {}
        self._routes: list[tuple[str, re.Pattern[str], Any]] = []
        for method, pattern, handler in (
            ("GET", r"/batch_exports", self.list_exports),
            ("GET", r"/batch_exports/(?P<eid>[^/]+)", self.get_export),
            ("POST", r"/batch_exports/(?P<eid>[^/]+)/pause", self.pause),
            ("POST", r"/batch_exports/(?P<eid>[^/]+)/unpause", self.unpause),
            ("GET", r"/batch_exports/(?P<eid>[^/]+)/runs", self.list_runs),
            ("GET", r"/batch_exports/(?P<eid>[^/]+)/runs/(?P<rid>[^/]+)", self.get_run),
            ("POST", r"/batch_exports/(?P<eid>[^/]+)/runs/(?P<rid>[^/]+)/cancel", self.cancel_run),
            ("POST", r"/batch_exports/(?P<eid>[^/]+)/runs/(?P<rid>[^/]+)/retry", self.retry_run),
            ("GET", r"/batch_exports/(?P<eid>[^/]+)/backfills", self.list_backfills),
            ("POST", r"/batch_exports/(?P<eid>[^/]+)/backfills", self.create_backfill),
            ("GET", r"/batch_exports/(?P<eid>[^/]+)/backfills/(?P<bid>[^/]+)", self.get_backfill),
            ("POST", r"/batch_exports/(?P<eid>[^/]+)/backfills/(?P<bid>[^/]+)/cancel", self.cancel_backfill),
            ("GET", r"/external_data_sources", self.list_sources),
            ("GET", r"/external_data_sources/(?P<sid>[^/]+)", self.get_source),
            ("GET", r"/external_data_sources/(?P<sid>[^/]+)/jobs", self.source_jobs),
            ("POST", r"/external_data_sources/(?P<sid>[^/]+)/reload", self.reload_source),
            ("GET", r"/external_data_schemas", self.list_schemas),
            ("GET", r"/external_data_schemas/(?P<tid>[^/]+)", self.get_schema),
            ("POST", r"/external_data_schemas/(?P<tid>[^/]+)/reload", self.sync_schema),
            ("POST", r"/external_data_schemas/(?P<tid>[^/]+)/resync", self.resync_schema),
            ("POST", r"/external_data_schemas/(?P<tid>[^/]+)/cancel", self.cancel_schema),
        ):
            self._routes.append((method, re.compile(f"^{pattern}/?$"), handler))  # PostHog's routers: "/?"

    def install(self, sim: Simulator) -> None:
        self.sim = sim
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            sim.add_route(method, r"/api/(?:projects|environments)/(?P<pid>[^/]+)(?P<rest>/.*)?", self.dispatch)

    @property
    def now(self) -> datetime:
        return self.sim.clock.now()

    # --- the request path: auth, scope, rate, route -------------------------------------
    def dispatch(self, req: SimRequest, pid: str, rest: str | None) -> SimResponse:
        rest = rest or "/"
        key = self._key(req)
        if isinstance(key, SimResponse):
            return key
        allowed: list[str] = []
        for method, pattern, handler in self._routes:
            if not (m := pattern.match(rest)):
                continue
            if method != req.method:
                allowed.append(method)
                continue
            scope = ("batch_export" if rest.startswith("/batch_exports") else "external_data_source") + (
                ":read" if method == "GET" else ":write"
            )
            if key.scopes is not None and scope not in key.scopes:
                return denied(f"API key missing required scope '{scope}'")
            project = self.projects.get(int(pid)) if pid.isdigit() else None
            if project is None or project.id not in key.projects:
                return denied("You don't have access to the project.")
            if throttled := self._throttle(req.headers.get("authorization", "")):
                return throttled
            with self._lock:
                project.advance(self.now)
                return handler(req, project, **m.groupdict())
        if allowed:
            return error(405, "invalid_request", "method_not_allowed", f'Method "{req.method}" not allowed.')
        return error(404, *NOT_FOUND)

    def _key(self, req: SimRequest) -> SimKey | SimResponse:
        header = req.headers.get("authorization", "")
        if not header:
            return error(401, AUTH, "not_authenticated", "Authentication credentials were not provided.")
        scheme, _, token = header.partition(" ")
        key = self.keys.get(token.strip()) if scheme.lower() == "bearer" else None
        if key is None:
            return error(
                401,
                AUTH,
                "authentication_failed",
                "Personal API key found in request Authorization header is invalid.",
            )
        return key

    def _throttle(self, key: str) -> SimResponse | None:
        with self._lock:
            now = time.monotonic()
            hits = [t for t in self._hits.get(key, []) if now - t < 3600] + [now]
            self._hits[key] = hits
            minute = sum(1 for t in hits if now - t < 60)
        if minute > self.per_minute or len(hits) > self.per_hour:
            wait = 60 if minute > self.per_minute else 3600
            return error(429, "throttled_error", "throttled", f"Request was throttled. Expected available in {wait} s.")
        return None

    # --- batch exports -----------------------------------------------------------------
    def _export(self, project: SimProject, eid: str) -> SimExport | SimResponse:
        return project.exports.get(eid) or error(404, *NOT_FOUND)

    def list_exports(self, req: SimRequest, project: SimProject) -> SimResponse:
        exports = sorted(project.exports.values(), key=lambda e: e.created_at, reverse=True)
        return self._offset_page(req, [e.body(self.now) for e in exports])

    def get_export(self, req: SimRequest, project: SimProject, eid: str) -> SimResponse:
        export = self._export(project, eid)
        return export if isinstance(export, SimResponse) else json_response(export.body(self.now))

    def pause(self, req: SimRequest, project: SimProject, eid: str) -> SimResponse:
        export = self._export(project, eid)
        if isinstance(export, SimResponse):
            return export
        if not export.paused:
            export.paused, export.last_paused_at = True, self.now
        return json_response({"paused": True})

    def unpause(self, req: SimRequest, project: SimProject, eid: str) -> SimResponse:
        export = self._export(project, eid)
        if isinstance(export, SimResponse):
            return export
        body = _json_object(req)
        if isinstance(body, SimResponse):
            return body
        backfill = body.get("backfill", False)
        if not isinstance(backfill, bool):
            return invalid("Must be a valid boolean.", "backfill")
        if export.paused:
            export.paused = False
            if backfill and export.last_paused_at is not None:
                export.backfill(export.last_paused_at, self.now, self.now)
            export.scheduled_until = None if export.scheduled_until is None else _floor_now(export, self.now)
        return json_response({"paused": False})

    def list_runs(self, req: SimRequest, project: SimProject, eid: str) -> SimResponse:
        export = self._export(project, eid)
        if isinstance(export, SimResponse):
            return export
        now = self.now
        after = _when(req.arg("after", DEFAULT_RUNS_AFTER), now)
        before = _when(req.arg("before"), now) if req.arg("before") else now
        if after is None:
            return invalid(f"Invalid date: {req.arg('after')!r}", "after")
        if before is None:
            return invalid(f"Invalid date: {req.arg('before')!r}", "before")
        statuses = {s.lower() for s in req.query.get("status", []) if s}
        ordering = req.arg("ordering", "-created_at")
        keys = {"created_at": lambda r: r.created_at, "data_interval_start": lambda r: r.interval_start}
        field_name = ordering.lstrip("-")
        if field_name not in keys:
            return invalid(f"Invalid ordering: {ordering!r}", "ordering")
        runs = [
            r
            for r in export.runs
            if after <= r.created_at <= min(before, now) and (not statuses or r.status(now).lower() in statuses)
        ]
        runs.sort(key=lambda r: (keys[field_name](r), r.id), reverse=ordering.startswith("-"))
        return self._cursor_page(req, [r.body(now) for r in runs], RUNS_PAGE)

    def _run(self, project: SimProject, eid: str, rid: str) -> tuple[SimExport, Any] | SimResponse:
        export = self._export(project, eid)
        if isinstance(export, SimResponse):
            return export
        run = next((r for r in export.runs if r.id == rid and r.created_at <= self.now), None)
        return (export, run) if run else error(404, *NOT_FOUND)

    def get_run(self, req: SimRequest, project: SimProject, eid: str, rid: str) -> SimResponse:
        found = self._run(project, eid, rid)
        return found if isinstance(found, SimResponse) else json_response(found[1].body(self.now))

    def cancel_run(self, req: SimRequest, project: SimProject, eid: str, rid: str) -> SimResponse:
        found = self._run(project, eid, rid)
        if isinstance(found, SimResponse):
            return found
        run = found[1]
        if run.status(self.now) not in ("Starting", "Running"):
            return invalid(f"Cannot cancel a run that is in '{run.status(self.now)}' status", None)
        run.cancelled_at = self.now
        return json_response({"cancelled": True})

    def retry_run(self, req: SimRequest, project: SimProject, eid: str, rid: str) -> SimResponse:
        found = self._run(project, eid, rid)
        if isinstance(found, SimResponse):
            return found
        export, run = found
        backfill = export.backfill(run.interval_start, run.interval_end, self.now)
        return json_response({"backfill_id": backfill.id}, 201)

    def list_backfills(self, req: SimRequest, project: SimProject, eid: str) -> SimResponse:
        export = self._export(project, eid)
        if isinstance(export, SimResponse):
            return export
        backfills = sorted(export.backfills, key=lambda b: (b.created_at, b.id), reverse=True)
        return self._cursor_page(req, [b.body(self.now) for b in backfills], BACKFILLS_PAGE)

    def create_backfill(self, req: SimRequest, project: SimProject, eid: str) -> SimResponse:
        export = self._export(project, eid)
        if isinstance(export, SimResponse):
            return export
        body = _json_object(req)
        if isinstance(body, SimResponse):
            return body
        now = self.now
        bounds: dict[str, datetime] = {}
        for name in ("start_at", "end_at"):
            value = body.get(name)
            parsed = _iso_datetime(value) if isinstance(value, str) else None
            if parsed is None:
                return invalid("This field is required." if value is None else "Datetime has wrong format.", name)
            if export.interval in ("day", "week") and parsed.time() != datetime.min.time():
                return invalid(f"'{name}' must be a date (midnight) for a {export.interval}ly export", name)
            bounds[name] = parsed
        if bounds["start_at"] >= bounds["end_at"]:
            return invalid("The initial backfill datetime 'start_at' happens after 'end_at'", None)
        if bounds["end_at"] > now:
            return invalid("The provided 'end_at' happens in the future", "end_at")
        running = sum(1 for b in export.backfills if b.status(now) in ("Starting", "Running"))
        if running >= MAX_CONCURRENT_BACKFILLS:
            return error(
                429,
                "throttled_error",
                "too_many_concurrent_backfills",
                f"There are already {running} backfills running for this batch export; wait for one to finish.",
            )
        backfill = export.backfill(bounds["start_at"], bounds["end_at"], now)
        return json_response({"backfill_id": backfill.id}, 201)

    def _backfill(self, project: SimProject, eid: str, bid: str) -> tuple[SimExport, Any] | SimResponse:
        export = self._export(project, eid)
        if isinstance(export, SimResponse):
            return export
        backfill = next((b for b in export.backfills if b.id == bid), None)
        return (export, backfill) if backfill else error(404, *NOT_FOUND)

    def get_backfill(self, req: SimRequest, project: SimProject, eid: str, bid: str) -> SimResponse:
        found = self._backfill(project, eid, bid)
        return found if isinstance(found, SimResponse) else json_response(found[1].body(self.now))

    def cancel_backfill(self, req: SimRequest, project: SimProject, eid: str, bid: str) -> SimResponse:
        found = self._backfill(project, eid, bid)
        if isinstance(found, SimResponse):
            return found
        export, backfill = found
        if backfill.status(self.now) not in ("Starting", "Running"):
            return invalid(f"Cannot cancel a backfill that is in '{backfill.status(self.now)}' status", None)
        export.cancel_backfill(backfill, self.now)
        return json_response(backfill.body(self.now))

    # --- warehouse sources and tables -----------------------------------------------
    def list_sources(self, req: SimRequest, project: SimProject) -> SimResponse:
        sources = sorted(project.sources.values(), key=lambda s: s.created_at, reverse=True)
        return self._offset_page(req, [s.body(self.now) for s in sources])

    def _source(self, project: SimProject, sid: str) -> SimSource | SimResponse:
        return project.sources.get(sid) or error(404, *NOT_FOUND)

    def get_source(self, req: SimRequest, project: SimProject, sid: str) -> SimResponse:
        source = self._source(project, sid)
        return source if isinstance(source, SimResponse) else json_response(source.body(self.now))

    def source_jobs(self, req: SimRequest, project: SimProject, sid: str) -> SimResponse:
        source = self._source(project, sid)
        if isinstance(source, SimResponse):
            return source
        now = self.now
        after = _when(req.arg("after"), now) if req.arg("after") else None
        before = _when(req.arg("before"), now) if req.arg("before") else None
        if req.arg("after") and after is None:
            return invalid(f"Invalid date: {req.arg('after')!r}", "after")
        if req.arg("before") and before is None:
            return invalid(f"Invalid date: {req.arg('before')!r}", "before")
        wanted = {s for value in req.query.get("schemas", []) for s in value.split(",") if s}
        jobs = [
            j
            for s in source.schemas
            if not wanted or s.id in wanted or s.name in wanted
            for j in s.jobs
            if (after or j.created_at) <= j.created_at <= min(before or now, now)
        ]
        jobs.sort(key=lambda j: (j.created_at, j.id), reverse=True)
        return json_response([j.body(now) for j in jobs[:JOBS_LIMIT]])

    def reload_source(self, req: SimRequest, project: SimProject, sid: str) -> SimResponse:
        source = self._source(project, sid)
        if isinstance(source, SimResponse):
            return source
        for schema in source.schemas:
            if schema.should_sync and schema.running(self.now) is None:
                schema.sync_now(self.now)
        return json_response(None)

    def list_schemas(self, req: SimRequest, project: SimProject) -> SimResponse:
        schemas = [s for src in project.sources.values() for s in src.schemas]
        schemas.sort(key=lambda s: (s.created_at, s.id), reverse=True)
        return self._offset_page(req, [self._schema_body(project, s) for s in schemas])

    def _schema_body(self, project: SimProject, schema: SimSchema) -> dict[str, Any]:
        source = project.sources[schema.source_id]
        return {**schema.body(self.now), "source": {"id": source.id, "source_type": source.source_type}}

    def _schema(self, project: SimProject, tid: str) -> SimSchema | SimResponse:
        return project.schema(tid) or error(404, *NOT_FOUND)

    def get_schema(self, req: SimRequest, project: SimProject, tid: str) -> SimResponse:
        schema = self._schema(project, tid)
        return schema if isinstance(schema, SimResponse) else json_response(self._schema_body(project, schema))

    def sync_schema(self, req: SimRequest, project: SimProject, tid: str) -> SimResponse:
        schema = self._schema(project, tid)
        if isinstance(schema, SimResponse):
            return schema
        if schema.running(self.now) is not None:
            return json_response({"message": "A sync is already running for this schema"}, 400)
        schema.sync_now(self.now)
        return json_response(None)

    def resync_schema(self, req: SimRequest, project: SimProject, tid: str) -> SimResponse:
        """Drops the table and imports it again from scratch."""
        schema = self._schema(project, tid)
        if isinstance(schema, SimResponse):
            return schema
        if schema.running(self.now) is not None:
            return json_response({"message": "Cannot resync while a sync is running"}, 400)
        schema.dropped_at = self.now
        schema.sync_now(self.now)
        return json_response(None)

    def cancel_schema(self, req: SimRequest, project: SimProject, tid: str) -> SimResponse:
        schema = self._schema(project, tid)
        if isinstance(schema, SimResponse):
            return schema
        job = schema.running(self.now)
        if job is None:
            return json_response({"detail": "There is no running sync to cancel"}, 400)
        job.cancelled_at = self.now
        return json_response(None)

    # --- pages ---------------------------------------------------------------------
    def _offset_page(self, req: SimRequest, items: list[Any]) -> SimResponse:
        limit, offset = _int(req.arg("limit"), LIST_PAGE), _int(req.arg("offset"), 0)
        if limit is None or offset is None or limit < 1 or offset < 0:
            return invalid("limit and offset must be non-negative integers", "limit")
        limit = min(limit, LIST_PAGE)
        page = items[offset : offset + limit]
        more = offset + limit < len(items)
        return json_response(
            {
                "count": len(items),
                "next": _link(req, {"limit": limit, "offset": offset + limit}) if more else None,
                "previous": _link(req, {"limit": limit, "offset": max(0, offset - limit)}) if offset else None,
                "results": page,
            }
        )

    def _cursor_page(self, req: SimRequest, items: list[Any], size: int) -> SimResponse:
        cursor = req.arg("cursor")
        offset = _decode_cursor(cursor) if cursor else 0
        if offset is None:
            return error(404, "invalid_request", "not_found", "Invalid cursor")
        page = items[offset : offset + size]
        return json_response(
            {
                "next": _link(req, {"cursor": _encode_cursor(offset + size)}) if offset + size < len(items) else None,
                "previous": _link(req, {"cursor": _encode_cursor(max(0, offset - size))}) if offset else None,
                "results": page,
            }
        )


def _link(req: SimRequest, changes: dict[str, Any]) -> str:
    query = {k: v for k, v in req.query.items() if k not in changes}
    pairs = [(k, v) for k, values in query.items() for v in values] + [(k, str(v)) for k, v in changes.items()]
    host = req.headers.get("host", "127.0.0.1")
    return f"http://{host}{req.path}?{urlencode(pairs)}"


def _encode_cursor(offset: int) -> str:
    return base64.b64encode(f"o={offset}".encode()).decode()


def _decode_cursor(cursor: str) -> int | None:
    try:
        text = base64.b64decode(cursor, validate=True).decode()
    except ValueError:
        return None
    return int(text[2:]) if text.startswith("o=") and text[2:].isdigit() else None


def _int(text: str, default: int) -> int | None:
    if not text:
        return default
    return int(text) if text.isdigit() else None


def _iso_datetime(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _when(text: str, now: datetime) -> datetime | None:
    """PostHog's relative (`-7d`, `-24h`) or absolute date filters."""
    if m := _RELATIVE.match(text):
        return now - int(m.group(1)) * _UNITS[m.group(2)]
    return _iso_datetime(text)


def _json_object(req: SimRequest) -> dict[str, Any] | SimResponse:
    try:
        body = req.json() if req.body else {}
    except ValueError:
        return error(400, "invalid_request", "parse_error", "JSON parse error")
    return body if isinstance(body, dict) else invalid("Expected a dictionary of items.", None)


def _floor_now(export: SimExport, now: datetime) -> datetime:
    """Unpausing schedules from the current interval on: the paused ones are only backfilled."""
    return floor_interval(now, INTERVALS[export.interval])


__all__ = ["PostHogWorld", "SimKey", "iso"]


DEMO_PROJECT = 4242
DEMO_KEY = "phx_demo_posthog_personal_key"
DEMO_READONLY_KEY = "phx_demo_posthog_readonly_key"


def install_demo(sim: Simulator, origin: datetime) -> PostHogWorld:
    """PostHog's part of `make run`'s demo (see sim_demo.py)."""
    from .sim_demo import demo_project

    world = PostHogWorld(
        keys={
            DEMO_KEY: SimKey({DEMO_PROJECT}),
            DEMO_READONLY_KEY: SimKey({DEMO_PROJECT}, frozenset({"batch_export:read", "external_data_source:read"})),
        },
        projects={DEMO_PROJECT: demo_project(DEMO_PROJECT, origin)},
    )
    world.install(sim)
    return world

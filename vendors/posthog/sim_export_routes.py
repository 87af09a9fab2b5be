"""The batch export endpoints of the PostHog simulator: exports, pause and unpause, runs
(7-day default window, status filter, cursor pages), cancel and retry, backfills."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..simulator.core import SimRequest, SimResponse, json_response
from .sim_exports import INTERVALS, SimExport, floor_interval
from .sim_http import NOT_FOUND, cursor_page, error, invalid, iso_datetime, json_object, offset_page, when
from .sim_world import SimProject

RUNS_PAGE, BACKFILLS_PAGE = 100, 50
DEFAULT_RUNS_AFTER = "-7d"
MAX_CONCURRENT_BACKFILLS = 5


class ExportRoutes:
    now: datetime

    def _export(self, project: SimProject, eid: str) -> SimExport | SimResponse:
        return project.exports.get(eid) or error(404, *NOT_FOUND)

    def list_exports(self, req: SimRequest, project: SimProject) -> SimResponse:
        exports = sorted(project.exports.values(), key=lambda e: e.created_at, reverse=True)
        return offset_page(req, [e.body(self.now) for e in exports])

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
        body = json_object(req)
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
        after = when(req.arg("after", DEFAULT_RUNS_AFTER), now)
        before = when(req.arg("before"), now) if req.arg("before") else now
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
        return cursor_page(req, [r.body(now) for r in runs], RUNS_PAGE)

    def _child(self, project: SimProject, eid: str, kind: str, cid: str) -> tuple[SimExport, Any] | SimResponse:
        """An export's run or backfill by id (runs only once made), with its export; else the 404."""
        export = self._export(project, eid)
        if isinstance(export, SimResponse):
            return export
        items = [r for r in export.runs if r.created_at <= self.now] if kind == "run" else export.backfills
        found = next((item for item in items if item.id == cid), None)
        return (export, found) if found else error(404, *NOT_FOUND)

    def _run(self, project: SimProject, eid: str, rid: str) -> tuple[SimExport, Any] | SimResponse:
        return self._child(project, eid, "run", rid)

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
        return cursor_page(req, [b.body(self.now) for b in backfills], BACKFILLS_PAGE)

    def create_backfill(self, req: SimRequest, project: SimProject, eid: str) -> SimResponse:
        export = self._export(project, eid)
        if isinstance(export, SimResponse):
            return export
        body = json_object(req)
        if isinstance(body, SimResponse):
            return body
        now = self.now
        bounds: dict[str, datetime] = {}
        for name in ("start_at", "end_at"):
            value = body.get(name)
            parsed = iso_datetime(value) if isinstance(value, str) else None
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
        return self._child(project, eid, "backfill", bid)

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


def _floor_now(export: SimExport, now: datetime) -> datetime:
    """Unpausing schedules from the current interval on: the paused ones are only backfilled."""
    return floor_interval(now, INTERVALS[export.interval])

"""The warehouse endpoints of the PostHog simulator: sources, their jobs (a plain array of
the 50 newest), tables (schemas) with sync now, full resync and cancel."""

from __future__ import annotations

from datetime import datetime

from ..simulator.core import SimRequest, SimResponse, json_response
from .sim_http import NOT_FOUND, error, invalid, offset_page, when
from .sim_tables import SimSchema, SimSource
from .sim_world import SimProject

JOBS_LIMIT = 50


class TableRoutes:
    now: datetime

    def list_sources(self, req: SimRequest, project: SimProject) -> SimResponse:
        sources = sorted(project.sources.values(), key=lambda s: s.created_at, reverse=True)
        return offset_page(req, [s.body(self.now) for s in sources])

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
        after = when(req.arg("after"), now) if req.arg("after") else None
        before = when(req.arg("before"), now) if req.arg("before") else None
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
        return offset_page(req, [s.body(self.now) for s in schemas])

    def _schema(self, project: SimProject, tid: str) -> SimSchema | SimResponse:
        return project.schema(tid) or error(404, *NOT_FOUND)

    def get_schema(self, req: SimRequest, project: SimProject, tid: str) -> SimResponse:
        schema = self._schema(project, tid)
        return schema if isinstance(schema, SimResponse) else json_response(schema.body(self.now))

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

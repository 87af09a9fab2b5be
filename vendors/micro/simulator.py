"""Micro Prism imports as the simulator speaks them (VENDORS.md §4, the seed's ImportJob).

Fewer than 100 objects import synchronously (200, results inline, no job id); more make
a job (202 + Location) that progresses by the simulator clock and is forgotten 7 days
after it was created (404). Dedupe by a property marks repeats `existing`.

Micro's contract is its official SDK, micro-so; the simulator checks requests as its
`*_bulk_create_params` types say, on its own (it imports neither the SDK nor our client):
the object types with a bulk import, `objects` a list of objects whose `default` maps
slugs to values, `options` with `dedupe_by`, `caseInsensitive` and `list_id`.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..seeds import SEED_DIR
from ..simulator.core import SimRequest, SimResponse, Simulator, json_response

SEED_FILE = "micro-import-status.txt"
SEED_JOB_ID = "job_id"
# The object types micro-so 0.8.0 can bulk-import (there is no `comment` import).
OBJECT_TYPES = ("action", "contact", "deal", "document", "engagement", "identity", "organization")
OPTION_TYPES = {"dedupe_by": str, "caseInsensitive": bool, "list_id": str}
RETENTION = timedelta(days=7)
SYNC_LIMIT = 100


def seed_job_text() -> str:
    """The seed's ImportJob example ("Returns Examples"), byte for byte."""
    text = (SEED_DIR / SEED_FILE).read_text()
    start = text.index("{", text.index("Returns Examples"))
    _, end = json.JSONDecoder().raw_decode(text[start:])
    return text[start : start + end]


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


@dataclass
class SimImport:
    job_id: str | None
    created_at: datetime
    outcomes: list[dict[str, Any]]  # one per row: {"id", "created", "existing", "error"?}
    process_seconds: float = 60
    job_error: str = ""  # a job-level failure
    cycle_seconds: float | None = None  # the demo's live job starts over

    def _created(self, now: datetime) -> datetime:
        if not self.cycle_seconds or now < self.created_at:
            return self.created_at
        laps = int((now - self.created_at).total_seconds() // self.cycle_seconds)
        return self.created_at + timedelta(seconds=laps * self.cycle_seconds)

    def body(self, now: datetime) -> dict[str, Any]:
        created = self._created(now)
        total = len(self.outcomes)
        elapsed = (now - created).total_seconds()
        done = total if self.process_seconds <= 0 else min(total, int(total * elapsed / self.process_seconds))
        failed_rows = [o for o in self.outcomes[:done] if o.get("error")]
        body: dict[str, Any] = {
            "job_id": self.job_id,
            "total": total,
            "created_at": _iso(created),
            "updated_at": _iso(min(now, created + timedelta(seconds=self.process_seconds))),
            "expires_at": _iso(created + RETENTION),
            "processed": done,
            "succeeded": done - len(failed_rows),
            "failed": len(failed_rows),
        }
        if done < total:
            body["status"] = "processing"
        elif self.job_error:
            body.update(status="failed", error={"code": "import_failed", "message": self.job_error})
        else:
            body.update(status="complete", results=self.outcomes)
        return body


@dataclass
class MicroWorld:
    teams: dict[str, str] = field(default_factory=dict)  # team id -> api key
    jobs: dict[str, SimImport] = field(default_factory=dict)
    rate_limit: int = 10  # requests per second per key

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._hits: dict[str, list[float]] = {}
        self._seen: dict[tuple[str, str], set[str]] = {}  # (team, slug) -> dedupe values
        self._idempotent: dict[tuple[str, str], tuple[str, SimResponse]] = {}
        self._slugs: dict[str, dict[str, set[str]]] = {}  # team -> object type -> slugs seen

    def install(self, sim: Simulator) -> None:
        self.sim = sim
        sim.add_route("POST", r"/v2/prism/(?P<team>[^/]+)/(?P<object_type>[^/]+)/import", self.create)
        sim.add_route("GET", r"/v2/prism/(?P<team>[^/]+)/imports/(?P<job_id>[^/]+)", self.get_job)
        sim.add_route("GET", r"/v2/prism/(?P<team>[^/]+)/properties", self.properties)

    def _guard(self, req: SimRequest, team: str) -> SimResponse | None:
        key = req.headers.get("x-api-key", "")
        if not key:
            return json_response({"message": "Missing API key: send it in the x-api-key header"}, 401)
        if key not in self.teams.values():
            return json_response({"message": "Forbidden: invalid or revoked API key"}, 403)
        if self.teams.get(team) != key:
            return json_response({"message": f"Forbidden: this key has no access to team {team}"}, 403)
        with self._lock:
            now = time.monotonic()
            hits = [t for t in self._hits.get(key, []) if now - t < 1] + [now]
            self._hits[key] = hits
            if len(hits) > self.rate_limit:
                return json_response(
                    {"message": "Too many requests: 10 per second per key"}, 429, **{"Retry-After": "1"}
                )
        return None

    def get_job(self, req: SimRequest, team: str, job_id: str) -> SimResponse:
        if denied := self._guard(req, team):
            return denied
        if job_id == SEED_JOB_ID:
            return SimResponse(200, seed_job_text(), {"Content-Type": "application/json"})
        job = self.jobs.get(job_id)
        now = self.sim.clock.now()
        if job is None or now >= job._created(now) + RETENTION:
            return json_response({"message": f"Import job {job_id} not found (jobs are kept for 7 days)"}, 404)
        return json_response(job.body(now))

    def create(self, req: SimRequest, team: str, object_type: str) -> SimResponse:
        if denied := self._guard(req, team):
            return denied
        if object_type not in OBJECT_TYPES:
            return json_response({"message": f"invalid objectType {object_type!r}"}, 400)
        try:
            body = req.json()
        except ValueError:
            return json_response({"message": "body is not JSON"}, 400)
        if problem := _body_problem(body):
            return json_response({"message": problem}, 400)
        objects = body["objects"]
        key = req.headers.get("idempotency-key", "")
        digest = hashlib.sha256(req.body).hexdigest()
        with self._lock:
            if key and (team, key) in self._idempotent:
                seen, answer = self._idempotent[(team, key)]
                if seen != digest:
                    return json_response(
                        {"message": "Idempotency-Key reused with a different body", "code": "idempotency_key_mismatch"},
                        409,
                    )
                replay = SimResponse(answer.status, answer.body, {**answer.headers, "idempotent-replay": "true"})
                return replay
        options = body.get("options") or {}
        with self._lock:
            seen = self._slugs.setdefault(team, {}).setdefault(object_type, set())
            seen.update(k for o in objects if isinstance(o.get("default"), dict) for k in o["default"])
        outcomes = self._outcomes(team, objects, options)
        now = self.sim.clock.now()
        if len(objects) < SYNC_LIMIT:
            job = SimImport(None, now, outcomes, process_seconds=0)
            answer = json_response(job.body(now))
        else:
            job_id = f"imp_{uuid.uuid4().hex[:12]}"
            fails = any("fail the job" in json.dumps(o) for o in objects)
            self.jobs[job_id] = SimImport(
                job_id,
                now,
                outcomes,
                process_seconds=60,
                job_error="The import worker crashed reading row 17" if fails else "",
            )
            answer = json_response(
                {
                    "job_id": job_id,
                    "status": "processing",
                    "total": len(objects),
                    "processed": 0,
                    "created_at": _iso(now),
                    "expires_at": _iso(now + RETENTION),
                },
                202,
                Location=f"/v2/prism/{team}/imports/{job_id}",
            )
        if key:
            with self._lock:
                self._idempotent[(team, key)] = (digest, answer)
        return answer

    def properties(self, req: SimRequest, team: str) -> SimResponse:
        """`GET …/properties`: the property slugs each object type has (the SDK types the
        answer only as an object); here, the slugs this team has imported."""
        if denied := self._guard(req, team):
            return denied
        with self._lock:
            slugs = dict(self._slugs.get(team, {}))
        return json_response({kind: sorted(names) for kind, names in sorted(slugs.items())})

    def _outcomes(self, team: str, objects: list[Any], options: dict[str, Any]) -> list[dict[str, Any]]:
        slug = options.get("dedupe_by")
        fold = bool(options.get("caseInsensitive"))
        seen = self._seen.setdefault((team, slug or ""), set())
        outcomes = []
        for obj in objects:
            values = obj.get("default") if isinstance(obj, dict) else None
            if not isinstance(values, dict) or not values:
                outcomes.append(
                    {
                        "id": None,
                        "created": False,
                        "existing": False,
                        "error": {"code": "invalid_object", "message": "object has no default properties"},
                    }
                )
                continue
            marker = values.get(slug) if slug else None
            marker = str(marker).lower() if fold and marker is not None else marker
            existing = marker is not None and marker in seen
            if marker is not None:
                seen.add(marker)
            outcomes.append(
                {
                    "id": str(uuid.uuid5(uuid.NAMESPACE_URL, json.dumps(values, sort_keys=True))),
                    "created": not existing,
                    "existing": existing,
                }
            )
        return outcomes


def _body_problem(body: Any) -> str:
    """What micro-so's bulk_create params would not allow in a body, or ""."""
    if not isinstance(body, dict) or not isinstance(body.get("objects"), list):
        return "objects must be an array"
    for i, obj in enumerate(body["objects"]):
        if not isinstance(obj, dict):
            return f"objects[{i}] must be an object"
        if "default" in obj and not isinstance(obj["default"], dict):
            return f"objects[{i}].default must map property slugs to values"
    options = body.get("options")
    if options is None:
        return ""
    if not isinstance(options, dict):
        return "options must be an object"
    for name, kind in OPTION_TYPES.items():
        value = options.get(name)
        if name in options and (not isinstance(value, kind) or (kind is not bool and isinstance(value, bool))):
            return f"options.{name} must be {'a boolean' if kind is bool else 'a string'}"
    return ""


DEMO_TEAM = "11111111-2222-3333-4444-555555555555"
DEMO_KEY = "demo-micro-key"


def install_demo(sim: Simulator, origin: datetime) -> MicroWorld:
    """Micro's part of `make run`'s demo: live, partial, failed and expired imports."""
    world = MicroWorld(teams={DEMO_TEAM: DEMO_KEY})
    ok = [{"id": str(uuid.uuid4()), "created": True, "existing": False} for _ in range(400)]
    partial = ok[:300] + [
        {
            "id": None,
            "created": False,
            "existing": False,
            "error": {"code": "invalid_email", "message": f"row {i}: email is not valid"},
        }
        for i in range(12)
    ]
    world.jobs.update(
        {
            "mi-demo-live": SimImport("mi-demo-live", origin, ok, process_seconds=180, cycle_seconds=300),
            "mi-demo-partial": SimImport("mi-demo-partial", origin - timedelta(hours=2), partial, process_seconds=60),
            "mi-demo-failed": SimImport(
                "mi-demo-failed",
                origin - timedelta(hours=5),
                ok[:150],
                process_seconds=30,
                job_error="The import worker crashed reading row 17",
            ),
            "mi-demo-expired": SimImport("mi-demo-expired", origin - timedelta(days=8), ok[:120], process_seconds=30),
        }
    )
    world.install(sim)
    return world

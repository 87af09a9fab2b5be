"""Mixpanel data pipelines ("nessie", VENDORS.md §2) as the simulator speaks them.

A pipeline exports one window (a project-local day, or an hour) per task. Tasks are a pure
function of the simulator clock: a window's task appears `delay_seconds` after the window
ends, waits `queue_seconds` (pending), runs `run_seconds` (running) and ends as its
scripted outcome. A `retried` outcome is an attempt that ends retried, then a second
attempt that succeeds. Seed samples (nessie_seed.py) are served verbatim.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from ..simulator.core import SimRequest, SimResponse, Simulator, json_response

if TYPE_CHECKING:
    from .simulator import MixpanelWorld, SimProject

PACIFIC = ZoneInfo("US/Pacific")  # the projects' time zone in every sample
GO_ZERO_PACIFIC = "0000-12-31T16:00:00-08:00"
STATUS_WINDOWS = 30  # "recent" tasks only
SCHEMATIZED_TYPES = ("bigquery", "snowflake", "aws", "azure-blob", "gcs-schema")
MAX_MONTHS_BACK = 6


@dataclass
class Attempt:
    created: datetime
    queue_seconds: float
    run_seconds: float
    outcome: str

    @property
    def ended(self) -> datetime:
        return self.created + timedelta(seconds=self.queue_seconds + self.run_seconds)

    def state(self, now: datetime) -> str | None:
        if now < self.created:
            return None
        if now < self.created + timedelta(seconds=self.queue_seconds):
            return "pending"
        return "running" if now < self.ended else self.outcome


@dataclass
class SimPipeline:
    name: str
    origin: date  # the first window's project-local day
    frequency: str = "daily"  # daily | hourly
    to_date: date | None = None  # None: exports indefinitely
    outcomes: dict[int, str] = field(default_factory=dict)  # window index -> outcome (default succeeded)
    timeline_gaps: frozenset[int] = frozenset()  # succeeded windows missing from the timeline
    delay_seconds: float = 1800
    queue_seconds: float = 300
    run_seconds: float = 1200
    retry_seconds: float = 900
    data_source: str = "events"
    dispatcher: str = "backfill"
    sync_enabled: bool = True
    trial: bool = False
    pauses: list[list[datetime | None]] = field(default_factory=list)  # [start, end or None]
    # Seed samples, served instead of the scripted tasks.
    summary_verbatim: str | None = None
    tasks_verbatim: dict[str, list[dict[str, Any]]] | None = None
    timeline_verbatim: dict[str, Any] | None = None

    @property
    def hourly(self) -> bool:
        return self.frequency == "hourly"

    def window(self, i: int) -> tuple[datetime, datetime]:
        if self.hourly:
            base = datetime.combine(self.origin, time(0), PACIFIC).astimezone(UTC)
            return base + timedelta(hours=i), base + timedelta(hours=i + 1)
        start = datetime.combine(self.origin + timedelta(days=i), time(0), PACIFIC)
        return start.astimezone(UTC), datetime.combine(self.origin + timedelta(days=i + 1), time(0), PACIFIC)

    def _indexes(self, now: datetime) -> range:
        days = (now.astimezone(PACIFIC).date() - self.origin).days
        current = days * 24 + now.astimezone(PACIFIC).hour if self.hourly else days
        if self.to_date is not None:
            last_day = (self.to_date - self.origin).days
            current = min(current, (last_day + 1) * 24 - 1 if self.hourly else last_day)
        return range(max(0, current - STATUS_WINDOWS - 1), current + 1)

    def _shifted(self, when: datetime) -> datetime | None:
        """A task due while the pipeline was paused is created when it resumes."""
        for start, end in self.pauses:
            if start is not None and start <= when and (end is None or when < end):
                if end is None:
                    return None
                when = end
        return when

    def attempts(self, i: int) -> list[Attempt]:
        created = self._shifted(self.window(i)[1] + timedelta(seconds=self.delay_seconds))
        if created is None:
            return []
        outcome = self.outcomes.get(i, "succeeded")
        if outcome != "retried":
            return [Attempt(created, self.queue_seconds, self.run_seconds, outcome)]
        first = Attempt(created, self.queue_seconds, self.run_seconds, "retried")
        again = self._shifted(first.ended + timedelta(seconds=self.retry_seconds))
        rest = [Attempt(again, self.queue_seconds, self.run_seconds, "succeeded")] if again else []
        return [first, *rest]

    def tasks(self, now: datetime, project_id: str) -> list[dict[str, Any]]:
        out = []
        for i in self._indexes(now):
            start, _ = self.window(i)
            for attempt in self.attempts(i):
                state = attempt.state(now)
                if state is None:
                    continue
                finished = attempt.ended if state not in ("pending", "running") else None
                task: dict[str, Any] = {"project_id": int(project_id)} if project_id.isdigit() else {}
                task.update(
                    name=self.name,
                    state=state,
                    last_finish=_pacific(finished) if finished else GO_ZERO_PACIFIC,
                    run_at=_pacific(attempt.created),
                    from_date=_pacific(start),
                    to_date=_pacific(start),  # the seed repeats from_date for a one-window task
                )
                out.append(task)
        return out

    def status(self, now: datetime, project_id: str, states: list[str]) -> dict[str, list[dict[str, Any]]]:
        if self.tasks_verbatim is not None:
            grouped = self.tasks_verbatim
        else:
            grouped = {}
            for task in self.tasks(now, project_id):
                grouped.setdefault(task["state"], []).append(task)
        return {s: tasks for s, tasks in grouped.items() if not states or s in states}

    def summary(self, now: datetime, project_id: str) -> dict[str, int]:
        return dict(Counter(t["state"] for t in self.tasks(now, project_id)))

    def timeline(self, now: datetime) -> dict[str, Any]:
        if self.timeline_verbatim is not None:
            return self.timeline_verbatim
        days: dict[str, list[str]] = {}
        for i in self._indexes(now):
            attempts = self.attempts(i)
            if i in self.timeline_gaps or not attempts or attempts[-1].state(now) != "succeeded":
                continue
            start, _ = self.window(i)
            day = start.astimezone(PACIFIC).date().isoformat()
            days.setdefault(day, []).append(_go_pacific(attempts[-1].ended))
        return {"day_syncs": [{"date": d, "sync_times": t, "status": "synced"} for d, t in sorted(days.items())]}

    def job(self, now: datetime, project_id: str) -> dict[str, Any]:
        created = [t["run_at"] for t in self.tasks(now, project_id)]
        last = max((datetime.fromisoformat(c) for c in created), default=None)
        return {
            "name": self.name,
            "Dispatcher": self.dispatcher,
            "last_dispatched": last.astimezone(PACIFIC).strftime("%Y-%m-%d %H:%M:%S US/Pacific") if last else "",
            "frequency": self.frequency,
            "sync_enabled": "true" if self.sync_enabled else "false",
        }


def _pacific(when: datetime) -> str:
    return when.astimezone(PACIFIC).replace(microsecond=0).isoformat()


def _go_pacific(when: datetime) -> str:
    return when.astimezone(PACIFIC).strftime("%Y-%m-%d %H:%M:%S.%f %z %Z")


class NessieApi:
    """The /api/2.0/nessie routes, over the projects of a MixpanelWorld."""

    def __init__(self, world: MixpanelWorld) -> None:
        self.world = world

    def install(self, sim: Simulator) -> None:
        self.sim = sim
        base = r"/api/2.0/nessie/pipeline/"
        for method in ("GET", "POST"):  # the seed POSTs a form; the current spec GETs
            self._route(method, base + "status", self.status)
            self._route(method, base + "timeline", self.timeline)
        self._route("GET", base + "jobs", self.jobs)
        self._route("POST", base + "create", self.create)
        self._route("POST", base + "cancel", self.cancel)
        self._route("POST", base + "pause", lambda req: self.set_paused(req, True))
        self._route("POST", base + "resume", lambda req: self.set_paused(req, False))

    def _route(self, method: str, pattern: str, handler: Callable[..., SimResponse]) -> None:
        self.world.route(method, pattern, handler, _error, waive=self._secret_names_its_project)

    def _secret_names_its_project(self, req: SimRequest, problems: list[str]) -> list[str]:
        """project_id is "required if using service account to authenticate request" (the
        spec's words), though its schemas require it always: a project secret may omit it."""
        creds = req.basic_auth()
        projects = self.world.projects.values()
        secret = creds is not None and any(p.api_secret and creds[0] == p.api_secret for p in projects)
        return [p for p in problems if not (secret and p.startswith("project_id: required"))]

    @property
    def now(self) -> datetime:
        return self.sim.clock.now()

    # -- auth: a project secret names its project; a service account needs project_id --
    def _project(self, req: SimRequest) -> SimProject | SimResponse:
        creds = req.basic_auth()
        if creds is None:
            return _error(401, "Authentication required: use HTTP Basic auth")
        project_id = req.arg("project_id")
        if not project_id:
            legacy = [p for p in self.world.projects.values() if p.api_secret and creds[0] == p.api_secret]
            if legacy:
                project_id = legacy[0].project_id
            elif any(creds == (p.username, p.secret) for p in self.world.projects.values()):
                return _error(400, "project_id is required when authenticating with a service account")
        return self.world._guard(req, project_id)

    def _pipeline(self, req: SimRequest) -> tuple[SimProject, SimPipeline] | SimResponse:
        project = self._project(req)
        if isinstance(project, SimResponse):
            return project
        name = req.arg("name")
        if not name:
            return _error(400, "name: the pipeline name is required")
        pipeline = project.pipelines.get(name)
        if pipeline is None:
            return _error(404, f"pipeline {name} does not exist")
        return project, pipeline

    # -- reading -----------------------------------------------------------------
    def status(self, req: SimRequest) -> SimResponse:
        found = self._pipeline(req)
        if isinstance(found, SimResponse):
            return found
        project, pipeline = found
        if req.arg("summary", "false").lower() == "true":
            if pipeline.summary_verbatim is not None:
                return SimResponse(200, pipeline.summary_verbatim, {"Content-Type": "application/json"})
            return json_response(pipeline.summary(self.now, project.project_id))
        states = [s for v in req.query.get("status", []) + req.form().get("status", []) for s in v.split(",") if s]
        return json_response(pipeline.status(self.now, project.project_id, states))

    def timeline(self, req: SimRequest) -> SimResponse:
        found = self._pipeline(req)
        if isinstance(found, SimResponse):
            return found
        return json_response(found[1].timeline(self.now))

    def jobs(self, req: SimRequest) -> SimResponse:
        project = self._project(req)
        if isinstance(project, SimResponse):
            return project
        if project.jobs_verbatim is not None:
            return SimResponse(200, project.jobs_verbatim, {"Content-Type": "application/json"})
        jobs = [p.job(self.now, project.project_id) for p in project.pipelines.values()]
        return json_response({project.project_id: jobs})

    # -- acting ------------------------------------------------------------------
    def create(self, req: SimRequest) -> SimResponse:
        """The form already passed the spec (or the seed); these are the rules the spec
        states in prose, then the per-project limits."""
        project = self._project(req)
        if isinstance(project, SimResponse):
            return project
        form = {k: v for k, v in req.form().items() if k != "project_id" and any(x.strip() for x in v)}
        fields = {k: v[-1].strip() for k, v in form.items()}
        today = self.now.date()
        problems = _prose_rules(fields, today)
        if problems:
            return _error(400, "; ".join(problems))
        names = _names(fields)
        problem = self._project_limits(project, fields, names)
        if problem:
            return _error(400, problem)
        origin = date.fromisoformat(fields["from_date"]) if "from_date" in fields else today - timedelta(days=1)
        to_date = date.fromisoformat(fields["to_date"]) if "to_date" in fields else None
        for name in names:
            project.pipelines[name] = SimPipeline(
                name,
                origin=origin,
                frequency=fields.get("frequency", "daily"),
                to_date=to_date,
                data_source="people" if "-people-" in f"-{name}-" else "events",
                trial=fields.get("trial") == "true",
                sync_enabled=fields.get("sync", str(fields["type"] in SCHEMATIZED_TYPES).lower()) == "true",
            )
        body: dict[str, Any] = {"pipeline_names": names}
        if fields["type"] == "bigquery":
            project_name = fields.get("gcp_project", "mixpanel-prod-1")  # the seed: Mixpanel's own project
            dataset = f"{project_name}:{fields.get('bq_dataset_name', 'mixpanel_' + project.project_id)}"
            body["bigquery_dataset_name"] = f"https://bigquery.cloud.google.com/dataset/{dataset}"
        return json_response(body)

    @staticmethod
    def _project_limits(project: SimProject, fields: dict[str, str], names: list[str]) -> str:
        """The per-project rules [M4][M5]: one trial, 2 recurring + 1 bounded events pipelines."""
        taken = [n for n in names if n in project.pipelines]
        if taken:
            return f"type: a pipeline named {taken[0]} already exists"
        trial = fields.get("trial") == "true"
        if trial and any(p.trial for p in project.pipelines.values()):
            return "trial: this project already used its one trial"
        if trial or not any("-events-" in f"-{n}-" for n in names):
            return ""
        recurring = "to_date" not in fields
        same = [
            p
            for p in project.pipelines.values()
            if p.data_source == "events" and not p.trial and (p.to_date is None) == recurring
        ]
        limit = 2 if recurring else 1
        if len(same) >= limit:
            what = "recurring" if recurring else "non-recurring"
            return f"to_date: a project may have at most {limit} {what} events pipeline(s)"
        return ""

    def cancel(self, req: SimRequest) -> SimResponse:
        found = self._pipeline(req)
        if isinstance(found, SimResponse):
            return found
        project, pipeline = found
        del project.pipelines[pipeline.name]  # "Delete Pipeline": its history goes too
        return SimResponse(200, b"", {})

    def set_paused(self, req: SimRequest, paused: bool) -> SimResponse:
        found = self._pipeline(req)
        if isinstance(found, SimResponse):
            return found
        pipeline = found[1]
        open_pause = pipeline.pauses[-1] if pipeline.pauses and pipeline.pauses[-1][1] is None else None
        if paused and open_pause is None:
            pipeline.pauses.append([self.now, None])
        elif not paused and open_pause is not None:
            open_pause[1] = self.now
        return SimResponse(200, b"", {})


def _error(status: int, message: str) -> SimResponse:
    return json_response({"status": "error", "error": message}, status)


def _prose_rules(fields: dict[str, str], today: date) -> list[str]:
    """What the spec says in its descriptions rather than its schemas (and the seed's trial)."""
    problems = []
    trial = fields.get("trial") == "true"
    if "from_date" not in fields and not trial:
        problems.append("from_date: is required unless trial is true")
    start = _date(fields.get("from_date"))
    end = _date(fields.get("to_date"))
    if start and start > today:
        problems.append("from_date: cannot be in the future")
    elif start and start < _months_before(today, MAX_MONTHS_BACK):
        problems.append(f"from_date: cannot be more than {MAX_MONTHS_BACK} months in the past")
    if start and end and end < start:
        problems.append("to_date: must not be before from_date")
    if "frequency" in fields and "to_date" in fields:
        problems.append("frequency: should only be passed if your export window is indefinite (no to_date)")
    people = fields.get("data_source") == "people"
    if people and "where" in fields:
        problems.append("where: only valid when data_source is events")
    if people and fields.get("schema_type") == "multischema":
        problems.append("schema_type: not supported for people data_source (user data is monoschema)")
    if fields.get("use_glue") == "true":
        missing = [name for name in ("glue_database", "glue_role") if name not in fields]
        problems += [f"{name}: required if use_glue is true" for name in missing]
    if "s3_kms_key_id" in fields and fields.get("s3_encryption") != "kms":
        problems.append("s3_kms_key_id: only used when s3_encryption is kms")
    if "bq_prefix" in fields and not re.fullmatch(r"[A-Za-z0-9_]+", fields["bq_prefix"]):
        problems.append("bq_prefix: only alphanumeric characters and underscores can be used")
    return problems


def _date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None  # the spec check already refused a bad date


def _months_before(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    for last in (31, 30, 29, 28):
        try:
            return date(year, month + 1, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _names(fields: dict[str, str]) -> list[str]:
    """The names Mixpanel gives what a create makes (the seed's and the spec's examples):
    [trial-]<source>-<frequency>-<type>[-<schema type>]; a schematized trial makes both sources."""
    kind, trial = fields["type"], fields.get("trial") == "true"
    if "data_source" in fields:
        sources = [fields["data_source"]]
    elif trial and kind in SCHEMATIZED_TYPES:
        sources = ["events", "people"]
    else:
        sources = ["events"]
    names = []
    for source in sources:
        parts = ["trial"] if trial else []
        parts += [source, fields.get("frequency", "daily"), kind]
        if kind in SCHEMATIZED_TYPES:
            parts.append("monoschema" if source == "people" else fields.get("schema_type", "monoschema"))
        names.append("-".join(parts))
    return names

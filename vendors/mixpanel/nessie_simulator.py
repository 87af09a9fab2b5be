"""Mixpanel data pipelines ("nessie", VENDORS.md §2) as the simulator speaks them: the
routes and the create rules. The pipelines and their tasks are in nessie_sim_pipeline.py;
seed samples (nessie_seed.py) are served verbatim.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..simulator.core import SimRequest, SimResponse, Simulator, json_response
from .nessie_sim_pipeline import SimPipeline

__all__ = ["NessieApi", "SimPipeline"]  # tests import the pipeline from here

if TYPE_CHECKING:
    from .sim_world import SimProject
    from .simulator import MixpanelWorld

SCHEMATIZED_TYPES = ("bigquery", "snowflake", "aws", "azure-blob", "gcs-schema")
MAX_MONTHS_BACK = 6


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

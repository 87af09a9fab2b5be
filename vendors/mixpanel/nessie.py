"""Mixpanel data pipelines ("nessie", VENDORS.md §2): kind `export_pipeline`, id = pipeline name.

Hosts differ from the app API (data.mixpanel.com, data-eu, data-in) and the base path is
/api/2.0/nessie. Every request carries `project_id` (query on GETs, form on POSTs): the
spec requires it on every GET, though its text says only service accounts need it, and a
project secret's requests carry it as well.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from ..base import BadResponse, CreateResult, InvalidSpec, Target, TargetResult, VendorError
from ..normalizing import expect
from .nessie_normalize import normalize_jobs, normalize_status, normalize_summary, normalize_timeline
from .nessie_spec import to_form, validate_pipeline_spec

if TYPE_CHECKING:
    from .client import MixpanelClient

EXPORT_PIPELINE = "export_pipeline"
NESSIE_HOSTS = {
    "us": "https://data.mixpanel.com",
    "eu": "https://data-eu.mixpanel.com",
    "in": "https://data-in.mixpanel.com",
}
NESSIE_PATH = "/api/2.0/nessie"
JOB_INFO_KEYS = ("frequency", "sync_enabled", "last_dispatched")


class Nessie:
    def __init__(self, client: MixpanelClient) -> None:
        self.client = client
        # One `pipeline/jobs` answer per poll(): name -> job, or the error it gave.
        self.jobs_cache: dict[str, dict[str, Any]] | None = None
        self.jobs_error: VendorError | None = None

    # -- plumbing ------------------------------------------------------------------
    @property
    def base(self) -> str:
        account = self.client.account  # an account's base_url replaces every host
        host = account.base_url.rstrip("/") if account.base_url else NESSIE_HOSTS[account.region or "us"]
        return host + NESSIE_PATH

    def _project_params(self) -> dict[str, str]:
        return {"project_id": self.client.project_id}

    def get(self, path: str, **params: str) -> Any:
        body, _ = self.client.http.call_json(
            "GET", self.base + path, params={**params, **self._project_params()}, auth=self.client.auth
        )
        return body

    def post(self, path: str, form: list[tuple[str, str]]) -> Any:
        fields = form + list(self._project_params().items())
        body, _ = self.client.http.call_json("POST", self.base + path, data=fields, auth=self.client.auth)
        return body

    # -- reading -------------------------------------------------------------------
    def poll_one(self, target: Target) -> TargetResult:
        name = target.external_id
        observations = normalize_status(target, self.get("/pipeline/status", name=name))
        info: dict[str, Any] = {
            "summary": normalize_summary(self.get("/pipeline/status", name=name, summary="true")),
            "timeline": normalize_timeline(self.get("/pipeline/timeline", name=name)),
        }
        job = (self.jobs_cache or {}).get(name)
        if job:
            info.update({k: job[k] for k in JOB_INFO_KEYS if job.get(k) is not None})
        return TargetResult(target, observations, info=info)

    def jobs(self) -> list[dict[str, Any]]:
        return normalize_jobs(self.get("/pipeline/jobs"), self.client.project_id)

    def discover(self) -> list[TargetResult]:
        if self.jobs_error is not None:
            raise self.jobs_error
        jobs = list(self.jobs_cache.values()) if self.jobs_cache is not None else self.jobs()
        return [
            TargetResult(
                Target(EXPORT_PIPELINE, job["name"]),
                name=job["name"],
                info={k: job[k] for k in JOB_INFO_KEYS if job.get(k) is not None},
            )
            for job in jobs
        ]

    # -- acting --------------------------------------------------------------------
    def create(self, spec: dict[str, Any], today: date) -> CreateResult:
        cleaned = validate_pipeline_spec(spec, today)
        return read_create_answer(self.post("/pipeline/create", to_form(cleaned)))

    def cancel(self, target: Target) -> str:
        self.post("/pipeline/cancel", [("name", target.external_id)])
        return (
            f"Mixpanel deleted pipeline {target.external_id}: no further exports are scheduled, "
            "and Mixpanel deletes the pipeline and its task history at the vendor."
        )

    def pause(self, target: Target) -> str:
        self.post("/pipeline/pause", [("name", target.external_id)])
        return f"Mixpanel paused pipeline {target.external_id}; its history is kept until it is resumed."

    def resume(self, target: Target) -> str:
        self.post("/pipeline/resume", [("name", target.external_id)])
        return f"Mixpanel resumed pipeline {target.external_id}."


def read_create_answer(body: Any) -> CreateResult:
    """`{"pipeline_names": [...], "bigquery_dataset_name"?: url}` (the spec's and the seed's example)."""
    body = expect(body, dict, "create response")
    names = expect(body.get("pipeline_names"), list, "pipeline_names")
    if not names or not all(isinstance(n, str) and n.strip() for n in names):
        raise BadResponse("create response: pipeline_names should be a non-empty list of names")
    details: dict[str, Any] = {"pipeline_names": list(names)}
    dataset = body.get("bigquery_dataset_name")
    if isinstance(dataset, str) and dataset:
        details["bigquery_dataset_name"] = dataset
    message = f"Mixpanel created {len(names)} pipeline(s): {', '.join(names)}."
    if "bigquery_dataset_name" in details:
        message += f" BigQuery dataset: {dataset}"
    return CreateResult(message, targets=[Target(EXPORT_PIPELINE, n) for n in names], details=details, raw=body)


def reject_kind(kind: str) -> InvalidSpec:
    return InvalidSpec({"kind": f"Mixpanel pipelines of kind {kind!r} cannot be created from here"})

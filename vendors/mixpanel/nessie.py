"""Mixpanel data pipelines ("nessie", VENDORS.md §2): kind `export_pipeline`, id = pipeline name.

Hosts differ from the app API (data.mixpanel.com, data-eu, data-in) and the base path is
/api/2.0/nessie. Every request carries `project_id` (query on GETs, form on POSTs): the
spec requires it on every GET, though its text says only service accounts need it, and a
project secret's requests carry it as well.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..adapter import CANCEL, CREATE, DISCOVER, PAUSE, Adapter
from ..base import (
    AuthError,
    BadResponse,
    CreateResult,
    FormField,
    Target,
    TargetResult,
    VendorError,
)
from ..normalizing import expect
from ..operations import Fact
from .nessie_normalize import normalize_jobs, normalize_status, normalize_summary, normalize_timeline
from .nessie_spec import form_fields, to_form, validate_pipeline_spec

if TYPE_CHECKING:
    from .session import MixpanelSession

EXPORT_PIPELINE = "export_pipeline"
NESSIE_HOSTS = {
    "us": "https://data.mixpanel.com",
    "eu": "https://data-eu.mixpanel.com",
    "in": "https://data-in.mixpanel.com",
}
NESSIE_PATH = "/api/2.0/nessie"
JOB_INFO_KEYS = ("frequency", "sync_enabled", "last_dispatched")
CADENCES = {"hourly": 3600, "daily": 86400}


class DataPipelines(Adapter):
    kind = EXPORT_PIPELINE
    capabilities = frozenset({CREATE, CANCEL, PAUSE, DISCOVER})
    periodic = True
    session: MixpanelSession

    @classmethod
    def cadence_from(cls, info: dict[str, Any]) -> int | None:
        return CADENCES.get(info.get("frequency") or "")

    @classmethod
    def facts(cls, info: dict[str, Any]) -> list[Fact]:
        facts = [Fact("Frequency", info["frequency"])] if info.get("frequency") else []
        if info.get("sync_enabled") is not None:
            facts.append(Fact("Sync", "on" if info["sync_enabled"] else "off"))
        if info.get("last_dispatched"):
            facts.append(Fact("Last dispatched", str(info["last_dispatched"])))
        summary = info.get("summary") if isinstance(info.get("summary"), dict) else {}
        return facts + [Fact(f"Tasks {state}", str(n)) for state, n in summary.items()]

    # -- plumbing ------------------------------------------------------------------
    @property
    def base(self) -> str:
        account = self.session.account  # an account's base_url replaces every host
        host = account.base_url.rstrip("/") if account.base_url else NESSIE_HOSTS[account.region or "us"]
        return host + NESSIE_PATH

    def _project_params(self) -> dict[str, str]:
        return {"project_id": self.session.project_id}

    def get(self, path: str, **params: str) -> Any:
        body, _ = self.session.http.call_json(
            "GET", self.base + path, params={**params, **self._project_params()}, auth=self.session.auth
        )
        return body

    def post(self, path: str, form: list[tuple[str, str]]) -> Any:
        fields = form + list(self._project_params().items())
        body, _ = self.session.http.call_json("POST", self.base + path, data=fields, auth=self.session.auth)
        return body

    # -- reading -------------------------------------------------------------------
    def observe(self, targets: list[Target], discover: bool = False) -> list[TargetResult]:
        """One `pipeline/jobs` listing serves every pipeline's info and discovery."""
        jobs: dict[str, dict[str, Any]] = {}
        listing_error: VendorError | None = None
        try:
            jobs = {job["name"]: job for job in self.jobs()}
        except VendorError as exc:
            listing_error = exc  # info stays partial; discovery reports it
        results: list[TargetResult] = []
        for target in targets:
            try:
                results.append(self.read(target, jobs.get(target.external_id)))
            except VendorError as exc:
                results.append(TargetResult(target, error=exc, http_status=exc.http_status))
                if exc.account_wide:
                    return results
        if not discover:
            return results
        if listing_error is None:
            known = {t.key for t in targets}
            results.extend(r for r in self.listed(jobs.values()) if r.target.key not in known)
        elif listing_error.account_wide and not _forbidden(listing_error):
            # A 403 on the listing: data pipelines need Admin or Owner [M5]; the credentials
            # are fine and the connectors still poll. Anything else account-wide stops the poll.
            results.append(TargetResult(Target("", ""), error=listing_error, http_status=listing_error.http_status))
        return results

    def read(self, target: Target, job: dict[str, Any] | None) -> TargetResult:
        name = target.external_id
        observations = normalize_status(target, self.get("/pipeline/status", name=name))
        info: dict[str, Any] = {
            "summary": normalize_summary(self.get("/pipeline/status", name=name, summary="true")),
            "timeline": normalize_timeline(self.get("/pipeline/timeline", name=name)),
        }
        if job:
            info.update(_job_info(job))
        return TargetResult(target, observations, info=info)

    def jobs(self) -> list[dict[str, Any]]:
        return normalize_jobs(self.get("/pipeline/jobs"), self.session.project_id)

    @staticmethod
    def listed(jobs: Any) -> list[TargetResult]:
        return [TargetResult(Target(EXPORT_PIPELINE, j["name"]), name=j["name"], info=_job_info(j)) for j in jobs]

    # -- acting --------------------------------------------------------------------
    def create_fields(self, spec: dict[str, Any]) -> list[FormField]:
        return form_fields(str(spec.get("type") or ""))

    def validate_create(self, spec: dict[str, Any]) -> dict[str, Any]:
        return validate_pipeline_spec(spec, self.today())

    def create(self, spec: dict[str, Any]) -> CreateResult:
        cleaned = validate_pipeline_spec(spec, self.today())
        return read_create_answer(self.post("/pipeline/create", to_form(cleaned)))

    def cancel(self, target: Target, run_key: str = "") -> str:
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


def _forbidden(error: VendorError) -> bool:
    return isinstance(error, AuthError) and error.http_status == 403


def _job_info(job: dict[str, Any]) -> dict[str, Any]:
    return {k: job[k] for k in JOB_INFO_KEYS if job.get(k) is not None}


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

"""Statsig backfills (VENDORS.md §5): kind `backfill`, one-shot runs started with create,
all in the stream target `backfill/backfills`; each open run id is read with `GET …/runs/{id}`."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from ..adapter import BACKFILL as BACKFILL_CAPABILITY
from ..adapter import CREATE, JobStream
from ..base import CreateResult, FormField, InvalidSpec, Observation, Target
from ..normalizing import nonempty_str
from .runs import BACKFILL, backfill_run_id, normalize_run

RUNS_PATH = "/console/v1/ingestion/runs"
BACKFILL_PATH = "/console/v1/ingestion/backfill"
BACKFILLS = Target(BACKFILL, "backfills")  # the stream every backfill run joins

# IngestionBackfillContractDto's enums in spec/console-api.openapi.json (the contract tests
# compare them): `export_events` is a dataset of the status filter in newer docs only.
BACKFILL_TYPES = ("redshift", "bigquery-v2", "snowflake-v2", "databricks", "azure-synapse", "s3", "athena", "adls")
BACKFILL_DATASETS = ("Events", "Metrics", "export_exposures", "entity_properties")
BACKFILL_FIELDS = ("datestamp_start", "datestamp_end", "type", "dataset", "source")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class Backfills(JobStream):
    kind = BACKFILL
    capabilities = frozenset({CREATE, BACKFILL_CAPABILITY})
    is_import = True

    def job_url(self, target: Target, job_id: str) -> str:
        return f"{self.session.base_url}{RUNS_PATH}/{job_id}"

    def read_job(self, target: Target, body: Any, job_id: str) -> Observation:
        return normalize_run(target, body, self.session.now(), job_id)

    def create_fields(self, spec: dict[str, Any]) -> list[FormField]:
        return [
            FormField("datestamp_start", "First day", "date", True, help="YYYY-MM-DD, not in the future"),
            FormField("datestamp_end", "Last day", "date", True, help="YYYY-MM-DD, on or after the first day"),
            FormField("type", "Warehouse", "choice", True, BACKFILL_TYPES),
            FormField("dataset", "Dataset", "choice", True, BACKFILL_DATASETS),
            FormField("source", "Source", help="optional: one source name; empty backfills every source"),
        ]

    def validate_create(self, spec: dict[str, Any]) -> dict[str, Any]:
        return validate_backfill_spec(spec, self.today())

    def create(self, spec: dict[str, Any]) -> CreateResult:
        cleaned = self.validate_create(spec)
        body = self.session.call("POST", self.session.base_url + BACKFILL_PATH, json=cleaned)
        run_id = backfill_run_id(body)
        message = nonempty_str(body.get("message")) or f"Statsig started backfill run {run_id}."
        return CreateResult(message, targets=[BACKFILLS], run_keys=[run_id], details={"runID": run_id}, raw=body)


def validate_backfill_spec(spec: Any, today: date) -> dict[str, Any]:
    """The backfill body Statsig accepts, cleaned; InvalidSpec names each bad field.

    The spec's IngestionBackfillContractDto, plus what its descriptions say (dates are
    YYYY-MM-DD) and what a backfill means (not in the future, end on or after start).
    Messages never echo the value.
    """
    if not isinstance(spec, dict):
        raise InvalidSpec({"": "a backfill request is an object of fields"})
    errors: dict[str, str] = {}
    cleaned: dict[str, Any] = {}
    for name, value in spec.items():
        if name not in BACKFILL_FIELDS and value not in (None, "", []):
            errors[str(name)] = "is not a Statsig backfill field"
    days: dict[str, date] = {}
    for name in ("datestamp_start", "datestamp_end"):
        value = spec.get(name)
        if isinstance(value, datetime):
            value = value.date()
        if isinstance(value, date):
            value = value.isoformat()
        if value in (None, ""):
            errors[name] = "is required (YYYY-MM-DD)"
            continue
        if not isinstance(value, str) or not _DATE_RE.match(value.strip()):
            errors[name] = "must be a date, YYYY-MM-DD"
            continue
        try:
            day = date.fromisoformat(value.strip())
        except ValueError:
            errors[name] = "is not a real date"
            continue
        if day > today:
            errors[name] = f"cannot be in the future (today is {today.isoformat()}, UTC)"
            continue
        days[name] = day
        cleaned[name] = day.isoformat()
    if len(days) == 2 and days["datestamp_start"] > days["datestamp_end"]:
        errors["datestamp_end"] = "must be on or after datestamp_start"
    for name, choices in (("type", BACKFILL_TYPES), ("dataset", BACKFILL_DATASETS)):
        value = spec.get(name)
        if value in (None, ""):
            errors[name] = f"is required: one of {', '.join(choices)}"
            continue
        match = next((c for c in choices if isinstance(value, str) and c.lower() == value.strip().lower()), None)
        if match is None:
            errors[name] = f"must be one of {', '.join(choices)}"
        else:
            cleaned[name] = match
    source = spec.get("source")
    if isinstance(source, str):
        if source.strip():
            cleaned["source"] = source.strip()
    elif isinstance(source, list | tuple):
        names = [s.strip() for s in source if isinstance(s, str) and s.strip()]
        if len(names) != len(source):
            errors["source"] = "must be a source name or a list of source names"
        elif names:
            cleaned["source"] = names
    elif source is not None:
        errors["source"] = "must be a source name or a list of source names"
    if errors:
        raise InvalidSpec(errors)
    return cleaned

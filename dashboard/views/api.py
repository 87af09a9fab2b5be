"""The API's JSON for pipelines and runs (dashboard/apiv1 serves it): also used by the failures' JSON."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from jobs.actions import kind_operations, vendor_facts
from jobs.models import Pipeline, Run
from jobs.payload import team_json
from jobs.suppression import Suppression
from vendors.operations import PIPELINE, Fact, Operation


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def run_json(run: Run) -> dict[str, Any]:
    error = None
    if run.error_message or run.error_code:
        error = {"code": run.error_code, "message": run.error_message, "kind": run.error_kind or "unknown"}
    return {
        "id": str(run.uuid),
        "external_id": run.external_id,
        "state": run.state,
        "vendor_status": run.vendor_status,
        "progress": run.progress,
        "counts": run.counts,
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
        "error": error,
        "flags": run.flags,
    }


def suppression_json(found: Suppression | None) -> dict[str, Any] | None:
    """Muted or in a maintenance window (no alerts sent), as pages show it; null otherwise."""
    if found is None:
        return None
    return {"kind": found.kind, "until": None if found.forever else iso(found.until), "why": found.why}


def pipeline_json(pipeline: Pipeline, now: datetime, suppressed: Suppression | None = None) -> dict[str, Any]:
    health = pipeline.health(now)
    return {
        "id": str(pipeline.uuid),
        "name": pipeline.display_name,
        "vendor": pipeline.account.vendor,
        "kind": pipeline.kind,
        "account": pipeline.account.name,
        "external_id": pipeline.external_id,
        "health": health.status,
        "health_reason": health.reason,
        # When the current trouble began (null while healthy or running): as on /failures/.
        "since": iso(pipeline.incident_since),
        "missing_days": sorted(pipeline.missing_days),
        "current_run": run_json(pipeline.current_run) if pipeline.current_run else None,
        "last_success_at": iso(pipeline.last_success_at),
        "last_failure_at": iso(pipeline.last_failure_at),
        "suppressed": suppression_json(suppressed),
        # The owning team (its own, else its account's): {"slug", "name"}, or null.
        "team": team_json(pipeline.owning_team),
        "empty_day_is_failure": pipeline.empty_day_is_failure,
        # What the vendor reports (as the pipeline page's "At <vendor>") and what the kind can
        # do besides the fixed actions: POST /api/v1/pipelines/<id>/operations/<name>/.
        "facts": [fact_json(f) for f in vendor_facts(pipeline)],
        "operations": [operation_json(op, pipeline) for op in kind_operations(pipeline)],
    }


def fact_json(fact: Fact) -> dict[str, Any]:
    return {"label": fact.label, "value": fact.value, "note": fact.note, "done": fact.done, "total": fact.total}


def operation_json(op: Operation, pipeline: Pipeline) -> dict[str, Any]:
    return {
        "name": op.name,
        "label": op.label.rstrip("…"),
        "scope": op.scope,
        # pipeline scope: offered now; run scope: for runs in `run_states`; false: from a fact only
        "offered": op.offered(pipeline.vendor_info or {}) if op.scope == PIPELINE else True,
        "run_states": sorted(op.run_states),
        "fields": [{"name": f.name, "label": f.label, "type": f.type, "required": f.required} for f in op.fields],
        "confirm": op.confirm,
        "help": op.help,
    }

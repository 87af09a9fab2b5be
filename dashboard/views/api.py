"""Read API for scripts: `/api/v1/`, session login or `Authorization: Bearer <token>`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone

from jobs.models import Pipeline, Run
from jobs.payload import team_json
from jobs.suppression import Suppression, suppressions

from ..auth import api_auth_required, operate_refusal
from ..inputs import Fields

DEFAULT_LIMIT, MAX_LIMIT = 50, 200
MAX_OFFSET = 10**9  # far past any table we keep, and within PostgreSQL's bigint


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
    }


def page_of(request: HttpRequest, qs: QuerySet | Sequence[Any]) -> tuple[list[Any], str | None]:
    """Offset pages that fetch one row more instead of counting the table."""
    fields = Fields(request.GET)
    limit = fields.integer("limit", DEFAULT_LIMIT, minimum=1, maximum=MAX_LIMIT, clamp=True)
    offset = fields.integer("offset", 0, minimum=0, maximum=MAX_OFFSET)
    items = list(qs[offset : offset + limit + 1])
    next_url = None
    if len(items) > limit:
        items = items[:limit]
        query = request.GET.copy()
        query["offset"], query["limit"] = str(offset + limit), str(limit)
        next_url = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
    return items, next_url


@api_auth_required
def pipelines(request: HttpRequest) -> JsonResponse:
    # In the order they were added (the primary key): a stable order that pages without
    # sorting every pipeline on each request.
    qs = (
        Pipeline.objects.select_related("account", "account__team", "team", "current_run")
        .defer("current_run__raw")
        .order_by("id")
    )
    items, next_url = page_of(request, qs)
    now = timezone.now()
    quiet = suppressions(items, now)  # one query for the page
    return JsonResponse({"results": [pipeline_json(p, now, quiet.get(p.pk)) for p in items], "next": next_url})


@api_auth_required
def pipeline_runs(request: HttpRequest, pipeline_uuid: object) -> JsonResponse:
    pipeline = get_object_or_404(Pipeline.objects.select_related("account"), uuid=pipeline_uuid)
    if request.method == "POST":  # a write inside a read view: the operator check, not a second auth
        from .api_actions import register_run

        return operate_refusal(request) or register_run(request, pipeline)
    qs = pipeline.runs.order_by("-sort_at", "-id")
    items, next_url = page_of(request, qs)
    return JsonResponse({"results": [run_json(r) for r in items], "next": next_url})

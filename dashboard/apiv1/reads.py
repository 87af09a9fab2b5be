"""GET /api/v1/pipelines/, /pipelines/{id}/runs/ and /failures/: filtered, cursor-paged."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Query, Router

from jobs.failures import attach_suppressions
from jobs.models import Pipeline, Run
from jobs.suppression import suppressions

from ..inputs import BadInput
from ..presenters import filtered
from ..views.api import pipeline_json, run_json
from ..views.failures import _listed, incident_json
from . import paging
from .schemas import (
    Error,
    FailureFilters,
    IncidentPage,
    PipelineFilters,
    PipelineOut,
    PipelinePage,
    RunFilters,
    RunPage,
)

router = Router()  # reads and writes: a path serving both (runs/) is one route
READ_ERRORS = {400: Error, 401: Error, 403: Error}


def filter_pipelines(f: PipelineFilters, user: object = None) -> QuerySet[Pipeline]:
    category = f.kind if f.kind in ("import", "export") else ""  # as the overview; else one exact kind
    params = {"vendor": f.vendor or "", "account": f.account or "", "q": f.q or "", "kind": category}
    qs = filtered({**params, "team": f.team or ""}, user)
    if f.kind and not category:
        qs = qs.filter(kind=f.kind)
    if f.health:
        qs = qs.filter(health_status=f.health)
    return qs


@router.get(
    "pipelines/",
    tags=["read"],
    response={200: PipelinePage, **READ_ERRORS},
    url_name="api-pipelines",
    operation_id="list_pipelines",
)
def pipelines(request: HttpRequest, f: Query[PipelineFilters]) -> dict:
    """Pipelines in the order they were added, with their health and current run."""
    paging.check_exclusive(f.cursor, f.offset)
    limit = paging.clamp_limit(f.limit)
    qs = (
        filter_pipelines(f, request.user)
        .select_related("account", "account__team", "team", "current_run")
        .defer("current_run__raw")
        .order_by("id")
    )
    if f.cursor:
        (after,) = paging.decode(f.cursor, "pipelines", 1)
        if not isinstance(after, int):
            raise BadInput("is not a cursor of this list", field="cursor")
        qs = qs.filter(id__gt=after)
    start = f.offset or 0
    items, next_url = paging.keyset_page(
        request, qs[start : start + limit + 1], limit, lambda p: paging.encode("pipelines", p.pk)
    )
    now = timezone.now()
    quiet = suppressions(items, now)  # one query for the page
    return {"results": [pipeline_json(p, now, quiet.get(p.pk)) for p in items], "next": next_url}


def _run_cursor(cursor: str) -> Q:
    at, pk = paging.decode(cursor, "runs", 2)
    try:
        when = datetime.fromisoformat(at) if isinstance(at, str) else None
    except ValueError:
        when = None
    if when is None or when.tzinfo is None or not isinstance(pk, int):
        raise BadInput("is not a cursor of this list", field="cursor")
    return Q(sort_at__lt=when) | Q(sort_at=when, id__lt=pk)


def one_pipeline(pipeline_uuid: UUID) -> dict:
    pipeline = get_object_or_404(
        Pipeline.objects.select_related("account", "account__team", "team", "current_run"), uuid=pipeline_uuid
    )
    now = timezone.now()
    return pipeline_json(pipeline, now, suppressions([pipeline], now).get(pipeline.pk))


@router.get(
    "pipelines/{uuid:pipeline_uuid}/",
    tags=["read"],
    response={200: PipelineOut, **READ_ERRORS, 404: Error},
    url_name="api-pipeline",
    operation_id="get_pipeline",
)
def pipeline(request: HttpRequest, pipeline_uuid: UUID) -> dict:
    """One pipeline, with its health, owning team and current run."""
    return one_pipeline(pipeline_uuid)


@router.get(
    "pipelines/{pipeline_uuid}/runs/",
    tags=["read"],
    response={200: RunPage, **READ_ERRORS, 404: Error},
    url_name="api-pipeline-runs",
    operation_id="list_pipeline_runs",
)
def pipeline_runs(request: HttpRequest, pipeline_uuid: UUID, f: Query[RunFilters]) -> dict:
    """A pipeline's runs, newest first (by start, or when first seen for queued runs)."""
    pipeline = get_object_or_404(Pipeline, uuid=pipeline_uuid)
    paging.check_exclusive(f.cursor, f.offset)
    if f.since and f.until and f.since >= f.until:
        raise BadInput("must be later than since", field="until")
    limit = paging.clamp_limit(f.limit)
    qs: QuerySet[Run] = pipeline.runs.order_by("-sort_at", "-id")
    if f.state:
        qs = qs.filter(state=f.state)
    if f.since:
        qs = qs.filter(sort_at__gte=f.since)
    if f.until:
        qs = qs.filter(sort_at__lt=f.until)
    if f.cursor:
        qs = qs.filter(_run_cursor(f.cursor))
    start = f.offset or 0
    items, next_url = paging.keyset_page(
        request, qs[start : start + limit + 1], limit, lambda r: paging.encode("runs", r.sort_at.isoformat(), r.pk)
    )
    return {"results": [run_json(r) for r in items], "next": next_url}


@router.get(
    "failures/",
    tags=["read"],
    response={200: IncidentPage, **READ_ERRORS},
    url_name="api-failures",
    operation_id="list_failures",
)
def failures(request: HttpRequest, f: Query[FailureFilters]) -> dict:
    """Open incidents, newest first, as on /failures/ (snoozed ones included).

    Incidents are worked out live rather than stored, so this list's cursor holds a position."""
    paging.check_exclusive(f.cursor, f.offset)
    limit = paging.clamp_limit(f.limit)
    start = f.offset or 0
    if f.cursor:
        (start,) = paging.decode(f.cursor, "failures", 1)
        if not isinstance(start, int) or not 0 <= start <= 10**9:
            raise BadInput("is not a cursor of this list", field="cursor")
    params = {
        "vendor": f.vendor or "",
        "account": f.account or "",
        "kind": f.kind or "",
        "acknowledged": f.acknowledged or "",
        "team": f.team or "",
    }
    found = _listed(params, show_snoozed=True, user=request.user)
    items, next_url = paging.keyset_page(
        request, found[start : start + limit + 1], limit, lambda _: paging.encode("failures", start + limit)
    )
    attach_suppressions(items, timezone.now())
    return {"results": [incident_json(i) for i in items], "next": next_url}

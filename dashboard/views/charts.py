"""Time views: a pipeline's run timeline (a fragment its page loads), every pipeline on one
axis (/timeline/), and which day landed for the daily ones (/freshness/)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from jobs.models import Pipeline, Run
from jobs.vocabulary import HEALTHS

from .. import timeline as tl
from ..presenters import filtered
from .pages import filter_context, filter_params

PIPELINES_PER_PAGE = 50
FRESHNESS_DAYS = 21


def _range(request: HttpRequest, default: str = tl.DEFAULT_RANGE) -> str:
    value = request.GET.get("range", default)
    return value if value in tl.RANGES else default


def _pipelines(request: HttpRequest) -> tuple[QuerySet[Pipeline], dict[str, object]]:
    """The overview's filters (shared form and SQL), plus health as a plain choice here."""
    params = filter_params(request)
    pipelines = filtered(params, request.user)
    if params["health"] in HEALTHS:
        pipelines = pipelines.filter(health_status=params["health"])
    context = filter_context(params)
    context["healths"] = HEALTHS
    context["filter_query"] = urlencode({k: v for k, v in params.items() if v and k != "sort"})
    return pipelines, context


@login_required
def pipeline_timeline(request: HttpRequest, pipeline_uuid: object) -> HttpResponse:
    pipeline = get_object_or_404(Pipeline.objects.select_related("account"), uuid=pipeline_uuid)
    now = timezone.now()
    range_key = _range(request, default=tl.default_range(pipeline))
    ax = tl.axis(range_key, now)
    runs = tl.runs_in_window([pipeline.pk], ax).get(pipeline.pk, [])
    context = {
        "pipeline": pipeline,
        "axis": ax,
        "bars": tl.bars(runs, ax),
        "range": range_key,
        "ranges": list(tl.RANGES),
        "width": tl.WIDTH,
        "now_x": tl.WIDTH,
    }
    cadence = pipeline.cadence_seconds()
    if pipeline.is_periodic and cadence is not None and cadence <= 3600:  # intervals of an hour or less
        hour_runs = list(pipeline.runs.filter(sort_at__gte=now - timedelta(days=8)).order_by("sort_at")[:2000])
        first = min([pipeline.created_at, *(r.started_at for r in hour_runs[:1] if r.started_at)])
        context["hours"] = tl.hour_outcomes(hour_runs, now, first)
    if cadence == 86400:
        days = [now.date() - timedelta(days=n) for n in range(29, -1, -1)]
        day_runs = list(pipeline.runs.filter(sort_at__gte=now - timedelta(days=32)).order_by("sort_at")[:500])
        first = tl.first_days([pipeline])[pipeline.pk]
        context["days"] = tl.day_outcomes(pipeline, day_runs, days, first)
        context["day_notes"] = [cell for cell in context["days"] if cell["note"]]
    return render(request, "dashboard/_timeline.html", context)


@login_required
def timeline_page(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    range_key = _range(request)
    ax = tl.axis(range_key, now)
    pipelines, context = _pipelines(request)
    pipelines = pipelines.order_by("account__name", "name", "external_id")
    page = Paginator(pipelines, PIPELINES_PER_PAGE).get_page(request.GET.get("page"))
    grouped = tl.runs_in_window([p.pk for p in page], ax)
    rows = [(p, tl.bars(grouped.get(p.pk, []), ax)) for p in page]
    context.update(
        {"rows": rows, "axis": ax, "range": range_key, "ranges": list(tl.RANGES), "page": page, "width": tl.WIDTH}
    )
    return render(request, "dashboard/timeline.html", context)


@login_required
def freshness_page(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    days = [now.date() - timedelta(days=n) for n in range(FRESHNESS_DAYS - 1, -1, -1)]
    pipelines, context = _pipelines(request)
    daily = [p for p in pipelines.order_by("account__name", "name") if p.cadence_seconds() == 86400]
    page = Paginator(daily, PIPELINES_PER_PAGE).get_page(request.GET.get("page"))
    runs: dict[int, list] = {p.pk: [] for p in page}
    for run in Run.objects.filter(
        pipeline_id__in=list(runs), sort_at__gte=now - timedelta(days=FRESHNESS_DAYS + 2)
    ).only("uuid", "pipeline_id", "external_id", "state", "sort_at", "error_message", "flags", "counts"):
        runs[run.pipeline_id].append(run)
    first = tl.first_days(list(page))
    rows = [(p, tl.day_outcomes(p, runs[p.pk], days, first[p.pk])) for p in page]
    context.update({"rows": rows, "days": days, "page": page})
    return render(request, "dashboard/freshness.html", context)

"""Run history downloads: one pipeline's runs, or the runs of the pipelines the overview's
filters select, over a period, as CSV or JSON lines (jobs.run_export streams them)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from jobs.models import Pipeline
from jobs.run_export import CONTENT_TYPES, Format, PeriodError, export_runs, filename, parse_period, runs_in_period
from jobs.vocabulary import HEALTHS

from ..presenters import filtered
from .pages import FILTER_KEYS


def _download(request: HttpRequest, pipelines: QuerySet[Pipeline], prefix: str, fmt: Format) -> HttpResponse:
    try:
        since, until = parse_period(request.GET.get("since"), request.GET.get("until"))
    except PeriodError as exc:
        return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")
    runs = runs_in_period(pipelines, since, until)
    response = StreamingHttpResponse(export_runs(runs, fmt), content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{filename(prefix, since, until, fmt)}"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_GET
def pipeline_runs(request: HttpRequest, pipeline_uuid: object, fmt: Format) -> HttpResponse:
    pipeline = get_object_or_404(Pipeline, uuid=pipeline_uuid)
    return _download(request, Pipeline.objects.filter(pk=pipeline.pk), f"runs-{pipeline.uuid}", fmt)


@login_required
@require_GET
def overview_runs(request: HttpRequest, fmt: Format) -> HttpResponse:
    """The overview's filters (vendor, kind, health, account, q) choose the pipelines."""
    params = {k: request.GET.get(k, "").strip() for k in FILTER_KEYS}
    if params["health"] and params["health"] not in HEALTHS:
        return HttpResponseBadRequest(f"health must be one of {', '.join(HEALTHS)}")
    pipelines = filtered(params, request.user)
    if params["health"]:
        pipelines = pipelines.filter(health_status=params["health"])
    return _download(request, pipelines.order_by().values("pk"), "runs", fmt)

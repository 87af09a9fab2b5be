"""GET /api/v1/runs/export/ and /api/v1/pipelines/{id}/runs/export/: run history over a period
as CSV or JSON lines, streamed (jobs.run_export), for one pipeline or the pipelines the list's
filters select."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from django.db.models import QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from ninja import Field, Query

from jobs.models import Pipeline
from jobs.run_export import CONTENT_TYPES, PeriodError, export_runs, filename, parse_period, runs_in_period

from ..inputs import BadInput
from .reads import READ_ERRORS, filter_pipelines, router
from .schemas import Error, PipelineFilters, Schema

PERIOD = "A date (YYYY-MM-DD, a whole day in the server's time zone) or an ISO 8601 time."


class ExportParams(Schema):
    format: Literal["csv", "jsonl"] = Field("jsonl", description="CSV (spreadsheet-safe cells) or JSON lines.")
    since: str | None = Field(None, max_length=40, description=f"{PERIOD} Default: 30 days before until.")
    until: str | None = Field(None, max_length=40, description=f"{PERIOD} A date is included. Default: now.")


class ExportFilters(PipelineFilters, ExportParams):
    pass


TEXT = {"schema": {"type": "string"}}
EXPORTED = {
    200: {
        "description": "Runs oldest first, one per line (JSON lines) or row (CSV with a header).",
        "content": {"application/x-ndjson": TEXT, "text/csv": TEXT},
    }
}


def _stream(pipelines: QuerySet[Pipeline], prefix: str, p: ExportParams) -> StreamingHttpResponse:
    try:
        since, until = parse_period(p.since, p.until)
    except PeriodError as exc:
        field = "until" if str(exc).startswith("until") else "since"
        raise BadInput(str(exc), field=field) from None
    runs = runs_in_period(pipelines, since, until)
    response = StreamingHttpResponse(export_runs(runs, p.format), content_type=CONTENT_TYPES[p.format])
    response["Content-Disposition"] = f'attachment; filename="{filename(prefix, since, until, p.format)}"'
    response["Cache-Control"] = "no-store"
    return response


@router.get(
    "runs/export/",
    tags=["read"],
    response={200: None, **READ_ERRORS},
    openapi_extra={"responses": EXPORTED},
    url_name="api-runs-export",
    operation_id="export_runs",
)
def export_all(request: HttpRequest, f: Query[ExportFilters]) -> StreamingHttpResponse:
    """The runs of every pipeline the filters select (as GET /pipelines/ filters them), over a period."""
    return _stream(filter_pipelines(f, request.user).order_by().values("pk"), "runs", f)


@router.get(
    "pipelines/{uuid:pipeline_uuid}/runs/export/",
    tags=["read"],
    response={200: None, **READ_ERRORS, 404: Error},
    openapi_extra={"responses": EXPORTED},
    url_name="api-pipeline-runs-export",
    operation_id="export_pipeline_runs",
)
def export_one(request: HttpRequest, pipeline_uuid: UUID, p: Query[ExportParams]) -> StreamingHttpResponse:
    """One pipeline's runs over a period."""
    pipeline = get_object_or_404(Pipeline, uuid=pipeline_uuid)
    return _stream(Pipeline.objects.filter(pk=pipeline.pk), f"runs-{pipeline.uuid}", p)

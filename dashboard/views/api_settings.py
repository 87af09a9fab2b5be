"""`/api/v1/pipelines/<id>/`: one pipeline (GET, any role) and its owner settings (PATCH,
operator): `team` (a team's slug, or null for the account's) and `empty_day_is_failure`.
Kept apart from the other API views so that it moves to another API framework as one piece."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone

from jobs import audit
from jobs.emptydays import set_empty_day_is_failure
from jobs.models import Pipeline, Team
from jobs.suppression import suppressions

from ..auth import api_auth_required, operate_refusal
from ..inputs import BadInput, read_json
from .api import pipeline_json

WRITABLE = ("team", "empty_day_is_failure")


@api_auth_required
def pipeline_item(request: HttpRequest, pipeline_uuid: object) -> JsonResponse:
    pipeline = get_object_or_404(
        Pipeline.objects.select_related("account", "account__team", "team", "current_run"), uuid=pipeline_uuid
    )
    if request.method == "PATCH":
        if refusal := operate_refusal(request):
            return refusal
        _update(request, pipeline)
    elif request.method not in ("GET", "HEAD"):
        return JsonResponse({"error": "use GET or PATCH"}, status=405, headers={"Allow": "GET, HEAD, PATCH"})
    now = timezone.now()
    return JsonResponse(pipeline_json(pipeline, now, suppressions([pipeline], now).get(pipeline.pk)))


def _update(request: HttpRequest, pipeline: Pipeline) -> None:
    body = read_json(request)
    unknown = sorted(set(body.data) - set(WRITABLE))
    if unknown:
        raise BadInput(f"cannot be changed here (writable: {', '.join(WRITABLE)})", field=unknown[0])
    with audit.acting_as(request.user):
        if "team" in body.data:
            team = _team(body.data["team"])
            if team != pipeline.team:
                pipeline.team = team
                pipeline.save(update_fields=["team"])  # audited by the model hooks, naming the caller
        if "empty_day_is_failure" in body.data:
            value = body.data["empty_day_is_failure"]
            if not isinstance(value, bool):
                raise BadInput("must be true or false", field="empty_day_is_failure")
            set_empty_day_is_failure(pipeline, value)


def _team(value: object) -> Team | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise BadInput("must be a team's slug, or null for the account's team", field="team")
    team = Team.objects.filter(slug=value.strip()).first()
    if team is None:
        raise BadInput("no such team", field="team")
    return team

"""Write API (operator role): create pipelines, register jobs, act on pipelines."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.views.decorators.http import require_POST

from jobs import actions
from jobs.models import Account, Pipeline
from jobs.suppression import suppressions

from ..auth import api_operator_required
from ..inputs import read_json
from .api import pipeline_json

ACTIONS = {
    "cancel": lambda p, u: actions.cancel(p, u),
    "pause": lambda p, u: actions.set_monitoring_paused(p, True, u),
    "resume": lambda p, u: actions.set_monitoring_paused(p, False, u),
    "vendor-pause": lambda p, u: actions.set_vendor_paused(p, True, u),
    "vendor-resume": lambda p, u: actions.set_vendor_paused(p, False, u),
    "run-now": lambda p, u: actions.run_now(p, u),
    "poll": lambda p, u: actions.poll_pipeline_now(p, u),
}


def _answer(result: actions.ActionResult, ok_status: int = 200) -> JsonResponse:
    now = timezone.now()
    body: dict[str, Any] = {"ok": result.ok, "message": result.message}
    if result.details:
        body["details"] = result.details
    if result.field_errors:
        body["errors"] = result.field_errors
    if result.pipelines:
        found = list(
            Pipeline.objects.select_related("account", "current_run").filter(pk__in=[p.pk for p in result.pipelines])
        )
        quiet = suppressions(found, now)
        body["pipelines"] = [pipeline_json(p, now, quiet.get(p.pk)) for p in found]
    if result.ok:
        return JsonResponse(body, status=ok_status)
    # Our validation: 400. The vendor said no (or is down): 502, with its message.
    return JsonResponse(body, status=400 if result.field_errors or result.http_status is None else 502)


@require_POST
@api_operator_required
def create_pipeline(request: HttpRequest) -> JsonResponse:
    body = read_json(request)
    name, kind = body.text("account", required=True, max_length=100), body.text("kind", required=True, max_length=50)
    spec, stream = body.mapping("spec"), body.text("stream", max_length=255)
    account = Account.objects.filter(name=name).first()
    if account is None:
        return JsonResponse({"ok": False, "errors": {"account": "no such account"}}, status=400)
    result = actions.create(account, kind, spec, request.user, stream=stream)
    return _answer(result, ok_status=201)


@require_POST
@api_operator_required
def pipeline_action(request: HttpRequest, pipeline_uuid: object, action: str) -> JsonResponse:
    pipeline = get_object_or_404(Pipeline.objects.select_related("account"), uuid=pipeline_uuid)
    handler = ACTIONS.get(action)
    if handler is None:
        return JsonResponse({"error": f"unknown action; choose from {', '.join(ACTIONS)}"}, status=404)
    return _answer(handler(pipeline, request.user))


def register_run(request: HttpRequest, pipeline: Pipeline) -> JsonResponse:
    """POST /api/v1/pipelines/<id>/runs/, called by `api.pipeline_runs` once it checked the
    operator role and scope: not a view of its own, so not wrapped by the API auth again."""
    external_id = read_json(request).text("external_id", required=True, max_length=255)
    result = actions.register(pipeline, external_id, request.user)
    return _answer(result, ok_status=201)

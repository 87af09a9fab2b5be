"""Write API (operator role): create pipelines, register jobs, act on pipelines."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.views.decorators.http import require_POST

from jobs import actions
from jobs.models import Account, Pipeline

from ..auth import api_operator_required
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


def _body(request: HttpRequest) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        raise _BadBody("the body must be JSON") from None
    if not isinstance(body, dict):
        raise _BadBody("the body must be a JSON object")
    return body


class _BadBody(ValueError):
    pass


def _answer(result: actions.ActionResult, ok_status: int = 200) -> JsonResponse:
    now = timezone.now()
    body: dict[str, Any] = {"ok": result.ok, "message": result.message}
    if result.details:
        body["details"] = result.details
    if result.field_errors:
        body["errors"] = result.field_errors
    if result.pipelines:
        body["pipelines"] = [
            pipeline_json(p, now)
            for p in Pipeline.objects.select_related("account", "current_run").filter(
                pk__in=[p.pk for p in result.pipelines]
            )
        ]
    if result.ok:
        return JsonResponse(body, status=ok_status)
    # Our validation: 400. The vendor said no (or is down): 502, with its message.
    return JsonResponse(body, status=400 if result.field_errors or result.http_status is None else 502)


@require_POST
@api_operator_required
def create_pipeline(request: HttpRequest) -> JsonResponse:
    try:
        body = _body(request)
    except _BadBody as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    account = Account.objects.filter(name=body.get("account", "")).first()
    if account is None:
        return JsonResponse({"ok": False, "errors": {"account": "no such account"}}, status=400)
    spec = body.get("spec", {})
    if not isinstance(spec, dict):
        return JsonResponse({"ok": False, "errors": {"spec": "must be an object"}}, status=400)
    result = actions.create(account, str(body.get("kind", "")), spec, request.user, stream=str(body.get("stream", "")))
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
    try:
        body = _body(request)
    except _BadBody as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    result = actions.register(pipeline, str(body.get("external_id", "")), request.user)
    return _answer(result, ok_status=201)

"""Buttons on the pipeline page: each posts here through htmx and the answer replaces
the action bar in place (the vendor's refusal included)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from jobs.actions import available
from jobs.models import Pipeline

from ..presenters import pipeline_rows
from ..roles import OPERATOR, lacks
from .api_actions import ACTIONS


@login_required
@require_POST
def pipeline_action(request: HttpRequest, pipeline_uuid: object, action: str) -> HttpResponse:
    pipeline = get_object_or_404(Pipeline.objects.select_related("account", "current_run"), uuid=pipeline_uuid)
    if lacks(request, OPERATOR):
        return render(
            request,
            "dashboard/_actions.html",
            {"pipeline": pipeline, "result_ok": False, "result": "This needs the operator role."},
            status=403,
        )
    handler = ACTIONS.get(action)
    if handler is None:
        return HttpResponse(status=404)
    context = {"pipeline": pipeline, "can_operate": True, "oob": True}
    if action not in available(pipeline):  # e.g. pausing at the vendor a pipeline canceled there
        context.update(result_ok=False, result="That action is not available for this pipeline now.")
        context["row"] = pipeline_rows([pipeline], timezone.now())[0]
        return render(request, "dashboard/_action_answer.html", context, status=409)
    result = handler(pipeline, request.user)
    pipeline = Pipeline.objects.select_related("account", "current_run").get(pk=pipeline.pk)
    # The health card answers too (out of band): after a cancel it must not read healthy.
    context.update(pipeline=pipeline, result_ok=result.ok, result=result.message)
    context["row"] = pipeline_rows([pipeline], timezone.now())[0]
    return render(request, "dashboard/_action_answer.html", context)

"""A kind's own operations from the pages (vendors/operations.py): a form posts here through
htmx, and the answer (done, the vendor's refusal, or the inputs to correct) replaces the
form's answer area in place."""

from __future__ import annotations

import uuid

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_POST

from jobs import actions
from jobs.models import Pipeline, Run

from ..roles import OPERATOR, lacks

TEMPLATE = "dashboard/_operation_answer.html"
NOT_VALUES = ("csrfmiddlewaretoken", "run")


def status_of(result: actions.ActionResult) -> int:
    """Done 200; inputs to correct 422; refused by us 409; refused by the vendor 502."""
    if result.ok:
        return 200
    if result.field_errors:
        return 422
    return 409 if result.http_status is None else 502


@login_required
@require_POST
def pipeline_operation(request: HttpRequest, pipeline_uuid: object, name: str) -> HttpResponse:
    pipeline = get_object_or_404(Pipeline.objects.select_related("account"), uuid=pipeline_uuid)
    if lacks(request, OPERATOR):
        return render(request, TEMPLATE, {"ok": False, "message": "This needs the operator role."}, status=403)
    run = None
    if run_id := request.POST.get("run", ""):
        try:
            run = Run.objects.filter(pipeline=pipeline, uuid=uuid.UUID(run_id)).first()
        except ValueError:
            run = None
        if run is None:
            return render(request, TEMPLATE, {"ok": False, "message": "No such run of this pipeline."}, status=404)
    values = {k: v for k, v in request.POST.items() if k not in NOT_VALUES}
    result = actions.operate(pipeline, name, request.user, values, run)
    context = {"ok": result.ok, "message": result.message, "field_errors": result.field_errors}
    response = render(request, TEMPLATE, context, status=status_of(result))
    if result.ok:  # the pipeline page's live part refreshes, and keeps at it until the poll lands
        response["HX-Trigger"] = "pw:operated"
    return response

"""Mute and unmute a pipeline's alerts from its page or the failures page. A plain form
post (works without JavaScript) that returns to the page it came from; the change of
`muted_until` is audited by jobs.audit's model hooks, a refusal by dashboard.auditing."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from jobs.models import Pipeline
from jobs.suppression import MUTE_CHOICES, mute_until

from ..inputs import BadInput, Fields
from ..roles import OPERATOR, lacks

MUTE_MINUTES = {minutes for minutes, _ in MUTE_CHOICES}


def _back(request: HttpRequest, pipeline: Pipeline) -> HttpResponseRedirect:
    """To the page the form was on (same site only), else the pipeline's page."""
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        target = reverse("pipeline", args=[pipeline.uuid])
    return HttpResponseRedirect(target, status=303)


@login_required
@require_POST
def mute(request: HttpRequest, pipeline_uuid: object) -> HttpResponse:
    pipeline = get_object_or_404(Pipeline, uuid=pipeline_uuid)
    if lacks(request, OPERATOR):
        return HttpResponse("Muting needs the operator role.", status=403, content_type="text/plain")
    minutes = Fields(request.POST).integer("minutes", 60, minimum=0, maximum=max(MUTE_MINUTES))
    if minutes not in MUTE_MINUTES:
        raise BadInput(f"choose one of {sorted(MUTE_MINUTES)} (0: until unmuted)", field="minutes")
    pipeline.muted_until = mute_until(minutes, timezone.now())
    pipeline.save(update_fields=["muted_until"])
    return _back(request, pipeline)


@login_required
@require_POST
def unmute(request: HttpRequest, pipeline_uuid: object) -> HttpResponse:
    pipeline = get_object_or_404(Pipeline, uuid=pipeline_uuid)
    if lacks(request, OPERATOR):
        return HttpResponse("Unmuting needs the operator role.", status=403, content_type="text/plain")
    if pipeline.muted_until is not None:
        pipeline.muted_until = None
        pipeline.save(update_fields=["muted_until"])
    return _back(request, pipeline)

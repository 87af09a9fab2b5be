"""Who owns a pipeline and whether its empty days count as failures, set from its page by an
operator: a plain form post that returns to the page. The team change is audited by the
model hooks; the empty-day option re-reads the recent days (jobs.emptydays)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_POST

from jobs import audit
from jobs.emptydays import set_empty_day_is_failure
from jobs.models import Pipeline, Team

from ..inputs import BadInput, Fields
from ..roles import OPERATOR, lacks


@login_required
@require_POST
def pipeline_owner(request: HttpRequest, pipeline_uuid: object) -> HttpResponse:
    pipeline = get_object_or_404(Pipeline.objects.select_related("account", "team"), uuid=pipeline_uuid)
    if lacks(request, OPERATOR):
        return HttpResponse("Changing the owner needs the operator role.", status=403, content_type="text/plain")
    slug = Fields(request.POST).text("team", max_length=100).strip()
    team = None
    if slug:
        team = Team.objects.filter(slug=slug).first()
        if team is None:
            raise BadInput("no such team", field="team")
    empty_is_failure = request.POST.get("empty_day_is_failure") in ("on", "true", "1")
    with audit.acting_as(request.user):
        if team != pipeline.team:
            pipeline.team = team
            pipeline.save(update_fields=["team"])
        set_empty_day_is_failure(pipeline, empty_is_failure)
    return HttpResponseRedirect(reverse("pipeline", args=[pipeline.uuid]), status=303)

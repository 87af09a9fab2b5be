"""The on-call page: everything that needs a human, newest first, with acknowledge and
snooze (recorded with who and when, visible to everyone), and its API twin."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_POST

from jobs import audit
from jobs.failures import Incident, IncidentList, incidents
from jobs.models import Acknowledgement

from ..auth import api_auth_required, api_operator_required
from ..inputs import Fields, read_json
from ..roles import OPERATOR, is_operator, lacks
from .api import iso, page_of

INCIDENTS_PER_PAGE = 50
SNOOZE_CHOICES = [(0, "No snooze"), (60, "1 hour"), (240, "4 hours"), (1440, "1 day"), (10080, "1 week")]
MAX_SNOOZE_MINUTES = 60 * 24 * 30
MAX_NOTE = 2000


def _find(incident_id: str) -> Incident:
    for incident in incidents():
        if incident.id == incident_id:
            return incident
    raise Http404("no such open incident (it may have recovered)")


def acknowledge(incident: Incident, user: Any, note: str, snooze_minutes: int) -> Acknowledgement:
    snooze = timedelta(minutes=max(0, min(snooze_minutes, MAX_SNOOZE_MINUTES)))
    ack, _ = Acknowledgement.objects.update_or_create(
        incident=incident.id,
        defaults={
            "by": user,
            "at": timezone.now(),
            "note": note[:MAX_NOTE],
            "snoozed_until": timezone.now() + snooze if snooze else None,
        },
    )
    audit.record(
        "incident.acknowledge",
        actor=user,
        target_type="incident",
        target_label=incident.id,
        detail={"note": note[:MAX_NOTE], "snooze_minutes": snooze_minutes},
    )
    incident.ack = ack
    return ack


@login_required
def failures_page(request: HttpRequest) -> HttpResponse:
    show_snoozed = request.GET.get("snoozed") == "1"
    found = IncidentList(show_snoozed=show_snoozed)
    # Newest first, a page at a time: a vendor outage can fail hundreds of pipelines at once.
    page = Paginator(found, INCIDENTS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "incidents": page,
        "page": page,
        "total": found.total,
        "by_what": found.by_what,
        "hidden": found.hidden,
        "show_snoozed": show_snoozed,
        "can_operate": is_operator(request.user),
        "snooze_choices": SNOOZE_CHOICES,
    }
    return render(request, "dashboard/failures.html", context)


@login_required
@require_POST
def failures_ack(request: HttpRequest, incident_id: str) -> HttpResponse:
    incident = _find(incident_id)
    if lacks(request, OPERATOR):
        return HttpResponse("Acknowledging needs the operator role.", status=403)
    form = Fields(request.POST)
    note = form.text("note", max_length=MAX_NOTE)
    minutes = form.integer("snooze", 0, minimum=0, maximum=MAX_SNOOZE_MINUTES)
    acknowledge(incident, request.user, note, minutes)
    context = {"incident": incident, "can_operate": True, "snooze_choices": SNOOZE_CHOICES}
    return render(request, "dashboard/failures.html#incident", context)


def incident_json(i: Incident) -> dict[str, Any]:
    return {
        "id": i.id,
        "what": i.what,
        "since": iso(i.since),
        "vendor": i.account.vendor,
        "account": i.account.name,
        "pipeline": str(i.pipeline.uuid) if i.pipeline else None,
        "pipeline_name": i.pipeline.display_name if i.pipeline else None,
        "message": i.message,
        "code": i.code,
        "error_kind": i.error_kind,
        "whose": i.whose,
        "hint": i.hint,
        "missing_days": i.missing,
        "acknowledged": None
        if i.ack is None
        else {
            "by": i.ack.by.get_username() if i.ack.by else None,
            "at": iso(i.ack.at),
            "note": i.ack.note,
            "snoozed_until": iso(i.ack.snoozed_until),
        },
    }


@api_auth_required
def api_failures(request: HttpRequest) -> JsonResponse:
    items, next_url = page_of(request, IncidentList(show_snoozed=True))
    return JsonResponse({"results": [incident_json(i) for i in items], "next": next_url})


@require_POST
@api_operator_required
def api_failure_ack(request: HttpRequest, incident_id: str) -> JsonResponse:
    body = read_json(request)
    note = body.text("note", max_length=MAX_NOTE)
    minutes = body.integer("snooze_minutes", 0, minimum=0, maximum=MAX_SNOOZE_MINUTES)
    incident = _find(incident_id)
    acknowledge(incident, request.user, note, minutes)
    return JsonResponse(incident_json(incident))

"""`/audit/`: who did what and when, refusals included. Read-only by construction: there
is no view that changes an AuditEvent, and the admin registers it read-only."""

from __future__ import annotations

from datetime import datetime, time

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from jobs.models import AuditEvent


def _day(value: str, end: bool = False) -> datetime | None:
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        return None
    return datetime.combine(day, time.max if end else time.min, tzinfo=timezone.get_current_timezone())


@login_required
def audit_log(request: HttpRequest) -> HttpResponse:
    events = AuditEvent.objects.select_related("actor").order_by("-at", "-id")
    f = {k: request.GET.get(k, "").strip() for k in ("action", "who", "outcome", "since", "until", "q")}
    if f["action"]:
        events = events.filter(action__startswith=f["action"])
    if f["who"]:
        events = events.filter(Q(actor__username__iexact=f["who"]) | Q(actor_label__iexact=f["who"]))
    if f["outcome"]:
        events = events.filter(outcome=f["outcome"])
    if f["q"]:
        events = events.filter(target_label__icontains=f["q"])
    if since := _day(f["since"]):
        events = events.filter(at__gte=since)
    if until := _day(f["until"], end=True):
        events = events.filter(at__lte=until)
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    actions = AuditEvent.objects.order_by("action").values_list("action", flat=True).distinct()
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "dashboard/audit.html",
        {
            "page": page,
            "f": f,
            "actions": list(actions),
            "outcomes": ["ok", "refused", "invalid", "error"],
            "query": query.urlencode(),
        },
    )

"""The on-call page: everything that needs a human, newest first, with acknowledge and
snooze (recorded with who and when, visible to everyone), and the JSON of its API twin (dashboard/apiv1)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from jobs import audit, teams
from jobs.failures import Incident, IncidentList, attach_suppressions, find_incident
from jobs.models import Account, Acknowledgement
from jobs.suppression import MUTE_CHOICES
from jobs.vocabulary import RUNNING
from vendors.registry import VENDORS

from ..inputs import BadInput, Fields
from ..presenters import account_choices, filtered, narrowed
from ..roles import OPERATOR, is_operator, lacks
from .api import iso, suppression_json
from .pages import poll_interval

INCIDENTS_PER_PAGE = 50
SNOOZE_CHOICES = [(0, "No snooze"), (60, "1 hour"), (240, "4 hours"), (1440, "1 day"), (10080, "1 week")]
MAX_SNOOZE_MINUTES = 60 * 24 * 30
MAX_NOTE = 2000


def _find(incident_id: str) -> Incident:
    if (incident := find_incident(incident_id)) is None:
        raise Http404("no such open incident (it may have recovered)")
    return incident


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


FILTER_KEYS = ("vendor", "account", "kind", "team", "acknowledged")
KINDS = ("import", "export")
ACKNOWLEDGED = {"yes": True, "true": True, "1": True, "no": False, "false": False, "0": False}


def _filters(request: HttpRequest, *, strict: bool) -> dict[str, str]:
    """The list's filters from the query string, as the overview reads its own. A value
    that cannot match (an unknown kind or acknowledged) is a 400 for the API (`strict`)
    and ignored by the page; unknown vendors and accounts simply match nothing."""
    params = {k: request.GET.get(k, "").strip() for k in FILTER_KEYS}
    params["acknowledged"] = params["acknowledged"].lower()
    for key, allowed in (("kind", KINDS), ("acknowledged", tuple(ACKNOWLEDGED))):
        if params[key] and params[key] not in allowed:
            if strict:
                raise BadInput(f"must be one of {', '.join(allowed)}", field=key)
            params[key] = ""
    return params


def _listed(params: dict[str, str], *, show_snoozed: bool, user: Any = None) -> IncidentList:
    acknowledged = ACKNOWLEDGED.get(params["acknowledged"])
    if not narrowed(params):  # everything: totals from the counts the database keeps
        return IncidentList(show_snoozed=show_snoozed, acknowledged=acknowledged)
    accounts = teams.filter_accounts(Account.objects.all(), params["team"], user)
    if params["vendor"]:
        accounts = accounts.filter(vendor=params["vendor"])
    if params["account"]:
        accounts = accounts.filter(name=params["account"])
    return IncidentList(
        show_snoozed=show_snoozed,
        pipelines=filtered(params, user),  # the overview's filters (vendor, account, kind, team)
        accounts=accounts,
        acknowledged=acknowledged,
    )


@login_required
def failures_page(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    show_snoozed = request.GET.get("snoozed") == "1"
    params = _filters(request, strict=False)
    found = _listed(params, show_snoozed=show_snoozed, user=request.user)
    # Newest first, a page at a time: a vendor outage can fail hundreds of pipelines at once.
    page = Paginator(found, INCIDENTS_PER_PAGE).get_page(request.GET.get("page"))
    attach_suppressions(page.object_list, now)
    base = {k: v for k, v in params.items() if v}
    if show_snoozed:
        base["snoozed"] = "1"
    active = any(i.pipeline is not None and i.pipeline.health_status == RUNNING for i in page.object_list)
    context = {
        "incidents": page,
        "page": page,
        "total": found.total,
        "by_what": found.by_what,
        "hidden": found.hidden,
        "show_snoozed": show_snoozed,
        "can_operate": is_operator(request.user),
        "snooze_choices": SNOOZE_CHOICES,
        "mute_choices": MUTE_CHOICES,
        "params": params,
        "acknowledged": ACKNOWLEDGED.get(params["acknowledged"]),
        "filtering": bool({k: v for k, v in params.items() if v}),
        "base_query": urlencode({k: v for k, v in base.items() if k != "snoozed"}),
        "query": urlencode(base | ({"page": str(page.number)} if page.number > 1 else {})),
        "back": request.get_full_path(),
        "vendors": [(name, cls.label) for name, cls in VENDORS.items()],
        "accounts": account_choices(),
        "poll_every": poll_interval(active),
        "now": now,
    }
    if request.htmx:
        return render(request, "dashboard/failures.html#list", context)
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
    attach_suppressions([incident], timezone.now())
    context = {
        "incident": incident,
        "can_operate": True,
        "snooze_choices": SNOOZE_CHOICES,
        "mute_choices": MUTE_CHOICES,
        "back": reverse("failures"),
    }
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
        "suppressed": suppression_json(i.suppressed),
        "acknowledged": None
        if i.ack is None
        else {
            "by": i.ack.by.get_username() if i.ack.by else None,
            "at": iso(i.ack.at),
            "note": i.ack.note,
            "snoozed_until": iso(i.ack.snoozed_until),
        },
    }

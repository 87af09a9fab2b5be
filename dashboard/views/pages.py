"""People-facing pages. Each page and its polled fragment share one template (partials);
when htmx asks, only the fragment is rendered, and polling stops (286) once nothing on
it can change."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Case, Count, Prefetch, Q, Value, When
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django_htmx.http import HttpResponseStopPolling

from jobs.actions import vendor_facts
from jobs.csvsafe import SafeWriter
from jobs.models import Account, Pipeline, Run, Snapshot, Team
from jobs.run_export import DEFAULT_DAYS
from jobs.suppression import MUTE_CHOICES
from vendors.registry import VENDORS

from ..live import VERSION_HEADER, counters_summary, overview_version
from ..presenters import (
    SORTS,
    STRIP_LENGTH,
    Counted,
    PipelineRow,
    account_choices,
    attach_strips,
    counts_by_health,
    eta,
    filtered,
    in_order,
    ordered,
    pipeline_rows,
    with_health,
)
from ..roles import is_operator
from ..timeline import progress_chart

RUNS_PER_PAGE = 20
RECENT_ALERTS = 10
SNAPSHOTS_PER_RUN = 30


def poll_interval(active: bool) -> str:
    """Fast while something runs; otherwise slow, so new runs and failures still appear."""
    seconds = settings.LIVE_REFRESH_SECONDS if active else settings.IDLE_REFRESH_SECONDS
    return f"{seconds:g}s"


OVERVIEW_PAGE_SIZE = 50
FILTER_KEYS = ("vendor", "kind", "health", "account", "team", "q", "sort")


def filter_params(request: HttpRequest) -> dict[str, str]:
    return {k: request.GET.get(k, "").strip() for k in FILTER_KEYS}


def filter_context(params: dict[str, str]) -> dict[str, object]:
    """What the shared filter form (_filters.html) needs, on every page that filters pipelines."""
    return {
        "params": params,
        "filtering": any(params[k] for k in FILTER_KEYS if k != "sort"),
        "vendors": [(name, cls.label) for name, cls in VENDORS.items()],
        "accounts": account_choices(),
    }


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    params = filter_params(request)
    pipelines = filtered(params, request.user)
    counters = counts_by_health(pipelines, params)
    total = sum(counters.values())
    if params["health"] in counters:
        pipelines, total = with_health(pipelines, params["health"]), counters[params["health"]]
    ids = ordered(pipelines, params["sort"]).values_list("pk", flat=True)
    page = Paginator(Counted(ids, total), OVERVIEW_PAGE_SIZE).get_page(request.GET.get("page"))
    shown = in_order(page.object_list)
    version = overview_version(shown, counters, total, now, extra=request.GET.urlencode())
    if request.htmx and request.headers.get(VERSION_HEADER) == version:
        return HttpResponse(status=204)  # nothing shown has changed: no body, no rendering
    rows = pipeline_rows(shown, now)
    attach_strips(rows)
    active = any(row.live for row in rows)
    query = request.GET.copy()
    base = urlencode({k: v for k, v in params.items() if v and k != "health"})
    context = {
        **filter_context(params),
        "rows": rows,
        "page": page,
        "counters": counters,
        "query": query.urlencode(),
        "base_query": base,
        "sorts": SORTS,
        "strip_length": STRIP_LENGTH,
        "poll_every": poll_interval(active),
        "live": active,
        "now": now,
        "has_accounts": _has_accounts(),
        "version": version,
        "summary": counters_summary(counters),
    }
    if request.htmx:
        return render(request, "dashboard/overview.html#live", context)
    context.update(_export_defaults(now), filters=[(k, params[k]) for k in EXPORT_FILTERS if params[k]])
    return render(request, "dashboard/overview.html", context)


EXPORT_FILTERS = ("vendor", "kind", "health", "account", "q")


def _export_defaults(now) -> dict:
    """The export form's period: the last 30 days, today included, in the viewer's zone."""
    today = timezone.localtime(now)
    return {"export_since": today - timedelta(days=DEFAULT_DAYS), "export_until": today}


def _has_accounts() -> bool:
    return Account.objects.exists()


def page_is_live(row: PipelineRow, now: datetime) -> bool:
    """The pipeline page refreshes itself while its row can change soon, while a poll is due
    (one was just asked for: after an operation) and while the vendor reports progress."""
    pipeline = row.pipeline
    due = not pipeline.paused and pipeline.next_poll_at is not None and pipeline.next_poll_at <= now
    return row.live or due or any(f.total for f in vendor_facts(pipeline))


def _get_pipeline(pipeline_uuid: object) -> Pipeline:
    return get_object_or_404(Pipeline.objects.select_related("account", "current_run"), uuid=pipeline_uuid)


@login_required
def pipeline_detail(request: HttpRequest, pipeline_uuid: object) -> HttpResponse:
    now = timezone.now()
    pipeline = _get_pipeline(pipeline_uuid)
    row = pipeline_rows([pipeline], now)[0]
    runs = pipeline.runs.order_by("-sort_at", "-id").prefetch_related(
        Prefetch(
            "snapshots",
            queryset=Snapshot.objects.order_by("-observed_at", "-id")[:SNAPSHOTS_PER_RUN],
            to_attr="recent_snapshots",
        )
    )
    page = Paginator(runs, RUNS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "pipeline": pipeline,
        "row": row,
        "live": page_is_live(row, now),
        "page": page,
        "now": now,
        "poll_every": poll_interval(True),
        "can_operate": is_operator(request.user),
        "mute_choices": MUTE_CHOICES,
    }
    if not request.htmx:  # the alert log and the export form are not part of the polled fragment
        context["teams"] = list(Team.objects.order_by("name"))
        context.update(_export_defaults(now))
        events = pipeline.alert_events.annotate(sent_to=Count("deliveries")).only("at", "kind", "suppressed")
        context["alert_events"] = list(events[:RECENT_ALERTS])
    if request.htmx:
        if not context["live"]:
            # Render once more so the final state shows, and tell htmx to stop polling.
            response = render(request, "dashboard/pipeline.html#live", context)
            response.status_code = HttpResponseStopPolling.status_code
            return response
        return render(request, "dashboard/pipeline.html#live", context)
    return render(request, "dashboard/pipeline.html", context)


ITEMS_PER_PAGE = 100
# A row-level item is a failure when the vendor attached an error to it (Micro "result"
# rows carry one only when the row failed; FullStory sends errors only).
FAILED_ITEM = Q(kind="error") | ~Q(code="") | ~Q(message="")


def _items(run: Run, query: str, errors_only: bool = False):
    """Failures first, then by position; `errors_only` keeps the failures alone."""
    items = run.items.all()
    if query:
        items = items.filter(Q(message__icontains=query) | Q(code__icontains=query))
    if errors_only:
        return items.filter(FAILED_ITEM).order_by("position")
    return items.annotate(ok=Case(When(FAILED_ITEM, then=Value(1)), default=Value(2))).order_by("ok", "position")


def _run_context(run: Run, now) -> dict:
    snapshots = list(run.snapshots.order_by("-observed_at", "-id")[:200])
    return {
        "run": run,
        "pipeline": run.pipeline,
        "snapshots": snapshots,
        "now": now,
        "eta": eta(run, now),
        "chart": progress_chart(snapshots[::-1]),
        "poll_every": poll_interval(True),
    }


@login_required
def run_detail(request: HttpRequest, run_uuid: object) -> HttpResponse:
    run = get_object_or_404(Run.objects.select_related("pipeline__account"), uuid=run_uuid)
    context = _run_context(run, timezone.now())
    context["can_operate"] = is_operator(request.user)
    if request.htmx and request.htmx.target == "run-live":
        response = render(request, "dashboard/run.html#live", context)
        if not run.is_active:  # render the final state once more, then htmx stops polling
            response.status_code = HttpResponseStopPolling.status_code
        return response
    query = request.GET.get("q", "").strip()
    show = request.GET.get("show", "")
    if show not in ("", "errors"):
        return HttpResponseBadRequest("show must be empty or 'errors'")
    matching = _items(run, query, errors_only=show == "errors")
    items = Paginator(matching, ITEMS_PER_PAGE).get_page(request.GET.get("page"))
    filters = urlencode({k: v for k, v in (("q", query), ("show", show)) if v})
    context.update(
        items=items,
        q=query,
        show=show,
        filters=filters,
        failed_items=run.items.filter(FAILED_ITEM).count() if run.items_count else 0,
    )
    return render(request, "dashboard/run.html", context)


@login_required
def run_items_csv(request: HttpRequest, run_uuid: object) -> StreamingHttpResponse:
    """Every row-level error or result of a run, streamed (they can be many)."""
    run = get_object_or_404(Run, uuid=run_uuid)
    writer = SafeWriter()

    def rows():
        yield writer.writerow(["position", "kind", "code", "message", "data"])
        errors_only = request.GET.get("show") == "errors"
        for item in _items(run, request.GET.get("q", "").strip(), errors_only).iterator(chunk_size=2000):
            data = json.dumps(item.data, sort_keys=True, default=str) if item.data is not None else ""
            yield writer.writerow([item.position, item.kind, item.code, item.message, data])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="run-{run.uuid}-items.csv"'
    return response

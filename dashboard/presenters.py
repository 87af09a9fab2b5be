"""What a page row shows about a pipeline, computed once for pages and the API alike.

The overview filters, counts, sorts and paginates in SQL (health as stored after each
poll and tick), shows each visible row's health derived live, and reads the last runs of
the visible page only, in one windowed query: the same queries at 50 or 1,000,000 pipelines,
each bounded by the page (counts kept by the database, orders read from their index)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.db.models import Count, F, Q, QuerySet, Window
from django.db.models.functions import RowNumber
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator

from jobs import health_counts, teams
from jobs.models import Account, Health, Pipeline, Run
from jobs.suppression import Suppression, suppressions
from jobs.vocabulary import HEALTHS, RUNNING, UNKNOWN
from vendors.registry import VENDORS

from .templatetags.pipewatch import count_items

STRIP_LENGTH = 30
ETA_HORIZON = timedelta(days=3)
SORTS = {
    "urgency": "most urgent first",
    "name": "name",
    "success": "last success, oldest first",
    "failure": "last failure, newest first",
}


@dataclass
class PipelineRow:
    pipeline: Pipeline
    health: Health
    run: Run | None
    strip: list[Run | None] = field(default_factory=list)
    strip_html: str = ""
    eta: str = ""
    suppressed: Suppression | None = None  # muted or in a maintenance window: no alerts

    @property
    def live(self) -> bool:
        """Can this row change soon? Then its page keeps polling quickly."""
        return self.health.status == RUNNING or (self.health.status == UNKNOWN and self.pipeline.last_polled_at is None)


def pipeline_rows(pipelines: Iterable[Pipeline], now: datetime) -> list[PipelineRow]:
    pipelines = list(pipelines)
    quiet = suppressions(pipelines, now)  # one query for the whole page
    return [
        PipelineRow(p, p.health(now), p.current_run, eta=eta(p.current_run, now), suppressed=quiet.get(p.pk))
        for p in pipelines
    ]


def import_kinds() -> set[str]:
    return {kind for cls in VENDORS.values() for kind in cls.schema.import_kinds}


def filtered(params: dict[str, str], user: Any = None) -> QuerySet[Pipeline]:
    """The SQL side of the overview's filters, shared by every page that filters pipelines.
    `team` is a team's slug or "mine" (the teams `user` belongs to)."""
    qs = Pipeline.objects.select_related("account", "current_run")
    if params.get("team"):
        qs = teams.filter_pipelines(qs, params["team"], user)
    if params.get("vendor"):
        qs = qs.filter(account__vendor=params["vendor"])
    if params.get("account"):
        qs = qs.filter(account__name=params["account"])
    if params.get("kind") == "import":
        qs = qs.filter(kind__in=import_kinds())
    elif params.get("kind") == "export":
        qs = qs.exclude(kind__in=import_kinds())
    if q := params.get("q", "").strip():
        qs = qs.filter(Q(name__icontains=q) | Q(external_id__icontains=q))
    return qs


# Every order ends in a unique column and has its index (jobs.models.Pipeline.Meta): the page
# is an index range read to its LIMIT, at 50 pipelines or a million (ADR 17).
_ORDERS = {
    "urgency": ("urgency", "sort_name", "id"),
    "name": ("sort_name", "id"),
    "success": (F("last_success_at").asc(nulls_first=True), "id"),
    "failure": (F("last_failure_at").desc(nulls_last=True), "id"),
}
NARROWING = ("team", "vendor", "account", "kind", "q")  # filters that select pipelines (not health, not sort)


def narrowed(params: dict[str, str]) -> bool:
    return any(params.get(k) for k in NARROWING)


def counts_by_health(qs: QuerySet[Pipeline], params: dict[str, str]) -> dict[str, int]:
    """Counter per health (as last stored): every pipeline's from the counts the database
    keeps (jobs.health_counts), a narrowed set's by one GROUP BY over it."""
    if not narrowed(params):
        return health_counts.by_health()
    counters = dict.fromkeys(HEALTHS, 0)
    for status, n in qs.order_by().values_list("health_status").annotate(n=Count("id")):
        counters[status] = counters.get(status, 0) + n
    return counters


def with_health(qs: QuerySet[Pipeline], health: str) -> QuerySet[Pipeline]:
    """Only this health; said as urgency too, so the urgency order's index serves it."""
    return qs.filter(health_status=health, urgency=HEALTHS.index(health))


def ordered(qs: QuerySet[Pipeline], how: str) -> QuerySet[Pipeline]:
    return qs.order_by(*_ORDERS.get(how, _ORDERS["urgency"]))


ACCOUNT_CHOICES = 200  # more accounts than this: the filter is a text box, not a list of every name


def account_choices() -> list[str] | None:
    """The account names a filter offers, or None when there are too many to list (the
    filter then takes a typed name): one bounded query, whatever the number of accounts."""
    names = list(Account.objects.order_by("name").values_list("name", flat=True)[: ACCOUNT_CHOICES + 1])
    return None if len(names) > ACCOUNT_CHOICES else names


class Counted:
    """A queryset whose length is already known (from the counters), for the Paginator: its
    COUNT(*) would read every pipeline again."""

    def __init__(self, qs: QuerySet[Any], total: int) -> None:
        self.qs, self.total = qs, total

    def count(self) -> int:
        return self.total

    def __len__(self) -> int:
        return self.total

    def __getitem__(self, index: slice) -> list[Any]:
        return list(self.qs[index])


def in_order(ids: Iterable[int]) -> list[Pipeline]:
    """One page's pipelines, with their account and current run, in the order of `ids`.

    The page is chosen on the pipeline (and account) columns alone and only then read
    whole: sorting every pipeline joined to its current run before the LIMIT read the
    whole run table (80 ms of the overview at 5,000 pipelines / 100,000 runs)."""
    ids = list(ids)
    found = Pipeline.objects.select_related("account", "current_run", "team", "account__team").in_bulk(ids)
    return [found[pk] for pk in ids if pk in found]


def attach_strips(rows: list[PipelineRow]) -> None:
    """The last runs of each visible row, oldest left and newest right, padded."""
    ids = [r.pipeline.pk for r in rows]
    recent: dict[int, list[Run]] = defaultdict(list)
    if ids:
        runs = (
            Run.objects.filter(pipeline_id__in=ids)
            .annotate(
                rank=Window(
                    RowNumber(), partition_by=[F("pipeline_id")], order_by=[F("sort_at").desc(), F("id").desc()]
                )
            )
            .filter(rank__lte=STRIP_LENGTH)
            .only(
                "uuid",
                "pipeline_id",
                "state",
                "vendor_status",
                "sort_at",
                "started_at",
                "finished_at",
                "counts",
                "error_message",
                "flags",
            )
        )
        for run in runs:
            recent[run.pipeline_id].append(run)
    for row in rows:
        runs = sorted(recent[row.pipeline.pk], key=lambda r: r.sort_at)
        row.strip = [None] * (STRIP_LENGTH - len(runs)) + runs
        row.strip_html = strip_html(row.strip, empty_is_failure=row.pipeline.empty_day_is_failure)


_NO_RUN = '<li><span class="tick tick-none" aria-hidden="true"></span></li>'
_TICK = (
    '<li><a class="tick tick-{}" href="{}" title="{}" data-tick data-when="{}" data-state="{}" data-duration="{}"'
    ' data-counts="{}" data-message="{}"><span class="visually-hidden">{}</span></a></li>'
)


def strip_html(strip: list[Run | None], *, empty_is_failure: bool = False) -> SafeString:
    """A row's strip of last runs, built here and not in the template: 50 rows of
    STRIP_LENGTH ticks, each a URL tag and two date filters, were most of the overview's
    server time. Every value is escaped by `format_html`; times are in the viewer's zone."""
    zero = str(UUID(int=0))
    link = reverse("run", args=[zero])
    parts = []
    for run in strip:
        if run is None:
            parts.append(_NO_RUN)
            continue
        local = timezone.localtime(run.sort_at)
        when = local.strftime("%Y-%m-%d %H:%M")
        error = Truncator(run.error_message).chars(120) if run.error_message else ""
        state, css = run.state, run.state
        if run.is_empty:  # its own mark: a success that loaded nothing is not a plain success
            state = "empty, no data loaded" + (" (counts as a failure here)" if empty_is_failure else "")
            css = "empty tick-empty-failure" if empty_is_failure else "empty"
        title = f"{when} {local.tzname()} · {state}" + (f" · {error}" if error else "")
        hidden = f"{when} {state}" + (f": {error}" if error else "")
        told = state + (f" ({run.vendor_status})" if run.vendor_status else "")
        counts = ", ".join(f"{value} {label}" for label, value in count_items(run.counts))
        parts.append(
            format_html(
                _TICK,
                css,
                link.replace(zero, str(run.uuid)),
                title,
                f"{when} {local.tzname()}",
                told,
                duration(run),
                counts,
                error,
                hidden,
            )
        )
    return mark_safe("".join(parts))  # every part is a constant or came through format_html


def duration(run: Run, now: datetime | None = None) -> str:
    """How long a run took (or has been running), e.g. "4 min 10 s"; "" when it never started."""
    if not run.started_at:
        return ""
    end = run.finished_at or (now or timezone.now())
    seconds = max(0, int((end - run.started_at).total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours} h {minutes} min" if hours else (f"{minutes} min {secs} s" if minutes else f"{secs} s")
    return text + ("" if run.finished_at else " so far")


def eta(run: Run | None, now: datetime) -> str:
    """Time left at the observed rate: progress so far over time since the start."""
    if run is None or run.state != RUNNING or run.progress is None or not run.started_at:
        return ""
    if not 0.02 <= run.progress <= 0.99:
        return ""
    elapsed = (now - run.started_at).total_seconds()
    if elapsed <= 0:
        return ""
    left = timedelta(seconds=elapsed * (1 - run.progress) / run.progress)
    if left > ETA_HORIZON:
        return ""  # a rate that slow (or a start long before we watched) predicts nothing useful
    minutes = round(left.total_seconds() / 60)
    if minutes < 1:
        return "under a minute left"
    if minutes < 90:
        return f"~{minutes} min left"
    return f"~{minutes / 60:.1f} h left"

"""Everything that needs a human, derived from pipelines and accounts: failed and partial
runs, stuck runs, late pipelines, accounts we cannot poll. Nothing here is stored except
acknowledgements, which attach to an incident's identity (what, and since when)."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from vendors import base as vb
from vendors.registry import VENDORS

from . import health_counts
from .health import account_condition, condition
from .models import TROUBLED, Account, Acknowledgement, Pipeline, day_label
from .suppression import Suppression, suppressions
from .vocabulary import CONDITION_OF, FAILING, HEALTH_OF, UNKNOWN, Condition, meaning

GZIP_HINT = "Compression setting mismatch: set the connector's compression to gzip (or upload uncompressed files)."


def hint_for(kind: str, message: str = "", pipeline: Pipeline | None = None) -> str:
    cls = VENDORS.get(pipeline.account.vendor) if pipeline else None
    vendor_hints = cls.hints if cls else {}
    if hint := vendor_hints.get((pipeline.kind, kind)) if pipeline else None:
        return hint
    if "gzip" in message.lower() or "compression" in message.lower():
        return GZIP_HINT
    return meaning(kind).hint


@dataclass
class Incident:
    id: str
    what: Condition
    since: datetime | None
    vendor: str
    account: Account
    pipeline: Pipeline | None
    message: str
    code: str
    error_kind: str
    hint: str
    missing: list[str] = field(default_factory=list)  # days that failed and have not landed
    ack: Acknowledgement | None = None
    suppressed: Suppression | None = None  # muted or in maintenance: set by pages that show it

    @property
    def missing_labels(self) -> list[str]:
        return [day_label(key) for key in self.missing]

    @property
    def whose(self) -> str:
        return meaning(self.error_kind).whose

    @property
    def health(self) -> str:
        """The health this incident comes from: its colour on the pages."""
        return HEALTH_OF[self.what]

    @property
    def snoozed(self) -> bool:
        return bool(self.ack and self.ack.snoozed_until and self.ack.snoozed_until > timezone.now())


def _stamp(value: datetime | None) -> str:
    return str(int(value.timestamp())) if value else "0"


def _account_incidents(scope: QuerySet[Account] | None = None) -> tuple[list[Incident], set[int]]:
    found: list[Incident] = []
    unpollable: set[int] = set()
    for account in (scope if scope is not None else Account.objects.all()).exclude(poll_error_kind=""):
        if what := account_condition(account):
            unpollable.add(account.pk)
            found.append(
                Incident(
                    id=f"account-{account.uuid}-{account.poll_error_kind}-{_stamp(account.poll_error_since)}",
                    what=what,
                    since=account.poll_error_since,
                    vendor=account.vendor_label,
                    account=account,
                    pipeline=None,
                    message=account.poll_error_message,
                    code=str(account.poll_error_status or ""),
                    error_kind=account.poll_error_kind,
                    hint=hint_for(account.poll_error_kind, account.poll_error_message),
                )
            )
    return found, unpollable


# In trouble by stored health, and not merely waiting for a first poll (unknown, no error).
_LISTED = Q(paused=False, health_status__in=TROUBLED, urgency__lt=len(TROUBLED)) & ~Q(
    health_status=UNKNOWN, poll_error_kind=""
)


def _candidates(unpollable: set[int], scope: QuerySet[Pipeline] | None = None) -> QuerySet[Pipeline]:
    """Pipelines in trouble by stored health (rewritten after every poll and every alert
    scan), confirmed live per row: pages read these, not every pipeline. A pipeline of an
    account we cannot poll is left out: one incident for the account says it all. (Urgency
    says "troubled" again for pipeline_incident_idx, which orders the list.)"""
    return (
        (scope if scope is not None else Pipeline.objects.all())
        .select_related("account", "current_run", "team", "account__team")
        .defer("current_run__raw")
        .filter(_LISTED)
        .exclude(account__in=unpollable)
    )


def _listed_counts(left_out: Q | None) -> Counter[str]:
    """The candidates of every account counted by health, from the counts the database keeps
    (jobs.health_counts) less those `left_out` matches: a few rows and one bounded query."""
    counts: Counter[str] = Counter()
    for (health, paused, erring), n in health_counts.counts().items():
        if health in TROUBLED and not paused and (health != UNKNOWN or erring):
            counts[health] += n
    if left_out is not None:
        gone = Pipeline.objects.filter(_LISTED & left_out).order_by().values_list("health_status")
        counts.subtract(dict(gone.annotate(n=Count("id"))))
    return Counter({h: max(0, n) for h, n in counts.items()})  # a row moved between the two reads


_ORDER = [c.value for c in Condition]  # ties: one fixed order


def _pipeline_incident(pipeline: Pipeline, now: datetime) -> Incident | None:
    health = pipeline.health(now)
    what = condition(pipeline, health)
    run = pipeline.current_run
    missing = sorted(pipeline.missing_days)
    if what is None or (health.status == UNKNOWN and not pipeline.poll_error_kind):
        return None  # fine, or the account's trouble: its own incident says it
    if health.status == FAILING and run is not None and run.state == vb.FAILED:
        kind, message, code = run.error_kind or vb.ErrorKind.VENDOR, run.error_message or health.reason, run.error_code
    elif health.status == FAILING and missing:
        first = pipeline.missing_days[missing[0]]  # the oldest day that has not landed
        kind, code = first.get("kind") or vb.ErrorKind.VENDOR, first.get("code", "")
        message = f"{health.reason}. {day_label(missing[0])}: {first.get('message', '')}"
    elif health.status == FAILING and run is not None and run.is_empty:  # empty counts as failed here
        kind, message, code = vb.ErrorKind.EMPTY, health.reason, run.vendor_status
    elif health.status == FAILING:
        return None
    elif health.status == UNKNOWN:
        kind, message, code = pipeline.poll_error_kind, pipeline.poll_error_message, ""
    else:  # stuck or late: the condition is its kind
        kind, message, code = what, health.reason, ""
    # One `since` for pages, API and alerts: stored with health (jobs.health.derive).
    since = pipeline.incident_since
    return Incident(
        id=f"pipeline-{pipeline.uuid}-{what}-{_stamp(since)}",
        what=what,
        since=since,
        vendor=pipeline.account.vendor_label,
        account=pipeline.account,
        pipeline=pipeline,
        message=message,
        code=code,
        error_kind=kind,
        hint=hint_for(kind, message, pipeline),
        missing=missing,
    )


def attach_suppressions(found: list[Incident], now: datetime) -> None:
    """Mark incidents whose pipeline is muted or in maintenance (one query for the page)."""
    quiet = suppressions([i.pipeline for i in found if i.pipeline is not None], now)
    for incident in found:
        incident.suppressed = quiet.get(incident.pipeline.pk) if incident.pipeline is not None else None


def _attach_acks(found: list[Incident]) -> None:
    acks = {
        a.incident: a for a in Acknowledgement.objects.select_related("by").filter(incident__in=[i.id for i in found])
    }
    for incident in found:
        incident.ack = acks.get(incident.id)


def _newest_first(found: list[Incident], now: datetime) -> list[Incident]:
    far_past = datetime.min.replace(tzinfo=now.tzinfo)
    return sorted(found, key=lambda i: i.since or far_past, reverse=True)


def find_incident(incident_id: str, now: datetime | None = None) -> Incident | None:
    """The open incident with this id (`account-<uuid>-...` or `pipeline-<uuid>-...`), read
    by its one account or pipeline; None when there is none (it may have recovered)."""
    now = now or timezone.now()
    kind, _, rest = incident_id.partition("-")
    key = rest[:36]
    try:
        uuid.UUID(key)
    except ValueError:
        return None
    if kind == "account":
        found, _ = _account_incidents(Account.objects.filter(uuid=key))
    elif kind == "pipeline":
        found, unpollable = _account_incidents(Account.objects.filter(pipelines__uuid=key))
        found = [i for p in _candidates(unpollable).filter(uuid=key) if (i := _pipeline_incident(p, now))]
    else:
        return None
    found = [i for i in found if i.id == incident_id]
    _attach_acks(found)
    return found[0] if found else None


def incidents(now: datetime | None = None) -> list[Incident]:
    """Every open incident, newest first: all of them read (tests, tools); pages page through IncidentList."""
    now = now or timezone.now()
    found, unpollable = _account_incidents()
    found += [i for p in _candidates(unpollable) if (i := _pipeline_incident(p, now))]
    _attach_acks(found)
    return _newest_first(found, now)


class IncidentList:
    """The open incidents as a sliceable sequence for Django's Paginator and the API: its
    length, its counts by kind and any page cost a fixed number of queries, whatever the
    number of pipelines in trouble (a vendor outage fails hundreds at once)."""

    def __init__(
        self,
        now: datetime | None = None,
        *,
        show_snoozed: bool = False,
        pipelines: QuerySet[Pipeline] | None = None,
        accounts: QuerySet[Account] | None = None,
        acknowledged: bool | None = None,
    ) -> None:
        """`pipelines` and `accounts` narrow the list (a page's filters); `acknowledged`
        keeps only incidents someone acknowledged (True) or no one did (False)."""
        self.now = now or timezone.now()
        found, unpollable = _account_incidents(accounts)
        _attach_acks(found)
        if acknowledged is not None:
            found = [a for a in found if (a.ack is not None) == acknowledged]
        self.accounts = [a for a in found if show_snoozed or not a.snoozed]
        self.pipelines = _candidates(unpollable, pipelines)
        # Every pipeline, all acknowledgements alike: totals from the kept counts less the few left out.
        kept_counts = pipelines is None and accounts is None and acknowledged is not True
        left_out: set[int] = set()
        if acknowledged is not None:
            acked = self._acked_pipelines(snoozed_only=False)
            self.pipelines = (
                self.pipelines.filter(pk__in=acked) if acknowledged else self.pipelines.exclude(pk__in=acked)
            )
            left_out |= acked
        snoozed = self._acked_pipelines(snoozed_only=True)
        self.hidden = len(found) - len(self.accounts)
        if not show_snoozed and snoozed:
            self.pipelines = self.pipelines.exclude(pk__in=snoozed)
            self.hidden += len(snoozed)
            left_out |= snoozed
        if kept_counts:
            parts = [Q(account__in=unpollable)] if unpollable else []
            parts += [Q(pk__in=left_out)] if left_out else []
            by_health = _listed_counts(Q(*parts, _connector=Q.OR) if parts else None)
        else:
            by_health = Counter(dict(self.pipelines.order_by().values_list("health_status").annotate(n=Count("id"))))
        counts = Counter({CONDITION_OF[h].value: n for h, n in by_health.items()})
        counts.update(str(a.what) for a in self.accounts)
        # Most first; ties in one fixed order, whichever way they were counted.
        self.by_what = sorted(((w, n) for w, n in counts.items() if n), key=lambda p: (-p[1], _ORDER.index(p[0])))
        self.total = sum(counts.values())

    def _acked_pipelines(self, *, snoozed_only: bool) -> set[int]:
        """Pipelines whose open incident is acknowledged (and still snoozed, if asked)."""
        acks = Acknowledgement.objects.filter(incident__startswith="pipeline-")
        if snoozed_only:
            acks = acks.filter(snoozed_until__gt=self.now)
        ids = set(acks.values_list("incident", flat=True))
        uuids = {i.removeprefix("pipeline-")[:36] for i in ids}
        if not uuids:
            return set()
        return {
            p.pk
            for p in self.pipelines.filter(uuid__in=uuids)
            if (i := _pipeline_incident(p, self.now)) is not None and i.id in ids
        }

    def newest_first(self) -> QuerySet[Pipeline]:
        """The listed pipelines, newest incident first: read from pipeline_incident_idx."""
        return self.pipelines.order_by(F("incident_since").desc(nulls_last=True), "-id")

    def count(self) -> int:
        return self.total

    def __len__(self) -> int:
        return self.total

    def __getitem__(self, index: slice) -> list[Incident]:
        start, stop = index.start or 0, index.stop if index.stop is not None else self.total
        rows = [i for p in self.newest_first()[:stop] if (i := _pipeline_incident(p, self.now))]
        page = _newest_first(self.accounts + rows, self.now)[start:stop]
        _attach_acks([i for i in page if i.pipeline is not None])
        return page

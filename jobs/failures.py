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
from .models import EMPTY, FAILING, LATE, STUCK, TROUBLED, UNKNOWN, Account, Acknowledgement, Pipeline, day_label
from .suppression import Suppression, suppressions

# What our error kinds mean for "whose problem is it?"
OURS_OR_THEIRS = {
    "auth": "ours: credentials",
    "config": "ours: configuration",
    "query": "ours: the query",
    "rate_limit": "ours: request volume",
    "rate_limited": "ours: request volume",
    "timeout": "theirs: timed out",
    "vendor": "theirs: vendor error",
    "transient": "theirs: vendor unreachable",
    "bad_response": "theirs: unreadable reply",
    "not_found": "ours: unknown id",
    "internal": "ours: Pipewatch itself",
    "empty": "theirs or the source's: no data",
}

HINTS = {
    "auth": "Check the account's credentials and the service account's role (Admin or Owner for Mixpanel).",
    "config": "Fix the pipeline's settings at the vendor (compression, format, bucket, prefix).",
    "query": "Check the SQL or query the vendor runs against your warehouse.",
    "rate_limited": "Too many requests: we back off and obey Retry-After; lower the poll rate if it persists.",
    "rate_limit": "Too many requests: we back off and obey Retry-After.",
    "timeout": "The vendor timed out; it usually retries by itself. Check again after the next window.",
    "vendor": "A vendor-side error; usually retried by the vendor. Contact their support if it repeats.",
    "transient": "The vendor is unreachable or failing (5xx). We retry with backoff.",
    "bad_response": "The vendor replied with something we cannot read; it may be an outage page.",
    "not_found": "The vendor does not know this id: it was deleted, expired, or the id is wrong.",
    "stuck": "Running without progress: check the vendor's console; cancel and restart if it is wedged.",
    "late": "No success within the expected interval: check the schedule at the vendor.",
    "empty": "The day loaded no rows: check that the source had data for it (empty days count as failures here).",
}

GZIP_HINT = "Compression setting mismatch: set the connector's compression to gzip (or upload uncompressed files)."


def hint_for(kind: str, message: str = "", pipeline: Pipeline | None = None) -> str:
    cls = VENDORS.get(pipeline.account.vendor) if pipeline else None
    vendor_hints = cls.hints if cls else {}
    if hint := vendor_hints.get((pipeline.kind, kind)) if pipeline else None:
        return hint
    if "gzip" in message.lower() or "compression" in message.lower():
        return GZIP_HINT
    return HINTS.get(kind, "")


@dataclass
class Incident:
    id: str
    what: str  # failed | partial | stuck | late | unpollable
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
        return OURS_OR_THEIRS.get(self.error_kind, "unknown")

    @property
    def snoozed(self) -> bool:
        return bool(self.ack and self.ack.snoozed_until and self.ack.snoozed_until > timezone.now())


def _stamp(value: datetime | None) -> str:
    return str(int(value.timestamp())) if value else "0"


def _account_incidents(scope: QuerySet[Account] | None = None) -> tuple[list[Incident], set[int]]:
    found: list[Incident] = []
    unpollable: set[int] = set()
    for account in (scope if scope is not None else Account.objects.all()).exclude(poll_error_kind=""):
        if account.poll_problem():
            unpollable.add(account.pk)
            found.append(
                Incident(
                    id=f"account-{account.uuid}-{account.poll_error_kind}-{_stamp(account.poll_error_since)}",
                    what="unpollable",
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


WHAT = {FAILING: "failed", STUCK: "stuck", LATE: "late", UNKNOWN: "unpollable"}
_ORDER = list(WHAT.values())


def _pipeline_incident(pipeline: Pipeline, now: datetime) -> Incident | None:
    health = pipeline.health(now)
    run = pipeline.current_run
    missing = sorted(pipeline.missing_days)
    if health.status == FAILING and run is not None and run.state == vb.FAILED:
        what = "partial" if "partial" in run.flags else "failed"
        kind, message, code = run.error_kind or "vendor", run.error_message or health.reason, run.error_code
    elif health.status == FAILING and missing:
        first = pipeline.missing_days[missing[0]]  # the oldest day that has not landed
        what, kind, code = "failed", first.get("kind") or "vendor", first.get("code", "")
        message = f"{health.reason}. {day_label(missing[0])}: {first.get('message', '')}"
    elif health.status == FAILING and run is not None and run.is_empty:  # empty counts as failed here
        what, kind, message, code = "failed", EMPTY, health.reason, run.vendor_status
    elif health.status in (STUCK, LATE):
        what, kind, message, code = health.status, health.status, health.reason, ""
    elif health.status == UNKNOWN and pipeline.poll_error_kind:
        what, kind, message, code = "unpollable", pipeline.poll_error_kind, pipeline.poll_error_message, ""
    else:
        return None
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
        counts = Counter({WHAT[h]: n for h, n in by_health.items()})
        counts["unpollable"] += len(self.accounts)
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

"""The poll path: one account, its due pipelines, one vendor call each, rows on change.

Vendor failures are data: they become a `PollAttempt`, the account's poll health and a
backoff, and never touch earlier runs or snapshots. Only our own bugs raise.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from vendors import base as vb
from vendors.adapter import DISCOVER
from vendors.client import VendorClient
from vendors.http import HttpSettings, guarded
from vendors.registry import client_for, vendor_class

from . import health, ratelimit, scheduling
from .bulk import update_fields
from .egress import base_url_problem
from .leases import Lease, LeaseLost
from .models import Account, Pipeline, PollAttempt, Run
from .recording import KnownRuns, RecordStats, existing_runs, mark_gone, record_observations
from .scrubbing import ScrubbedClient, Scrubber

log = logging.getLogger(__name__)

# What a poll of known runs writes on its pipeline (one statement for the account's batch).
KNOWN_FIELDS = [
    "current_run",
    "last_success_at",
    "last_failure_at",
    "last_failure_message",
    "missing_days",
    "missing_since",
    "vendor_info",
    "poll_error_kind",
    "poll_error_message",
    "last_polled_at",
    "next_poll_at",
]

EXTERNAL_ID_MAX = Pipeline._meta.get_field("external_id").max_length


@dataclass
class PollSummary:
    account: str
    outcome: str = "ok"  # ok | idle | busy | lost | <error kind> | internal
    message: str = ""
    pipelines: int = 0
    discovered: int = 0
    stats: RecordStats = field(default_factory=RecordStats)
    duration_ms: int = 0

    def line(self) -> str:
        if self.outcome in ("idle", "busy", "lost"):
            return f"{self.account}: {self.outcome} ({self.message})"
        s = self.stats
        text = (
            f"{self.account}: {self.outcome}, {self.pipelines} pipeline(s), "
            f"{s.runs_created} new run(s), {s.runs_changed} changed, {s.snapshots} snapshot(s) "
            f"in {self.duration_ms} ms"
        )
        if self.discovered:
            text += f", {self.discovered} discovered"
        return f"{text}: {self.message}" if self.message else text


def http_settings() -> HttpSettings:
    return HttpSettings(
        connect_timeout=settings.VENDOR_CONNECT_TIMEOUT,
        read_timeout=settings.VENDOR_READ_TIMEOUT,
        total_timeout=settings.VENDOR_TOTAL_TIMEOUT,
        max_bytes=settings.VENDOR_MAX_RESPONSE_BYTES,
        retries=settings.VENDOR_HTTP_RETRIES,
    )


# One client (and so one requests.Session with warm connections) per account per process.
_clients: dict[int, tuple[str, VendorClient]] = {}


def client_for_account(account: Account) -> VendorClient:
    """The account's vendor client, seen through its scrubber: nothing it answers or raises
    carries a fragment of the account's credentials (the only way jobs/ reaches a vendor)."""
    config = account.config()
    digest = hashlib.sha256(
        json.dumps(
            [
                config.vendor,
                config.region,
                config.base_url,
                config.settings,
                config.credentials,
                http_settings().__dict__,
            ],
            sort_keys=True,
            default=str,
        ).encode()
    ).hexdigest()
    cached = _clients.get(account.pk)
    if cached and cached[0] == digest:
        return cached[1]
    if cached:
        cached[1].close()
    limits = vendor_class(config.vendor).rate_limits
    raw = client_for(config, http_settings(), ratelimit.limiter(f"{account.pk}", limits))
    client = cast(VendorClient, ScrubbedClient(raw, Scrubber.for_credentials(config.credentials)))
    _clients[account.pk] = (digest, client)
    return client


def poll_account(
    account: Account, *, only_due: bool = True, now: datetime | None = None, lease: Lease | None = None
) -> PollSummary:
    """Poll an account whose lease the caller holds. With `lease`, the poll stops asking
    the vendor in time and writes only while the lease is its own (else `LeaseLost`)."""
    now = now or timezone.now()
    fenced: Callable[[], AbstractContextManager[object]] = lease.fenced if lease else transaction.atomic
    summary = PollSummary(account=account.name)
    error_before = account.poll_error_kind  # a change of it may change every pipeline's alert
    pipelines = list(
        account.pipelines.filter(paused=False, **({"next_poll_at__lte": now} if only_due else {}))
        .select_related("current_run")
        .order_by("next_poll_at")
    )
    client_cls = vendor_class_or_none(account.vendor)
    discovery_due = account.next_discovery_at is None or account.next_discovery_at <= now
    discover = bool(client_cls and DISCOVER in client_cls.capabilities and (discovery_due or not only_due))
    if not pipelines and not discover:
        summary.outcome, summary.message = "idle", "nothing due"
        return summary
    summary.pipelines = len(pipelines)
    if problem := base_url_problem(account.vendor, account.base_url):
        # The allow-list changed under an existing account: refuse to send, say why.
        summary.outcome, summary.message = "rejected", f"base URL refused: {problem}"
        with fenced():
            _record_account(account, now, summary, error=("rejected", summary.message, None, None))
            health.store(pipelines, now, recheck=_error_moved(account, error_before, now))
        return summary
    targets = _targets(account, pipelines)
    started = time.monotonic()
    try:
        client = client_for_account(account)
        with guarded(lease.guard if lease else None):
            results = client.poll(targets, discover=discover)
    except Exception as exc:  # our bug, or undecryptable credentials: record, then re-raise
        summary.duration_ms = int((time.monotonic() - started) * 1000)
        with suppress(LeaseLost), fenced():  # the bug is raised either way
            _record_account(account, now, summary, error=("internal", f"{type(exc).__name__}: {exc}", None, None))
            _error_moved(account, error_before, now)
        raise
    summary.duration_ms = int((time.monotonic() - started) * 1000)

    by_key = {p.target().key: p for p in pipelines}
    touched: list[Pipeline] = list(pipelines)
    account_error: vb.VendorError | None = None
    first_target_error: vb.VendorError | None = None
    cut: vb.OutOfTime | None = None  # the poll's time ran out: the rest stays due
    # Most polls only see runs we already hold move on (or not): their runs are read for
    # all pipelines in one query and their writes batched (`KnownRuns`), one transaction
    # for the account instead of one per pipeline.
    existing = existing_runs(
        pipelines,
        {by_key[r.target.key].pk: r.observations for r in results if r.error is None and r.target.key in by_key},
    )
    known = KnownRuns(now)
    for result in results:
        if isinstance(result.error, vb.OutOfTime):
            cut = result.error
            break
        if result.error is not None and result.error.account_wide:
            account_error = result.error
            break
        pipeline = by_key.get(result.target.key)
        scheduled = pipeline is not None  # polled because it was due, not only listed
        simple = pipeline is not None and result.error is None and not result.gone
        if simple and known.add(pipeline, result.observations, existing[pipeline.pk]):
            if result.info is not None:
                pipeline.vendor_info = {**pipeline.vendor_info, **result.info}
            pipeline.poll_error_kind = pipeline.poll_error_message = ""
            pipeline.last_polled_at = now
            pipeline.next_poll_at = scheduling.next_pipeline_poll(pipeline, now)
            continue
        if pipeline is None:
            if result.error is not None or not result.target.external_id:
                continue
            if len(result.target.external_id) > EXTERNAL_ID_MAX:
                # Cannot be stored, and a digest would not do: we must send the id back.
                first_target_error = first_target_error or vb.BadResponse(
                    f"the vendor listed a pipeline ({result.target.kind}) whose id is"
                    f" {len(result.target.external_id):,} characters long (at most {EXTERNAL_ID_MAX} are kept):"
                    " not tracked"
                )
                continue
        with fenced():
            if pipeline is None:
                pipeline, created = _discovered(account, result, now)
                if pipeline is None:
                    continue  # known but paused: monitoring was stopped on purpose
                summary.discovered += created
                touched.append(pipeline)
                # A new pipeline listed without its runs (nessie) stays due: polled next tick.
                scheduled = created and bool(result.observations)
            fields = ["current_run", "last_success_at", "last_failure_at", "last_failure_message", "vendor_info"]
            fields += ["missing_days", "missing_since"]
            if result.error is not None:
                first_target_error = first_target_error or result.error
                _record_target_error(pipeline, result.error, now)
            else:
                _add(summary.stats, record_observations(pipeline, result.observations, now, existing.get(pipeline.pk)))
                if result.gone:
                    mark_gone(pipeline, result.gone, now)
                if result.info is not None:
                    pipeline.vendor_info = {**pipeline.vendor_info, **result.info}
                pipeline.poll_error_kind = pipeline.poll_error_message = ""
            if scheduled:
                pipeline.last_polled_at = now
                pipeline.next_poll_at = scheduling.next_pipeline_poll(pipeline, now)
                fields += ["poll_error_kind", "poll_error_message", "last_polled_at", "next_poll_at"]
            pipeline.save(update_fields=fields)
    # The batch of known runs, the attempt, the account and health: one commit.
    with fenced():
        if known.pipelines:
            known.write()
            update_fields(known.pipelines, KNOWN_FIELDS)
            _add(summary.stats, known.stats)
        if account_error is not None:
            err = account_error
            summary.outcome, summary.message = err.kind, str(err)
            _record_account(account, now, summary, error=(err.kind, str(err), err.http_status, err.retry_after))
        else:
            if cut is not None:
                left = sum(1 for p in pipelines if p.last_polled_at != now)
                cut = vb.OutOfTime(f"{cut.message}: {left} of {len(pipelines)} pipeline(s) left for the next poll")
            if reported := cut or first_target_error:
                summary.message = f"{reported.kind}: {reported}"
            if discover and cut is None:
                account.next_discovery_at = now + scheduling.jitter(settings.DISCOVERY_SECONDS)
            _record_account(account, now, summary, error=None, target_error=reported)
        for pipeline in touched:
            pipeline.account = account  # as just recorded: its poll problem decides "unknown"
        health.store(touched, now, recheck=_error_moved(account, error_before, now))
    return summary


def _error_moved(account: Account, before: str, now: datetime) -> bool:
    """The account's poll error changed kind: every pipeline of it, polled now or not, gets
    a look from the next alert scan (credentials broken or fixed is an alert)."""
    if account.poll_error_kind == before:
        return False
    Pipeline.objects.filter(account=account).update(next_check_at=now)
    return True


def vendor_class_or_none(vendor: str) -> type[VendorClient] | None:
    try:
        return vendor_class(vendor)
    except KeyError:
        return None


def _targets(account: Account, pipelines: list[Pipeline]) -> list[vb.Target]:
    """Targets for the vendor; kinds that ask for them (one-shot jobs, PostHog intervals)
    carry the keys of their open runs."""
    cls = vendor_class_or_none(account.vendor)
    one_shot = {p.pk for p in pipelines if cls and cls.asks_open_runs(p.kind)}
    open_runs: dict[int, list[str]] = {pk: [] for pk in one_shot}
    if one_shot:
        rows = Run.objects.filter(pipeline_id__in=one_shot, closed=False).values_list("pipeline_id", "external_id")
        for pipeline_id, key in rows:
            open_runs[pipeline_id].append(key)
    return [p.target(tuple(sorted(open_runs.get(p.pk, ())))) for p in pipelines]


def _discovered(account: Account, result: vb.TargetResult, now: datetime) -> tuple[Pipeline | None, bool]:
    """A pipeline the vendor listed: start tracking it, or use the one we track (not
    paused) that simply was not due. Returns (pipeline or None, created)."""
    pipeline, created = Pipeline.objects.select_related("current_run").get_or_create(
        account=account,
        kind=result.target.kind,
        external_id=result.target.external_id,
        defaults={"name": result.name[:200], "source": "discovered"},
    )
    if pipeline.paused:
        return None, False
    return pipeline, created


def _record_target_error(pipeline: Pipeline, error: vb.VendorError, now: datetime) -> None:
    if isinstance(error, vb.NotFound) and not isinstance(error, vb.RemovedApi):
        message = f"The vendor does not know {pipeline.kind} {pipeline.external_id!r} ({error})"
    else:
        message = str(error)
    pipeline.poll_error_kind = error.kind
    pipeline.poll_error_message = message


def _record_account(
    account: Account,
    now: datetime,
    summary: PollSummary,
    *,
    error: tuple[str, str, int | None, float | None] | None,
    target_error: vb.VendorError | None = None,
) -> None:
    fields = [
        "last_poll_at",
        "next_discovery_at",
        "poll_error_kind",
        "poll_error_message",
        "poll_error_status",
        "poll_error_since",
        "consecutive_errors",
        "backoff_until",
        "last_poll_ok_at",
    ]
    account.last_poll_at = now
    if error is None:
        account.last_poll_ok_at = now
        account.poll_error_kind = account.poll_error_message = ""
        account.poll_error_status = account.poll_error_since = None
        account.consecutive_errors = 0
        account.backoff_until = None
        outcome = target_error.kind if target_error else "ok"
        PollAttempt.objects.create(
            account=account,
            at=now,
            duration_ms=summary.duration_ms,
            outcome=outcome,
            targets=summary.pipelines,
            http_status=target_error.http_status if target_error else None,
            message=str(target_error) if target_error else "",
        )
    else:
        kind, message, status, retry_after = error
        if account.poll_error_kind != kind:
            account.poll_error_since = now
        account.poll_error_kind, account.poll_error_message = kind, message
        account.poll_error_status = status
        account.consecutive_errors += 1
        delay = scheduling.error_backoff(account.consecutive_errors, retry_after)
        account.backoff_until = now + timedelta(seconds=delay)
        PollAttempt.objects.create(
            account=account,
            at=now,
            duration_ms=summary.duration_ms,
            outcome=kind,
            targets=summary.pipelines,
            http_status=status,
            retry_after=retry_after,
            message=message,
        )
        log.warning("poll %s failed (%s), next try in %.0f s: %s", account.name, kind, delay, message)
    account.save(update_fields=fields)


def _add(total: RecordStats, part: RecordStats) -> None:
    total.runs_created += part.runs_created
    total.runs_changed += part.runs_changed
    total.snapshots += part.snapshots
    total.state_changes += part.state_changes


def poll_claimed(account_id: int, token: uuid.UUID | str, *, only_due: bool = True) -> PollSummary | None:
    """Poll under a lease taken by `scheduling.claim`, kept while polling (`leases`). A
    stale token does nothing (None); a lease lost mid-poll writes nothing ("lost")."""
    token = uuid.UUID(str(token))
    lease = Lease(account_id, token)
    if not lease.take():
        return None
    account = Account.objects.filter(pk=account_id, lease_token=token).first()
    if account is None:
        return None
    try:
        with lease:
            return poll_account(account, only_due=only_due, lease=lease)
    except LeaseLost as exc:
        log.warning("poll %s: %s", account.name, exc)
        return PollSummary(account=account.name, outcome="lost", message=str(exc))
    finally:
        scheduling.release(account_id, token)


def poll_now(account: Account) -> PollSummary:
    """`manage.py poll` and "poll now": everything, at once, unless a worker holds the lease."""
    token = scheduling.claim(account.pk, timezone.now(), ignore_backoff=True)
    if token is None:
        return PollSummary(account=account.name, outcome="busy", message="a worker is polling it right now")
    summary = poll_claimed(account.pk, token, only_due=False)
    assert summary is not None  # we hold the lease we just took
    return summary

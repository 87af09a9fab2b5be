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
from contextlib import suppress
from datetime import datetime
from typing import cast

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone

from vendors import base as vb
from vendors.adapter import DISCOVER
from vendors.client import VendorClient
from vendors.http import HttpSettings, guarded
from vendors.registry import client_for, vendor_class

from . import ratelimit, scheduling
from .bulk import Columns
from .egress import base_url_problem
from .leases import Lease, LeaseLost
from .models import Account, Pipeline, Run
from .scrubbing import ScrubbedClient, Scrubber
from .writer import PollerBug, PollOutcome, PollSummary, write

__all__ = ["PollSummary", "poll_account", "poll_claimed", "poll_now"]  # PollSummary: its callers know it from here

log = logging.getLogger(__name__)


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
    # The credentials as stored (encrypted): decrypted only when a client is made.
    identity = [account.vendor, account.region, account.base_url, account.settings, account.credentials_token]
    digest = hashlib.sha256(
        json.dumps([*identity, http_settings().__dict__], sort_keys=True, default=str).encode()
    ).hexdigest()
    cached = _clients.get(account.pk)
    if cached and cached[0] == digest:
        return cached[1]
    if cached:
        cached[1].close()
    config = account.config()
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
    pipelines = pipelines_to_poll(account, now, only_due)
    client_cls = vendor_class_or_none(account.vendor)
    discovery_due = account.next_discovery_at is None or account.next_discovery_at <= now
    discover = bool(client_cls and DISCOVER in client_cls.capabilities and (discovery_due or not only_due))
    if not pipelines and not discover:
        return PollSummary(account=account.name, outcome="idle", message="nothing due")
    outcome = PollOutcome(account, now, pipelines, listed=discover)
    if problem := base_url_problem(account.vendor, account.base_url):
        # The allow-list changed under an existing account: refuse to send, say why.
        outcome.error = vb.Rejected(f"base URL refused: {problem}")
        return write(outcome, lease)
    targets = _targets(account, pipelines)
    started = time.monotonic()
    try:
        client = client_for_account(account)
        with guarded(lease.guard if lease else None):
            results = client.poll(targets, discover=discover)
    except Exception as exc:  # our bug, or undecryptable credentials: record, then re-raise
        outcome.duration_ms = int((time.monotonic() - started) * 1000)
        outcome.error = PollerBug(f"{type(exc).__name__}: {exc}")
        with suppress(LeaseLost):  # the bug is raised either way
            write(outcome, lease)
        raise
    outcome.duration_ms = int((time.monotonic() - started) * 1000)
    for result in results:  # the client stops at the first account-wide error
        if isinstance(result.error, vb.OutOfTime):
            outcome.cut = result.error
            break
        if result.error is not None and result.error.account_wide:
            outcome.error = result.error
            break
        outcome.results.append(result)
    return write(outcome, lease)


# A poll's pipelines with their current runs: not their config (a poll never reads it) nor
# the run's raw payload (the heaviest column), in plain SQL (`bulk`: compiled once).
PIPELINE, CURRENT_RUN = Columns.of(Pipeline, ("config",)), Columns.of(Run, ("raw",))
PIPELINES_SQL = (
    f"SELECT {PIPELINE.sql('p')}, {CURRENT_RUN.sql('r')} FROM jobs_pipeline p"
    " LEFT JOIN jobs_run r ON r.id = p.current_run_id WHERE p.account_id = %s AND NOT p.paused"
)


def pipelines_to_poll(account: Account, now: datetime, only_due: bool) -> list[Pipeline]:
    """The account's unpaused pipelines (due ones, or all), most overdue first, with their
    account and current run loaded."""
    db = connections[DEFAULT_DB_ALIAS]  # the connection itself, not the proxy: read per row below
    sql, params = PIPELINES_SQL, [account.pk]
    if only_due:
        sql, params = sql + " AND p.next_poll_at <= %s", [*params, db.ops.adapt_datetimefield_value(now)]
    current_run = Pipeline._meta.get_field("current_run")
    pipelines = []
    with db.cursor() as cursor:
        cursor.execute(sql + " ORDER BY p.next_poll_at", params)
        for row in cursor.fetchall():
            pipeline = cast(Pipeline, PIPELINE.instance(row[: len(PIPELINE)], db))
            pipeline.account = account
            current_run.set_cached_value(pipeline, CURRENT_RUN.instance(row[len(PIPELINE) :], db))
            pipelines.append(pipeline)
    return pipelines


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


def poll_claimed(account_id: int, token: uuid.UUID | str, *, only_due: bool = True) -> PollSummary | None:
    """Poll under a lease taken by `scheduling.claim`, kept while polling (`leases`). A
    stale token does nothing (None); a lease lost mid-poll writes nothing ("lost")."""
    token = uuid.UUID(str(token))
    lease = Lease(account_id, token)
    account = lease.take()
    if account is None:
        return None
    try:
        with lease:
            return poll_account(account, only_due=only_due, lease=lease)
    except LeaseLost as exc:
        log.warning("poll %s: %s", account.name, exc)
        return PollSummary(account=account.name, outcome="lost", message=str(exc))
    finally:
        if not lease.released:  # the poll's own transaction gives it back when it commits
            scheduling.release(account_id, token)


def poll_now(account: Account) -> PollSummary:
    """`manage.py poll` and "poll now": everything, at once, unless a worker holds the lease."""
    token = scheduling.claim(account.pk, timezone.now(), ignore_backoff=True)
    if token is None:
        return PollSummary(account=account.name, outcome="busy", message="a worker is polling it right now")
    summary = poll_claimed(account.pk, token, only_due=False)
    assert summary is not None  # we hold the lease we just took
    return summary

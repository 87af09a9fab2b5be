"""When to poll what, and claiming work so that nothing is polled twice at once.

Claims are conditional UPDATEs checked by row count (healthchecks' sendalerts): two
ticks, two beats by mistake, or a tick racing `manage.py poll` cannot both win.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q

from vendors.client import DISCOVER
from vendors.registry import VENDORS

from .models import Account, Heartbeat, Pipeline


def claim_periodic(name: str, now: datetime, every: float) -> bool:
    """True for exactly one caller per `every` seconds, across processes and machines: a
    conditional UPDATE on a `Heartbeat` row, as account claims are."""
    Heartbeat.objects.get_or_create(name=name, defaults={"at": now - timedelta(seconds=every)})
    return Heartbeat.objects.filter(name=name, at__lte=now - timedelta(seconds=every)).update(at=now) == 1


def jitter(seconds: float) -> timedelta:
    """±10 % so that pipelines created together do not poll in lockstep forever."""
    return timedelta(seconds=seconds * random.uniform(0.9, 1.1))


def next_pipeline_poll(pipeline: Pipeline, now: datetime) -> datetime:
    run = pipeline.current_run
    active = run is not None and run.is_active
    return now + jitter(settings.POLL_ACTIVE_SECONDS if active else settings.POLL_IDLE_SECONDS)


def error_backoff(consecutive_errors: int, retry_after: float | None = None) -> float:
    """Exponential from the active cadence, capped; never sooner than Retry-After."""
    exponent = max(0, consecutive_errors - 1)
    delay = min(settings.POLL_ERROR_BACKOFF_MAX_SECONDS, settings.POLL_ACTIVE_SECONDS * 2 ** min(exponent, 20))
    if retry_after:
        delay = max(delay, retry_after)
    return delay


def due_account_ids(now: datetime) -> list[int]:
    """Accounts with a due pipeline, or whose vendor lists pipelines and is due to be asked."""
    due = Pipeline.objects.filter(paused=False, next_poll_at__lte=now).values("account_id")
    discovering = [name for name, cls in VENDORS.items() if DISCOVER in cls.capabilities]
    discovery_due = Q(vendor__in=discovering) & (Q(next_discovery_at__isnull=True) | Q(next_discovery_at__lte=now))
    return list(
        Account.objects.filter(Q(pk__in=due) | discovery_due)
        .filter(Q(backoff_until__isnull=True) | Q(backoff_until__lte=now))
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lte=now))
        .values_list("pk", flat=True)
    )


def claim_due(now: datetime) -> tuple[uuid.UUID, list[int]]:
    """Take the lease of every account with something due, in one statement: one token
    for this tick's batch (a lease is the account and its token) and the ids won.

    A tick claiming a thousand accounts one UPDATE at a time spent seconds, on a worker
    whose threads were all busy polling, before the first poll was even enqueued."""
    token = uuid.uuid4()
    free = (Q(lease_until__isnull=True) | Q(lease_until__lte=now)) & (
        Q(backoff_until__isnull=True) | Q(backoff_until__lte=now)
    )
    ids = due_account_ids(now)
    if not ids:
        return token, []
    Account.objects.filter(free, pk__in=ids).update(
        lease_until=now + timedelta(seconds=settings.POLL_LEASE_SECONDS), lease_token=token
    )
    return token, list(Account.objects.filter(lease_token=token).order_by("pk").values_list("pk", flat=True))


def claim(account_id: int, now: datetime, *, ignore_backoff: bool = False) -> uuid.UUID | None:
    """Take the account's lease; None when someone else holds it (or it is backing off)."""
    token = uuid.uuid4()
    free = Q(lease_until__isnull=True) | Q(lease_until__lte=now)
    if not ignore_backoff:
        free &= Q(backoff_until__isnull=True) | Q(backoff_until__lte=now)
    won = Account.objects.filter(free, pk=account_id).update(
        lease_until=now + timedelta(seconds=settings.POLL_LEASE_SECONDS), lease_token=token
    )
    return token if won else None


def release(account_id: int, token: uuid.UUID) -> None:
    Account.objects.filter(pk=account_id, lease_token=token).update(lease_until=None, lease_token=None)

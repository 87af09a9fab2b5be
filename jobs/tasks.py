"""Celery tasks: they take ids, re-read rows, and are safe to run twice."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from . import alerts, health_counts, partitions, polling, retention, scheduling, upload_queue
from .models import Heartbeat

log = logging.getLogger(__name__)


@shared_task(name="jobs.tasks.tick", ignore_result=True)
def tick() -> int:
    """Claim every account that has something due and hand them to the workers in shards:
    one `poll_shard` task per POLL_SHARD_SIZE accounts, whose worker enqueues their polls
    (8,300 enqueues a tick from beat's one process did not scale out; ADR 14)."""
    now = timezone.now()
    Heartbeat.objects.update_or_create(name="beat", defaults={"at": now})
    token, claimed = scheduling.claim_due(now)
    size = settings.POLL_SHARD_SIZE
    for start in range(0, len(claimed), size):
        poll_shard.delay(str(token), claimed[start : start + size])
    enqueued = len(claimed)
    # Stuck and late are conditions of time, not of polls: look at them every tick.
    send_alerts.delay()
    return enqueued


@shared_task(name="jobs.tasks.poll_shard", ignore_result=True, acks_late=True)
def poll_shard(lease_token: str, account_ids: list[int]) -> int:
    """One poll task per claimed account of a tick's shard, enqueued from this worker."""
    for account_id in account_ids:
        poll_account.delay(account_id, lease_token)
    return len(account_ids)


@shared_task(name="jobs.tasks.send_alerts", ignore_result=True)
def send_alerts() -> str:
    """Turn state changes and health changes into alert events, then deliver what is due.

    Beat's tick sends one every few seconds: each looks at pipelines with new state
    changes; one in ALERT_SCAN_SECONDS also at those whose `next_check_at` has come (time
    made them stuck or late, a poll moved their health), by index: never at every pipeline."""
    now = timezone.now()
    checks_due = scheduling.claim_periodic("alerts-scan", now, settings.ALERT_SCAN_SECONDS)
    created = alerts.evaluate(now, scan_all=False, checks_due=checks_due)
    health_counts.compact()  # what this scan and the polls since moved, folded per key
    sent = alerts.deliver_due()
    return f"{created} event(s), {sent} delivered"


@shared_task(
    name="jobs.tasks.poll_account",
    ignore_result=True,
    acks_late=True,
    # The database went away mid-poll (a restart, a failover): the lease could not be
    # released, and the account would wait it out. Retried with the same token, the poll
    # resumes once the database is back, or does nothing if the lease went to another.
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=2,
    retry_backoff_max=30,
    retry_jitter=False,
    max_retries=6,
)
def poll_account(account_id: int, lease_token: str) -> str:
    summary = polling.poll_claimed(account_id, lease_token)
    if summary is None:
        return "lease lost; skipped"
    log.info("%s", summary.line())
    return summary.outcome


@shared_task(name="jobs.tasks.housekeeping", ignore_result=True)
def housekeeping() -> str:
    """Daily: thin old snapshots, drop old raw payloads, forget old poll attempts."""
    result = retention.run()
    log.info("housekeeping: %s", result.line())
    return result.line()


@shared_task(name="jobs.tasks.make_partitions", ignore_result=True)
def make_partitions() -> dict[str, int]:
    """Hourly: the coming days' partitions of snapshots and poll attempts (PostgreSQL), and a
    day of its own for any row that landed in a DEFAULT partition (ADR 17)."""
    made = partitions.ensure()
    if any(made.values()):
        log.info("partitions made: %s", made)
    return made


@shared_task(name="jobs.tasks.process_upload", ignore_result=True, acks_late=True)
def process_upload(upload_id: int) -> str:
    """Read a large stored upload and send its rows (or only check them, for a preview)."""
    outcome = upload_queue.process(upload_id)
    log.info("upload %s: %s", upload_id, outcome)
    return outcome

"""When to poll what, and claiming work so that nothing is polled twice at once.

Claims are conditional UPDATEs checked by row count (healthchecks' sendalerts): two
ticks, two beats by mistake, or a tick racing `manage.py poll` cannot both win.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection

from vendors.client import DISCOVER
from vendors.registry import VENDORS

from .models import Account, Heartbeat
from .pacing import error_backoff as error_backoff  # re-exported: the tick's callers and tests ask here


def claim_periodic(name: str, now: datetime, every: float) -> bool:
    """True for exactly one caller per `every` seconds, across processes and machines: a
    conditional UPDATE on a `Heartbeat` row, as account claims are."""
    Heartbeat.objects.get_or_create(name=name, defaults={"at": now - timedelta(seconds=every)})
    return Heartbeat.objects.filter(name=name, at__lte=now - timedelta(seconds=every)).update(at=now) == 1


# The due scan (ADR 14): pages of the partial index (next_poll_at, id, account_id),
# most overdue first, each page a bounded index range scan whatever the statistics say
# (the `id IN (subquery) OR discovery-due` form it replaced became a per-row subplan when
# they were stale: over 120 s at 1,000,000 pipelines). `%(p)s` placeholders for any backend.
_DUE_PAGE = (
    "SELECT next_poll_at, id, account_id FROM jobs_pipeline"
    " WHERE NOT paused AND next_poll_at <= %s AND (next_poll_at, id) > (%s, %s)"
    " ORDER BY next_poll_at, id LIMIT %s"
)
# A page's accounts, deduplicated in the database (shipping every due row to Python cost
# more than the scan), in the order their first due pipeline waited.
DUE_PAGE_ACCOUNTS_SQL = (
    "SELECT account_id FROM (" + _DUE_PAGE + ") AS page GROUP BY account_id ORDER BY min(next_poll_at), account_id"
)
# Where a full page ends (nothing: it was the last page), the next page starts after it.
DUE_PAGE_END_SQL = _DUE_PAGE.replace("next_poll_at, id, account_id", "next_poll_at, id") + " OFFSET %s"
# Accounts of listing vendors never asked, or due to be asked: two ranges of (vendor, next_discovery_at).
DUE_DISCOVERY_SQL = (
    "SELECT id FROM (SELECT id FROM jobs_account WHERE vendor IN ({vendors}) AND next_discovery_at IS NULL"
    " LIMIT %s) AS never UNION SELECT id FROM (SELECT id FROM jobs_account WHERE vendor IN ({vendors})"
    " AND next_discovery_at <= %s ORDER BY vendor, next_discovery_at LIMIT %s) AS due"
)
UNLEASED = "(lease_until IS NULL OR lease_until <= %s)"
FREE = UNLEASED + " AND (backoff_until IS NULL OR backoff_until <= %s)"
# One shard's claim: a conditional UPDATE by primary key, the row count (RETURNING) is what was won.
CLAIM_SQL = (
    "UPDATE jobs_account SET lease_until = %s, lease_token = %s WHERE id IN ({ids}) AND " + FREE + " RETURNING id"
)
# "Poll now": the account's backoff does not stop it.
CLAIM_NOW_SQL = "UPDATE jobs_account SET lease_until = %s, lease_token = %s WHERE id = %s AND " + UNLEASED
RELEASE_SQL = "UPDATE jobs_account SET lease_until = NULL, lease_token = NULL WHERE id = %s AND lease_token = %s"
PAGE = 5000


def _discovering() -> list[str]:
    return sorted(name for name, cls in VENDORS.items() if DISCOVER in cls.capabilities)


def _dt(value: datetime) -> object:
    return connection.ops.adapt_datetimefield_value(value)


def due_discovery_query(now: datetime, limit: int) -> tuple[str, list[object]]:
    vendors = _discovering() or [""]
    marks = ", ".join(["%s"] * len(vendors))
    return DUE_DISCOVERY_SQL.format(vendors=marks), [*vendors, limit, *vendors, _dt(now), limit]


def due_page_queries(
    now: datetime, after: tuple[object, int] | None, size: int
) -> tuple[tuple[str, list[object]], tuple[str, list[object]]]:
    """One page of the due scan after the (next_poll_at, id) the last one ended at: its
    accounts, and where it ends."""
    at, pk = after or (_dt(datetime(1970, 1, 1, tzinfo=UTC)), 0)
    params = [_dt(now), at, pk]
    return (DUE_PAGE_ACCOUNTS_SQL, [*params, size]), (DUE_PAGE_END_SQL, [*params, 1, size - 1])


def due_candidates(now: datetime, limit: int | None = None) -> list[int]:
    """Accounts with a due pipeline (most overdue first) or a due listing, leases not looked
    at: at most `limit` pipelines read (POLL_TICK_MAX_PIPELINES), in index pages."""
    limit = limit or settings.POLL_TICK_MAX_PIPELINES
    seen: dict[int, None] = {}
    after: tuple[object, int] | None = None
    read = 0
    with connection.cursor() as cursor:
        while read < limit:
            size = min(PAGE, limit - read)
            accounts, end = due_page_queries(now, after, size)
            cursor.execute(*accounts)
            for (account_id,) in cursor.fetchall():
                seen.setdefault(account_id, None)
            cursor.execute(*end)
            last = cursor.fetchone()
            if last is None:
                break
            after, read = (last[0], last[1]), read + size
        cursor.execute(*due_discovery_query(now, limit))
        for (account_id,) in cursor.fetchall():
            seen.setdefault(account_id, None)
    return list(seen)


def _shards(ids: list[int], size: int) -> list[list[int]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def _token(token: uuid.UUID) -> object:
    return Account._meta.get_field("lease_token").get_db_prep_save(token, connection)


def claim_query(ids: list[int], now: datetime, token: uuid.UUID) -> tuple[str, list[object]]:
    until = now + timedelta(seconds=settings.POLL_LEASE_SECONDS)
    return CLAIM_SQL.format(ids=", ".join(["%s"] * len(ids))), [_dt(until), _token(token), *ids, _dt(now), _dt(now)]


def claim_due(now: datetime) -> tuple[uuid.UUID, list[int]]:
    """Take the lease of every account with something due: one token for this tick's
    batch (a lease is the account and its token) and the ids won, in id order.

    One conditional UPDATE per POLL_SHARD_SIZE accounts, by primary key, each its own
    short transaction: a claim of 8,000 accounts in one statement held its row locks
    (and the polls that wanted them) for half a second."""
    token = uuid.uuid4()
    won: list[int] = []
    with connection.cursor() as cursor:
        for shard in _shards(due_candidates(now), settings.POLL_SHARD_SIZE):
            cursor.execute(*claim_query(shard, now, token))
            mine = [row[0] for row in cursor.fetchall()]
            won += mine
    return token, sorted(won)


def claim(account_id: int, now: datetime, *, ignore_backoff: bool = False) -> uuid.UUID | None:
    """Take the account's lease; None when someone else holds it (or it is backing off)."""
    token = uuid.uuid4()
    sql, params = claim_query([account_id], now, token)
    if ignore_backoff:
        sql, params = CLAIM_NOW_SQL, params[:4]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        won = cursor.rowcount
    return token if won else None


def release(account_id: int, token: uuid.UUID) -> None:
    with connection.cursor() as cursor:
        cursor.execute(RELEASE_SQL, [account_id, _token(token)])

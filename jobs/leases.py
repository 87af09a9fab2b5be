"""An account's lease while its poll runs (ADR 2): kept, bounded, and checked before writes.

A claim (`scheduling`) gives one poll the account for POLL_LEASE_SECONDS, but a slow
vendor can take longer than that. So while the poll runs its lease is renewed in the
background; the poll stops asking the vendor once half a lease has passed (`guard`); and
renewals stop once a whole lease has passed, so that a poll stuck for good frees its
account. Every write of the poll runs in `fenced()`, which locks the account row and
checks the token first: a poll that lost its lease anyway (stuck past all that) writes
nothing over the newer poll's results.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from types import TracebackType
from typing import cast

from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import QuerySet
from django.utils import timezone

from vendors import base as vb

from .bulk import Columns
from .models import Account

log = logging.getLogger(__name__)


# Plain SQL: every poll runs them. The fence locks the account row while the lease is ours.
FENCE_SQL = "SELECT id FROM jobs_account WHERE id = %s AND lease_token = %s"
ACCOUNT = Columns.of(Account)
TAKE_SQL = "UPDATE jobs_account SET lease_until = %s WHERE id = %s AND lease_token = %s RETURNING " + ACCOUNT.sql()


def _prep(name: str, value: object) -> object:
    """A value as the database takes it for this account column (SQLite has no uuid type)."""
    return Account._meta.get_field(name).get_db_prep_save(value, connection)


class LeaseLost(Exception):
    """Another claimant holds the account now: this poll's results are stale."""


class Lease:
    """The lease `token` on account `account_id`, held by the poll running in this thread."""

    def __init__(self, account_id: int, token: uuid.UUID) -> None:
        self.account_id, self.token = account_id, token
        self.seconds = float(settings.POLL_LEASE_SECONDS)
        self.started = time.monotonic()
        self.lost = False
        self.released = False  # given back by the poll's own transaction (`jobs.writer`)
        self._stop = threading.Event()
        self._keeper: threading.Thread | None = None

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def take(self) -> Account | None:
        """Renew at once, before polling, and read the account in the same statement: None
        when the lease is no longer ours (a task that waited in the queue until another tick
        claimed the account)."""
        until = _prep("lease_until", timezone.now() + timedelta(seconds=self.seconds))
        with connection.cursor() as cursor:
            cursor.execute(TAKE_SQL, [until, self.account_id, _prep("lease_token", self.token)])
            row = cursor.fetchone()
        return None if row is None else cast(Account, ACCOUNT.instance(row))

    def renew(self) -> bool:
        """Extend the lease if it is still ours. A row locked right now (this poll's own
        write, or a claimant's UPDATE) is skipped, never waited for: it is still ours while
        the token is."""
        with transaction.atomic():
            if list(self._mine().select_for_update(skip_locked=True).values_list("pk", flat=True)):
                self._extend(Account.objects.filter(pk=self.account_id))
                return True
        return self._mine().exists()

    def guard(self) -> None:
        """Before each vendor request: stop once half the lease is spent, or once it is lost."""
        if self.lost:
            raise vb.OutOfTime(f"another poll took the account over after {self.elapsed:.1f} s")
        if self.elapsed >= self.seconds / 2:
            raise vb.OutOfTime(f"stopped after {self.elapsed:.1f} s, half of POLL_LEASE_SECONDS ({self.seconds:g} s)")

    @contextmanager
    def fenced(self) -> Iterator[None]:
        """A transaction whose writes land only while the lease is ours: the account row
        stays locked until the commit, so no claim comes between the check and the writes."""
        with transaction.atomic(), connection.cursor() as cursor:
            lock = " FOR UPDATE" if connection.features.has_select_for_update else ""  # SQLite: one writer anyway
            cursor.execute(FENCE_SQL + lock, [self.account_id, _prep("lease_token", self.token)])
            if cursor.fetchone() is None:
                raise LeaseLost(
                    f"lease lost after {self.elapsed:.1f} s (another poll took the account over): nothing written"
                )
            yield

    def __enter__(self) -> Lease:
        self._keeper = threading.Thread(target=self._keep, name=f"lease-{self.account_id}", daemon=True)
        self._keeper.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        if self._keeper is not None:
            self._keeper.join()

    def _keep(self) -> None:
        """The keeper thread: renew every quarter lease, for one lease at most."""
        try:
            while not self._stop.wait(self.seconds / 4):
                if self.elapsed >= self.seconds:
                    return  # stuck this long: let the lease run out, the fence keeps the writes out
                if not self.renew():
                    self.lost = True
                    return
        except Exception:  # the fence still protects the writes; say why renewals stopped
            log.exception("renewing the lease of account %s failed", self.account_id)
        finally:
            connections.close_all()  # this thread's connections only (back to the pool)

    def _mine(self) -> QuerySet[Account]:
        return Account.objects.filter(pk=self.account_id, lease_token=self.token)

    def _extend(self, accounts: QuerySet[Account]) -> int:
        return accounts.update(lease_until=timezone.now() + timedelta(seconds=self.seconds))

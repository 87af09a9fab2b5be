"""The overview's cheap version check. Each live refresh sends the version of what it shows;
when nothing it shows has changed, the answer is a bodiless 204 instead of a re-rendered table.

The version covers what the live part shows: the counters and the number of matches, the
page's pipelines (their shown columns and current runs, already read for the page), the
newest run change anywhere and the maintenance windows (one query of index look-ups), and
the minute, because health, ages and time left also move with the clock. Nothing in it reads
more than the page (ADR 17): it once hashed every filtered pipeline, a million at scale."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime

from django.db import connection

from jobs.models import MaintenanceWindow, Pipeline, Run

VERSION_HEADER = "X-Live-Version"
# What a row shows that can change without a run changing.
_PIPELINE_COLUMNS = (
    "pk",
    "health_status",
    "current_run_id",
    "last_success_at",
    "last_failure_at",
    "poll_error_kind",
    "poll_error_message",
    "muted_until",
    "paused",
    "name",
    "kind",
    "incident_since",
    "team_id",
)
_ACCOUNT_COLUMNS = ("name", "poll_error_kind", "poll_error_message", "consecutive_errors", "team_id")
_RUN_COLUMNS = ("state", "progress", "last_change_at")


def _runs_and_windows() -> tuple[object, ...]:
    run, window = Run._meta.db_table, MaintenanceWindow._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT MAX(last_change_at) FROM {run}), (SELECT MAX(id) FROM {run}),"  # table names from _meta
            f" (SELECT COUNT(*) FROM {window}), (SELECT MAX(id) FROM {window}),"
            f" (SELECT MAX(starts_at) FROM {window}), (SELECT MAX(ends_at) FROM {window})"
        )
        return tuple(cursor.fetchone())


def overview_version(
    pipelines: Iterable[Pipeline], counters: dict[str, int], total: int, now: datetime, extra: str = ""
) -> str:
    """A short hash of everything the overview's live part shows: the page's `pipelines`
    (with account and current run loaded), the counters, and the filters and page (`extra`)."""
    digest = hashlib.blake2b(digest_size=12)
    digest.update(repr((sorted(counters.items()), total)).encode())
    for p in pipelines:
        run = p.current_run
        shown = (
            [getattr(p, c) for c in _PIPELINE_COLUMNS],
            p.last_polled_at is None,  # "waiting for the first poll"; later polls show nothing new
            [getattr(p.account, c) for c in _ACCOUNT_COLUMNS],
            [getattr(run, c) for c in _RUN_COLUMNS] if run else None,
        )
        digest.update(repr(shown).encode())
    digest.update(repr(_runs_and_windows()).encode())
    digest.update(f"{int(now.timestamp() // 60)}|{extra}".encode())
    return digest.hexdigest()


def counters_summary(counters: dict[str, int]) -> str:
    """The counters as one sentence, for the polite live region that announces changes."""
    shown = [f"{n} {health}" for health, n in counters.items() if n]
    return "Pipelines: " + (", ".join(shown) if shown else "none")

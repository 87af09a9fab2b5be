"""The overview's cheap version check. Each live refresh sends the version of what it shows;
when nothing it shows has changed, the answer is a bodiless 204 after two small queries,
instead of a re-rendered table.

The version covers: every filtered pipeline's shown columns and its current run (one query),
the newest run change anywhere and the maintenance windows (one query of index look-ups),
and the minute, because health, ages and time left also move with the clock."""

from __future__ import annotations

import hashlib
from datetime import datetime

from django.db import connection
from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet

from jobs.models import MaintenanceWindow, Pipeline, Run

VERSION_HEADER = "X-Live-Version"
# What a row shows that can change without a run changing.
_PIPELINE_COLUMNS = (
    "pk",
    "health_status",
    "current_run_id",
    "last_success_at",
    "last_failure_at",
    "never_polled",
    "poll_error_kind",
    "poll_error_message",
    "muted_until",
    "paused",
    "name",
    "kind",
    "incident_since",
    "account__name",
    "account__poll_error_kind",
    "account__poll_error_message",
    "account__consecutive_errors",
    "current_run__state",
    "current_run__progress",
    "current_run__last_change_at",
)


def _runs_and_windows() -> tuple[object, ...]:
    run, window = Run._meta.db_table, MaintenanceWindow._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT MAX(last_change_at) FROM {run}), (SELECT MAX(id) FROM {run}),"  # table names from _meta
            f" (SELECT COUNT(*) FROM {window}), (SELECT MAX(id) FROM {window}),"
            f" (SELECT MAX(starts_at) FROM {window}), (SELECT MAX(ends_at) FROM {window})"
        )
        return tuple(cursor.fetchone())


def overview_version(pipelines: QuerySet[Pipeline], now: datetime, extra: str = "") -> str:
    """A short hash of everything the overview's live part shows for these filters."""
    digest = hashlib.blake2b(digest_size=12)
    never = ExpressionWrapper(Q(last_polled_at__isnull=True), output_field=BooleanField())
    rows = pipelines.annotate(never_polled=never).order_by("pk").values_list(*_PIPELINE_COLUMNS)
    for row in rows:
        digest.update(repr(row).encode())
    digest.update(repr(_runs_and_windows()).encode())
    digest.update(f"{int(now.timestamp() // 60)}|{extra}".encode())
    return digest.hexdigest()


def counters_summary(counters: dict[str, int]) -> str:
    """The counters as one sentence, for the polite live region that announces changes."""
    shown = [f"{n} {health}" for health, n in counters.items() if n]
    return "Pipelines: " + (", ".join(shown) if shown else "none")

"""Run history out of Pipewatch: the runs of some pipelines over a period, streamed as CSV
or JSON lines with bounded memory (one chunk of runs at a time). Pages and the API both
call `parse_period`, `runs_in_period` and `export_runs`; they only choose the pipelines."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from django.db.models import QuerySet
from django.utils import timezone

from vendors.base import COUNT_KEYS

from .csvsafe import SafeWriter
from .models import Pipeline, Run

Format = Literal["csv", "jsonl"]
FORMATS: tuple[Format, ...] = ("csv", "jsonl")
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}
DEFAULT_DAYS = 30
MAX_DAYS = 366 * 3  # a period longer than this is almost surely a typo
CHUNK = 2000
COLUMNS = (
    "run_id",
    "pipeline_id",
    "pipeline",
    "vendor",
    "account",
    "kind",
    "external_id",
    "state",
    "vendor_status",
    "flags",
    "progress",
    *COUNT_KEYS,
    "started_at",
    "finished_at",
    "first_seen_at",
    "last_seen_at",
    "duration_seconds",
    "error_kind",
    "error_code",
    "error_message",
)


class PeriodError(ValueError):
    """A since/until the caller must fix; the message names the parameter."""


def _moment(name: str, text: str, end: bool) -> datetime:
    """ISO date (a whole day: its start, or for `until` the next day's start) or ISO datetime;
    naive values are in the current time zone."""
    text = text.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime.combine(day + timedelta(days=1) if end else day, time.min)
        else:
            moment = datetime.fromisoformat(text)
    except ValueError:
        raise PeriodError(f"{name} must be a date (YYYY-MM-DD) or an ISO 8601 time (2026-11-01T00:00:00Z)") from None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_current_timezone())
    return moment


def parse_period(since: str | None, until: str | None, now: datetime | None = None) -> tuple[datetime, datetime]:
    """[since, until) from query text; defaults: until now, since DEFAULT_DAYS before until."""
    now = now or timezone.now()
    end = _moment("until", until, end=True) if until and until.strip() else now
    start = _moment("since", since, end=False) if since and since.strip() else end - timedelta(days=DEFAULT_DAYS)
    if start >= end:
        raise PeriodError("since must be before until")
    if end - start > timedelta(days=MAX_DAYS):
        raise PeriodError(f"the period may span at most {MAX_DAYS} days")
    return start, end


def runs_in_period(
    pipelines: QuerySet[Pipeline] | Iterable[Pipeline], since: datetime, until: datetime
) -> QuerySet[Run]:
    """Runs of these pipelines that began (or, never started, were first seen) in [since, until),
    oldest first: the order a history reads in and a stable one for paging through it."""
    return (
        Run.objects.filter(pipeline__in=pipelines, sort_at__gte=since, sort_at__lt=until)
        .select_related("pipeline__account")
        .order_by("sort_at", "id")
    )


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def run_record(run: Run) -> dict[str, Any]:
    """One run as exported: times in UTC ISO 8601, counts flattened, no raw vendor JSON."""
    pipeline = run.pipeline
    counts = run.counts or {}
    duration = (run.finished_at - run.started_at).total_seconds() if run.started_at and run.finished_at else None
    record: dict[str, Any] = {
        "run_id": str(run.uuid),
        "pipeline_id": str(pipeline.uuid),
        "pipeline": pipeline.display_name,
        "vendor": pipeline.account.vendor,
        "account": pipeline.account.name,
        "kind": pipeline.kind,
        "external_id": run.external_id,
        "state": run.state,
        "vendor_status": run.vendor_status,
        "flags": list(run.flags or []),
        "progress": run.progress,
        **{key: counts.get(key) for key in COUNT_KEYS},
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "first_seen_at": _iso(run.first_seen_at),
        "last_seen_at": _iso(run.last_seen_at),
        "duration_seconds": duration,
        "error_kind": run.error_kind,
        "error_code": run.error_code,
        "error_message": run.error_message,
    }
    return record


def export_runs(runs: QuerySet[Run], fmt: Format) -> Iterator[str]:
    """The runs as text chunks: CSV (a header, then one sanitised line per run) or JSON lines."""
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}")
    records = (run_record(run) for run in runs.iterator(chunk_size=CHUNK))
    if fmt == "jsonl":
        return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n" for record in records)
    return _csv(records)


def _csv(records: Iterator[dict[str, Any]]) -> Iterator[str]:
    writer = SafeWriter()
    yield writer.writerow(COLUMNS)
    for record in records:
        record["flags"] = " ".join(record["flags"])
        yield writer.writerow([record[column] for column in COLUMNS])


def filename(prefix: str, since: datetime, until: datetime, fmt: Format) -> str:
    """e.g. runs-2026-11-01-2026-11-08.csv (dates in UTC; `until` is exclusive)."""
    return f"{prefix}-{since.astimezone(UTC):%Y-%m-%d}-{until.astimezone(UTC):%Y-%m-%d}.{fmt}"

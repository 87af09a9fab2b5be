"""Statsig ingestion status rows -> Observations (VENDORS.md §5 and §6).

The status endpoint answers with one row per status change of one (source, dataset, day):
a day is scheduled, started, then succeeds, comes back empty or fails, and may later be
re-opened by Statsig's auto-reload. We group rows by (source, dataset) -> one target
`ingestion/<source>/<dataset>`, and by day -> one run keyed "YYYY-MM-DD"; the newest row
of a day says its state, and every row's status is kept in `raw`.

Statsig's status enum differs between doc versions and the seed's own example uses a
value outside it, so the vocabulary is an open set:

- a status in INGESTION_STATES maps as the table says;
- otherwise the name's last word decides (Statsig names its statuses that way): an error
  (`_ERROR`, `_FAILED`) is a failure of unknown kind, so a new error never looks healthy;
  a phase of loading (`DEDUPE_RUNNING`, `…_STARTED`, `…_IN_PROGRESS`, a step done such as
  `…_COMPLETED` or `…_INSERTED`) is running; waiting (`…_SCHEDULED`, `…_REQUESTED`) is
  queued. A new success word is not trusted: only the table says a day loaded;
- anything else (`%Other`, null, ...) is `unknown`. The raw value is always kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from ..base import (
    FAILED,
    FINISHED_STATES,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    UNKNOWN,
    BadResponse,
    Observation,
    RunError,
    Target,
)
from ..normalizing import as_count, expect, status_text
from ..timeparse import parse_time

INGESTION = "ingestion"
DEFAULT_SOURCE = "default"
UNKNOWN_DATASET = "unknown"

# vendor status -> (state, flags, error kind). Error kinds per VENDORS.md §6.
INGESTION_STATES: dict[str, tuple[str, tuple[str, ...], str]] = {
    # queued
    "IMPORT_SCHEDULED": (QUEUED, (), ""),
    "IMPORT_RESCHEDULED": (QUEUED, ("retrying",), ""),
    "BACKFILL_REQUESTED": (QUEUED, (), ""),
    # running
    "IMPORT_STARTED": (RUNNING, (), ""),
    "BACKFILL_STARTED": (RUNNING, (), ""),
    "FILE_CREATED": (RUNNING, (), ""),
    "DOWNLOAD_COMPLETED": (RUNNING, (), ""),
    "ROWS_INSERTED": (RUNNING, (), ""),
    # succeeded
    "IMPORT_SUCCESSFUL": (SUCCEEDED, (), ""),
    "BULK_LOAD_SUCCESSFUL": (SUCCEEDED, (), ""),
    "LOADED_EMPTY_DATA": (SUCCEEDED, ("empty",), ""),
    # failed: the customer must fix the connection or its setup
    "CONNECTION_CONFIG_ERROR": (FAILED, (), "config"),
    "SSH_ERROR": (FAILED, (), "config"),
    "AUTHENTICATION_ERROR": (FAILED, (), "config"),
    "SETUP_ERROR": (FAILED, (), "config"),
    "CONNECTION_ERROR": (FAILED, (), "config"),
    # failed: the customer's SQL
    "QUERY_ERROR": (FAILED, (), "query"),
    "QUERY_CONSTRUCTION_ERROR": (FAILED, (), "query"),
    # failed: Statsig's side, likely auto-retried
    "INTERNAL_WRITE_ERROR_METRICS": (FAILED, (), "vendor"),
    "INTERNAL_WRITE_ERROR_EVENTS": (FAILED, (), "vendor"),
    "INTERNAL_WRITE_ERROR_EXPOSURES": (FAILED, (), "vendor"),
    "INTERNAL_SERVER_ERROR": (FAILED, (), "vendor"),
    "BULK_LOAD_ERROR": (FAILED, (), "vendor"),
    # failed: says nothing more
    "ERROR": (FAILED, (), "unknown"),
    # the enum's catch-all
    "%Other": (UNKNOWN, (), ""),
}

_EPOCH = datetime(1, 1, 1, tzinfo=UTC)
_DATE_PREFIX = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:$|[T ])")


# Last words of a status name, for statuses missing from the tables (upper case).
FAILED_WORDS = ("_ERROR", "_FAILED", "_FAILURE")
RUNNING_WORDS = (
    "_STARTED",
    "_RUNNING",
    "_IN_PROGRESS",
    "_PROCESSING",
    "_LOADING",
    "_CREATED",
    "_COMPLETED",
    "_COMPLETE",
    "_INSERTED",
    "_DOWNLOADED",
    "_UPLOADED",
)
QUEUED_WORDS = ("_SCHEDULED", "_REQUESTED", "_QUEUED", "_PENDING", "_WAITING")


def _by_last_word(name: str) -> tuple[str, tuple[str, ...], str]:
    if name.endswith(FAILED_WORDS):
        return FAILED, (), "unknown"
    if name.endswith(RUNNING_WORDS):
        return RUNNING, (), ""
    if name.endswith(QUEUED_WORDS) or name == "ENQUEUED":
        return QUEUED, (), ""
    return UNKNOWN, (), ""


def ingestion_state(status: str | None) -> tuple[str, tuple[str, ...], str]:
    """(state, flags, error kind) of one ingestion status: the table, else its last word."""
    if not status:
        return UNKNOWN, (), ""
    if status in INGESTION_STATES:
        return INGESTION_STATES[status]
    upper = status.strip().upper()
    return INGESTION_STATES.get(upper) or _by_last_word(upper)


# -- the status listing -------------------------------------------------------------
def parse_status_page(body: Any) -> tuple[list[Any], str | None]:
    """Rows and the next page's path of one status answer.

    Two shapes: the documented envelope `{message, data: [...], pagination: {nextPage}}`
    and the seed's bare array of rows (no pagination).
    """
    if isinstance(body, list):
        return body, None
    body = expect(body, dict, "ingestion status response")
    rows = expect(body.get("data"), list, "data")
    pagination = body.get("pagination")
    if pagination is None:
        return rows, None
    pagination = expect(pagination, dict, "pagination")
    next_page = pagination.get("nextPage")
    if next_page is None or next_page == "":
        return rows, None
    return rows, expect(next_page, str, "pagination.nextPage")


@dataclass
class IngestionGroup:
    """One (source, dataset): a target with a run per day."""

    source: str
    dataset: str
    observations: list[Observation] = field(default_factory=list)

    @property
    def target(self) -> Target:
        return ingestion_target(self.source, self.dataset)

    @property
    def name(self) -> str:
        if self.source == DEFAULT_SOURCE:
            return f"{self.dataset} (default source)"
        return f"{self.dataset} from {self.source}"

    @property
    def info(self) -> dict[str, str]:
        return {"source": self.source, "dataset": self.dataset}


def ingestion_target(source: str, dataset: str) -> Target:
    return Target(INGESTION, f"{source}/{dataset}")


@dataclass
class _Row:
    index: int
    raw: dict[str, Any]
    status: str | None
    timestamp: datetime | None
    day: date | None
    rows: int | None
    message: str


def normalize_ingestion(rows: Any) -> list[IngestionGroup]:
    """All rows of one window (every page) -> one group per (source, dataset).

    Rows with neither `ds` nor `timestamp` cannot be placed on a day and are skipped.
    """
    rows = expect(rows, list, "data")
    grouped: dict[tuple[str, str], dict[date, list[_Row]]] = {}
    for i, raw in enumerate(rows):
        where = f"data[{i}]"
        raw = expect(raw, dict, where)
        source = (
            _text(raw.get("source_name"), f"{where}.source_name")
            or _text(raw.get("ingestion_source"), f"{where}.ingestion_source")
            or DEFAULT_SOURCE
        )
        # Statsig spells datasets "Events" in its enum and "events" in its example.
        dataset = (_text(raw.get("ingestion_dataset"), f"{where}.ingestion_dataset") or UNKNOWN_DATASET).lower()
        row = _parse_row(i, raw, where)
        days = grouped.setdefault((source, dataset), {})
        if row.day is not None:
            days.setdefault(row.day, []).append(row)
    groups = []
    for (source, dataset), days in grouped.items():
        group = IngestionGroup(source, dataset)
        target = group.target
        for day in sorted(days, reverse=True):  # newest day first
            group.observations.append(_day_observation(target, day, days[day]))
        groups.append(group)
    return groups


def _parse_row(index: int, raw: dict[str, Any], where: str) -> _Row:
    status = status_text(raw.get("status"), f"{where}.status")
    timestamp = parse_time(raw.get("timestamp"), f"{where}.timestamp")
    day = _day(raw.get("ds"), f"{where}.ds")
    if day is None and timestamp is not None:
        day = timestamp.date()  # the seed's example has no ds
    error_message = _message(raw.get("error_message"), f"{where}.error_message")
    message = _message(raw.get("message"), f"{where}.message")
    as_count(raw.get("metricCount"), f"{where}.metricCount")  # shape check; kept in raw
    return _Row(
        index=index,
        raw=raw,
        status=status,
        timestamp=timestamp,
        day=day,
        rows=as_count(raw.get("rowCount"), f"{where}.rowCount"),
        message=error_message or message,
    )


def _day_observation(target: Target, day: date, rows: list[_Row]) -> Observation:
    # Newest by timestamp wins; rows without one count as oldest; ties: later in the answer.
    ordered = sorted(rows, key=lambda r: (r.timestamp or _EPOCH, r.index))
    latest = ordered[-1]
    state, flags, error_kind = ingestion_state(latest.status)
    states = [ingestion_state(r.status)[0] for r in ordered]
    # The current attempt starts after the last finished row before the newest one, so a
    # re-opened day shows when its re-load started, not its first load.
    earlier_ends = [i for i, s in enumerate(states[:-1]) if s in FINISHED_STATES]
    attempt = ordered[earlier_ends[-1] + 1 :] if earlier_ends else ordered
    started = next(
        (r.timestamp for r in attempt if r.timestamp and ingestion_state(r.status)[0] not in (QUEUED, UNKNOWN)),
        None,
    )
    finished = latest.timestamp if state in FINISHED_STATES else None
    error = None
    if state == FAILED:
        error = RunError(message=latest.message, code=latest.status or "", kind=error_kind)
    counts = {"rows": latest.rows} if latest.rows is not None else {}
    return Observation(
        target=target,
        run_key=day.isoformat(),
        state=state,
        vendor_status=latest.status or "",
        progress=1.0 if state == SUCCEEDED else None,
        counts=counts,
        started_at=started,
        finished_at=finished,
        error=error,
        flags=flags,
        raw={
            "day": day.isoformat(),
            "latest": latest.raw,
            "statuses": [
                {"status": r.status, "timestamp": r.raw.get("timestamp"), "rowCount": r.raw.get("rowCount")}
                for r in ordered
            ],
        },
    )


def _text(value: Any, where: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise BadResponse(f"{where}: expected a string, got {type(value).__name__}")


def _message(value: Any, where: str) -> str:
    """A vendor message, verbatim."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    raise BadResponse(f"{where}: expected a string, got {type(value).__name__}")


def _day(value: Any, where: str) -> date | None:
    """The day a `ds` names: its literal date part, whatever offset follows it."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and (m := _DATE_PREFIX.match(value.strip())):
        try:
            return date.fromisoformat(m[1])
        except ValueError:
            raise BadResponse(f"{where}: unreadable date {value[:40]!r}") from None
    parsed = parse_time(value, where)
    return parsed.date() if parsed else None

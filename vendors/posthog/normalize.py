"""PostHog batch export runs and warehouse sync jobs -> Observations (VENDORS.md section 7).

A batch export's runs are its data intervals: PostHog never rewrites a failed run, a retry
or a backfill adds a new row for the same interval, so the interval (not the row) is what
landed or not. `normalize_interval` takes every row of one interval and lets the newest
(by `created_at`) decide; all attempts are kept in `raw`, verbatim, oldest first.
Warehouse sync jobs are one run each. Statuses outside the tables are `unknown`, raw kept.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..base import CANCELED, FAILED, QUEUED, RUNNING, SUCCEEDED, UNKNOWN, BadResponse, Observation, RunError, Target
from ..normalizing import as_count, expect, nonempty_str
from ..timeparse import parse_time

# BatchExportRun.Status -> (state, error kind when failed)
RUN_STATES: dict[str, tuple[str, str]] = {
    "Starting": (QUEUED, ""),
    "Running": (RUNNING, ""),
    "ContinuedAsNew": (RUNNING, ""),
    "Completed": (SUCCEEDED, ""),
    "Failed": (FAILED, "unknown"),
    "FailedRetryable": (FAILED, "vendor"),  # retries ran out on a transient error: a manual retry is the fix
    "FailedBilling": (FAILED, "config"),  # over the billing quota: nothing was exported
    "TimedOut": (FAILED, "timeout"),
    "Terminated": (FAILED, "vendor"),
    "Cancelled": (CANCELED, ""),
}
# ExternalDataJob.Status (PostHog's models spell the billing ones without spaces)
JOB_STATES: dict[str, tuple[str, str]] = {
    "Running": (RUNNING, ""),
    "Completed": (SUCCEEDED, ""),
    "Failed": (FAILED, "unknown"),
    "BillingLimitReached": (FAILED, "config"),
    "BillingLimitTooLow": (FAILED, "config"),
}
BILLING_MESSAGES = {
    "FailedBilling": "PostHog did not export this interval: the organization is over its billing quota",
    "BillingLimitReached": "PostHog stopped the sync: the project reached its data warehouse billing limit",
    "BillingLimitTooLow": "PostHog stopped the sync: the billing limit is too low for this table's rows",
}
CANCELLED_BY_USER = "sync cancelled by user"
RUN_COUNTS = {
    "rows": "records_completed",
    "failed": "records_failed",
    "total": "records_total_count",
    "bytes": "bytes_exported",
}


def interval_key(run: dict[str, Any]) -> str:
    """One interval's run key: `<data_interval_start>/<data_interval_end>` as PostHog wrote them."""
    start, end = nonempty_str(run.get("data_interval_start")), nonempty_str(run.get("data_interval_end"))
    if not end:
        raise BadResponse("unexpected shape: a batch export run without data_interval_end")
    return f"{start or '-'}/{end}"


def group_intervals(runs: Any) -> dict[str, list[dict[str, Any]]]:
    """Rows of a run listing (any order, any page) -> interval key -> its attempts, oldest first."""
    rows = expect(runs, list, "runs")
    grouped: dict[str, list[dict[str, Any]]] = {}
    for i, row in enumerate(rows):
        row = expect(row, dict, f"runs[{i}]")
        grouped.setdefault(interval_key(row), []).append(row)
    for attempts in grouped.values():
        attempts.sort(key=lambda r: (_created(r), nonempty_str(r.get("id"))))
    return grouped


def _created(row: dict[str, Any]) -> datetime:
    when = parse_time(row.get("created_at"), "created_at")
    if when is None:
        raise BadResponse("unexpected shape: a batch export run without created_at")
    return when


def _status(body: dict[str, Any], table: dict[str, tuple[str, str]]) -> tuple[str, str, str]:
    status = body.get("status")
    if status is not None and not isinstance(status, str):
        raise BadResponse(f"status: expected a string, got {type(status).__name__}")
    state, kind = table.get(status or "", (UNKNOWN, ""))
    return status or "", state, kind


def normalize_interval(target: Target, attempts: list[dict[str, Any]]) -> Observation:
    """One interval of a batch export, decided by its newest attempt."""
    if not attempts:
        raise BadResponse("an interval needs at least one run")
    newest = expect(attempts[-1], dict, "run")
    status, state, kind = _status(newest, RUN_STATES)
    counts = {}
    for ours, theirs in RUN_COUNTS.items():
        if (value := as_count(newest.get(theirs), f"run.{theirs}")) is not None:
            counts[ours] = value
    flags: list[str] = []
    if state == SUCCEEDED and counts.get("rows") == 0:
        flags.append("empty")
    if state == SUCCEEDED and counts.get("failed"):
        flags.append("partial")
    if len(attempts) > 1 and state in (QUEUED, RUNNING):
        flags.append("retrying")
    progress = 1.0 if state == SUCCEEDED else None
    if state == RUNNING and counts.get("total"):
        progress = min(1.0, counts.get("rows", 0) / counts["total"])
    error = None
    if state == FAILED:
        message = nonempty_str(newest.get("latest_error")) or BILLING_MESSAGES.get(status, "")
        error = RunError(message=message or f"PostHog says {status}", code=status, kind=kind)
    elif state == SUCCEEDED and counts.get("failed"):
        error = RunError(message=f"{counts['failed']:,} records failed to export", kind="config")
    return Observation(
        target=target,
        run_key=interval_key(newest),
        state=state,
        vendor_status=status,
        progress=progress,
        counts=counts,
        started_at=parse_time(newest.get("data_interval_start"), "data_interval_start")
        or parse_time(newest.get("created_at"), "created_at"),
        finished_at=parse_time(newest.get("finished_at"), "finished_at"),
        error=error,
        flags=tuple(flags),
        raw={"attempts": attempts} if len(attempts) > 1 else newest,
    )


def normalize_job(target: Target, body: Any) -> Observation:
    """One warehouse sync job of a table."""
    body = expect(body, dict, "sync job")
    key = nonempty_str(body.get("id"))
    if not key:
        raise BadResponse("unexpected shape: a sync job without id")
    status, state, kind = _status(body, JOB_STATES)
    rows = as_count(body.get("rows_synced"), "rows_synced")
    message = nonempty_str(body.get("latest_error"))
    if state == FAILED and CANCELLED_BY_USER in message.lower():
        state = CANCELED  # PostHog writes a user's cancel as Failed
    flags = ("empty",) if state == SUCCEEDED and rows == 0 else ()
    error = None
    if state == FAILED:
        error = RunError(
            message=message or BILLING_MESSAGES.get(status, f"PostHog says {status}"), code=status, kind=kind
        )
    return Observation(
        target=target,
        run_key=key,
        state=state,
        vendor_status=status,
        progress=1.0 if state == SUCCEEDED else None,
        counts={"rows": rows} if rows is not None else {},
        started_at=parse_time(body.get("created_at"), "created_at"),
        finished_at=parse_time(body.get("finished_at"), "finished_at"),
        error=error,
        flags=flags,
        raw=body,
    )


def export_info(body: Any) -> dict[str, Any]:
    """Pipeline-level facts of a batch export, kept on the pipeline and shown as they are."""
    body = expect(body, dict, "batch export")
    destination = body.get("destination") if isinstance(body.get("destination"), dict) else {}
    rows = body.get("latest_runs")
    latest = [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []
    statuses = [r.get("status") for r in latest]
    failures = sum(1 for s in statuses if isinstance(s, str) and RUN_STATES.get(s, ("",))[0] == FAILED)
    paused = body.get("paused") is True
    info = {
        "interval": nonempty_str(body.get("interval")),
        "model": nonempty_str(body.get("model")),
        "destination": nonempty_str(destination.get("type")),
        "paused": paused,
        "last_paused_at": nonempty_str(body.get("last_paused_at")),
        "paused_reason": "",  # polls merge info into the pipeline's: an unpause must clear it
    }
    if paused and latest and failures * 2 >= len(latest):
        info["paused_reason"] = (
            f"most likely by PostHog itself: {failures} of its {len(latest)} latest runs failed, "
            "and PostHog pauses an export after ten failures in fifty runs"
        )
    elif paused:
        info["paused_reason"] = "by a person or through the API"
    return info


def table_info(body: Any) -> dict[str, Any]:
    """Pipeline-level facts of a warehouse table (PostHog's "schema")."""
    body = expect(body, dict, "warehouse table")
    table = body.get("table") if isinstance(body.get("table"), dict) else {}
    status = body.get("status")
    should_sync = body.get("should_sync") is not False
    return {
        "status": status if isinstance(status, str) else "",
        "should_sync": should_sync,
        "paused": not should_sync or status == "Paused",
        "paused_reason": "" if should_sync else "syncing this table is turned off in PostHog",
        "sync_type": nonempty_str(body.get("sync_type")),
        "sync_frequency": nonempty_str(body.get("sync_frequency")),
        "last_synced_at": nonempty_str(body.get("last_synced_at")),
        "row_count": as_count(table.get("row_count"), "table.row_count"),
        "latest_error": nonempty_str(body.get("latest_error")),
    }


BACKFILLS_KEPT = 5
ACTIVE = ("Starting", "Running", "ContinuedAsNew")


def backfill_info(rows: Any) -> list[dict[str, Any]]:
    """An export's backfills as PostHog lists them (newest first): the running ones and the
    newest others, BACKFILLS_KEPT in all, with their progress."""
    kept: list[dict[str, Any]] = []
    for i, row in enumerate(expect(rows, list, "backfills")):
        row = expect(row, dict, f"backfills[{i}]")
        progress = row.get("progress") if isinstance(row.get("progress"), dict) else {}
        kept.append(
            {
                "id": nonempty_str(row.get("id")),
                "status": nonempty_str(row.get("status")),
                "start_at": nonempty_str(row.get("start_at")),
                "end_at": nonempty_str(row.get("end_at")),
                "created_at": nonempty_str(row.get("created_at")),
                "finished_at": nonempty_str(row.get("finished_at")),
                "finished_runs": as_count(progress.get("finished_runs"), f"backfills[{i}].progress.finished_runs"),
                "total_runs": as_count(progress.get("total_runs"), f"backfills[{i}].progress.total_runs"),
            }
        )
    running = [b for b in kept if b["status"] in ACTIVE]
    others = [b for b in kept if b["status"] not in ACTIVE]
    return (running + others)[: max(BACKFILLS_KEPT, len(running))]

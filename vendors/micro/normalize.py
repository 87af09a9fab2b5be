"""Micro (micro.so) Prism ImportJob JSON -> Observations (VENDORS.md §4 and §6)."""

from __future__ import annotations

from typing import Any

from ..base import FAILED, RUNNING, SUCCEEDED, UNKNOWN, BadResponse, Observation, RunError, RunItem, Target
from ..normalizing import classify_message, count_fields, expect, nonempty_str, status_text
from ..timeparse import parse_time

# vendor status -> state; `complete` with failed rows is partial.
JOB_STATES: dict[str, str] = {
    "processing": RUNNING,
    "complete": SUCCEEDED,
    "failed": FAILED,
}
COUNTS = {"total": "total", "processed": "processed", "succeeded": "succeeded", "failed": "failed"}


def normalize_job(target: Target, body: Any, run_key: str = "") -> Observation:
    body = expect(body, dict, "import job")
    key = nonempty_str(body.get("job_id")) or run_key
    if not key:
        raise BadResponse("unexpected shape: job_id is missing")
    if "status" not in body:
        raise BadResponse("unexpected shape: the import job has no status")
    status = status_text(body.get("status"), "status")
    state = JOB_STATES.get(status or "", UNKNOWN)
    counts = count_fields(body, COUNTS, "job")
    total, processed = counts.get("total"), counts.get("processed")
    progress = None
    if state == SUCCEEDED:
        progress = 1.0
    elif total and processed is not None:
        progress = min(1.0, processed / total)
    flags: tuple[str, ...] = ("partial",) if state == SUCCEEDED and counts.get("failed") else ()
    error = None
    err = body.get("error")
    if state == FAILED and isinstance(err, dict):
        message = nonempty_str(err.get("message"))
        error = RunError(message=message, code=nonempty_str(err.get("code")), kind=classify_message(message))
    elif state == SUCCEEDED and counts.get("failed"):
        error = RunError(message=f"{counts['failed']} of {total or '?'} rows failed", kind="config")
    elif err not in (None, "") and not isinstance(err, dict):
        raise BadResponse("error: expected an object")
    items = _results(body.get("results"))
    finished = parse_time(body.get("updated_at"), "updated_at") if state in (SUCCEEDED, FAILED) else None
    return Observation(
        target=target,
        run_key=key,
        state=state,
        vendor_status=status or "",
        progress=progress,
        counts=counts,
        started_at=parse_time(body.get("created_at"), "created_at"),
        finished_at=finished,
        error=error,
        flags=flags,
        raw=body,
        items=items,
        expires_at=parse_time(body.get("expires_at"), "expires_at"),
    )


def _results(results: Any) -> list[RunItem] | None:
    """Per-row outcomes: kept, because the vendor forgets the job after 7 days."""
    if results is None:
        return None
    rows = expect(results, list, "results")
    items = []
    for i, row in enumerate(rows):
        row = expect(row, dict, f"results[{i}]")
        err = row.get("error") if isinstance(row.get("error"), dict) else {}
        data = {"row": i + 1, "id": row.get("id"), "created": row.get("created"), "existing": row.get("existing")}
        items.append(
            RunItem(
                kind="result", message=nonempty_str(err.get("message")), code=nonempty_str(err.get("code")), data=data
            )
        )
    return items

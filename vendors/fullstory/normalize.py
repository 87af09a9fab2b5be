"""FullStory batch import job JSON -> Observations (VENDORS.md §3 and §6)."""

from __future__ import annotations

from typing import Any

from ..base import FAILED, RUNNING, SUCCEEDED, UNKNOWN, BadResponse, Observation, RunError, RunItem, Target
from ..normalizing import as_count, expect, nonempty_str
from ..timeparse import parse_time

# vendor status -> state. UNKNOWN is the protobuf default: keep polling it.
JOB_STATES: dict[str, str] = {
    "PROCESSING": RUNNING,
    "COMPLETED": SUCCEEDED,
    "FAILED": FAILED,
    "UNKNOWN": RUNNING,
}
ENVELOPE_CODES = (
    "required_field",
    "unauthorized",
    "forbidden",
    "resource_not_found",
    "too_many_requests",
    "server_error",
)


def normalize_job(target: Target, body: Any, items: list[RunItem] | None = None) -> Observation:
    """`{"imports", "errors", "job": {"id", "status", "created", "finished"?}}`."""
    body = expect(body, dict, "job response")
    job = expect(body.get("job"), dict, "job")
    job_id = nonempty_str(job.get("id"))
    if not job_id:
        raise BadResponse("unexpected shape: job.id is missing")
    status = job.get("status")
    if status is not None and not isinstance(status, str):
        raise BadResponse(f"job.status: expected a string, got {type(status).__name__}")
    state = JOB_STATES.get(status or "", UNKNOWN)
    imports = as_count(body.get("imports"), "imports")
    errors = as_count(body.get("errors"), "errors")
    counts = {k: v for k, v in (("succeeded", imports), ("failed", errors)) if v is not None}
    if imports is not None and errors is not None:
        counts["total"] = imports + errors
    flags: tuple[str, ...] = ()
    error = None
    if state == FAILED:
        # FAILED covers partial failures: some rows imported, some not.
        if imports:
            flags = ("partial",)
        total = (imports or 0) + (errors or 0)
        message = f"{errors or 0} of {total} rows failed" if total else "The batch import failed"
        error = RunError(message=message, code="", kind="config" if imports else "vendor")
    finished = parse_time(job.get("finished"), "job.finished")
    return Observation(
        target=target,
        run_key=job_id,
        state=state,
        vendor_status=status or "",
        progress=1.0 if state in (SUCCEEDED, FAILED) else None,
        counts=counts,
        started_at=parse_time(job.get("created"), "job.created"),
        finished_at=finished,
        error=error,
        flags=flags,
        raw=body,
        items=items,
    )


def normalize_errors_page(body: Any) -> tuple[list[RunItem], str, int | None]:
    """One page of `…/errors`: (items, next_page_token, total_records)."""
    body = expect(body, dict, "errors response")
    results = expect(body.get("results", []), list, "results")
    items = []
    for i, row in enumerate(results):
        row = expect(row, dict, f"results[{i}]")
        payload = row.get("event", row.get("user"))
        items.append(
            RunItem(
                kind="error", message=nonempty_str(row.get("message")), code=nonempty_str(row.get("code")), data=payload
            )
        )
    total = as_count(body.get("total_records"), "total_records")  # a string in the API
    token = body.get("next_page_token") or ""
    if not isinstance(token, str):
        raise BadResponse("next_page_token: expected a string")
    return items, token, total

"""FullStory batch import job JSON -> Observations (VENDORS.md §3 and §6).

Pure functions over parsed JSON: anything we do not understand raises BadResponse, so the
engine can tell "FullStory said something odd" from "our code broke".
"""

from __future__ import annotations

from typing import Any

from ..base import FAILED, RUNNING, SUCCEEDED, UNKNOWN, BadResponse, Observation, RunError, RunItem, Target
from ..normalizing import as_count, expect, nonempty_str, status_text
from ..timeparse import parse_time

# vendor status -> state. FAILED includes partial failures (flagged below). UNKNOWN is
# the protobuf default, not an outcome: keep polling. Anything else: state unknown.
JOB_STATES: dict[str, str] = {
    "PROCESSING": RUNNING,
    "COMPLETED": SUCCEEDED,
    "FAILED": FAILED,
    "UNKNOWN": RUNNING,
}


def normalize_job(target: Target, body: Any, items: list[RunItem] | None = None) -> Observation:
    """`{"imports", "errors", "job": {"id", "status", "created", "finished"?}}`."""
    body = expect(body, dict, "job response")
    job = expect(body.get("job"), dict, "job")
    job_id = nonempty_str(job.get("id"))
    if not job_id:
        raise BadResponse("unexpected shape: job.id is missing")
    status = status_text(job.get("status"), "job.status")
    state = JOB_STATES.get(status or "", UNKNOWN)
    imports = as_count(body.get("imports"), "imports")
    errors = as_count(body.get("errors"), "errors")  # "only included for failed imports"
    counts = {k: v for k, v in (("succeeded", imports), ("failed", errors)) if v is not None}
    if imports is not None and errors is not None:
        counts["total"] = imports + errors
    flags: tuple[str, ...] = ("partial",) if state == FAILED and imports else ()
    return Observation(
        target=target,
        run_key=job_id,
        state=state,
        vendor_status=status or "",
        progress=1.0 if state in (SUCCEEDED, FAILED) else None,
        counts=counts,
        started_at=parse_time(job.get("created"), "job.created"),
        finished_at=parse_time(job.get("finished"), "job.finished"),
        error=_failure(imports, errors) if state == FAILED else None,
        flags=flags,
        raw=body,
        items=items,
    )


def created_job_id(body: Any) -> str:
    """The new job's id in a batch create's answer, `{"job": {"id", "status", "created"}}`."""
    job = expect(expect(body, dict, "response").get("job"), dict, "job")
    job_id = nonempty_str(job.get("id"))
    if not job_id:
        raise BadResponse("unexpected shape: the created job has no id")
    return job_id


def _failure(imports: int | None, errors: int | None) -> RunError:
    # Rows FullStory rejected are the customer's data to fix ("config"); a FAILED job that
    # names no failed row gives the customer nothing to fix, so it is FullStory's ("vendor").
    if not errors:
        return RunError(message="The batch import failed without naming failed rows", kind="vendor")
    total = errors + (imports or 0)
    return RunError(message=f"{errors:,} of {total:,} rows failed", kind="config")


def normalize_errors_page(body: Any) -> tuple[list[RunItem], str, int | None]:
    """One page of `…/errors`: (items, next_page_token, total_records)."""
    body = expect(body, dict, "errors response")
    results = expect(body.get("results", []), list, "results")
    items = []
    for i, row in enumerate(results):
        row = expect(row, dict, f"results[{i}]")
        items.append(
            RunItem(
                kind="error",
                message=nonempty_str(row.get("message")),
                code=nonempty_str(row.get("code")),
                data=row.get("event", row.get("user")),  # the rejected request object, as sent
            )
        )
    total = as_count(body.get("total_records"), "total_records")  # a string in the API
    token = body.get("next_page_token") or ""
    if not isinstance(token, str):
        raise BadResponse(f"next_page_token: expected a string, got {type(token).__name__}")
    return items, token, total

"""Statsig backfill runs -> Observations (VENDORS.md §5 and §6): `GET /ingestion/runs/{id}`."""

from __future__ import annotations

from datetime import datetime, timedelta
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
from ..normalizing import expect, status_text
from ..timeparse import parse_time
from .normalize import _EPOCH, _by_last_word, _text

BACKFILL = "backfill"

# Backfill run statuses (runHistory / latestStatus) -> (state, flags, error kind).
RUN_STATES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "enqueued": (QUEUED, (), ""),
    "started": (RUNNING, (), ""),
    "download_started": (RUNNING, (), ""),
    "download_complete": (RUNNING, (), ""),
    "metrics_started": (RUNNING, (), ""),
    "metrics_complete": (RUNNING, (), ""),
    "pulse_started": (RUNNING, (), ""),
    "pulse_complete": (SUCCEEDED, (), ""),  # the last step of a run [I]
    "download_error": (FAILED, (), "unknown"),
    "metrics_error": (FAILED, (), "vendor"),
    "pulse_error": (FAILED, (), "vendor"),
}
# The steps of a run in order, for its progress.
RUN_STEPS = (
    "enqueued",
    "started",
    "download_started",
    "download_complete",
    "metrics_started",
    "metrics_complete",
    "pulse_started",
    "pulse_complete",
)
# A run whose latest status is an error but that changed less than this ago may still
# retry (the examples retry after download_error): running + "retrying" until then.
QUIET_PERIOD = timedelta(minutes=10)
# Our verdict on a run whose latest status is an error (Observation.verdict, not `raw`).
QUIET_OVER, QUIET_NOT_OVER = "quiet period over", "quiet period not over"


def run_state(status: str | None) -> tuple[str, tuple[str, ...], str]:
    """(state, flags, error kind) of one backfill run status, with the same rule."""
    if not status:
        return UNKNOWN, (), ""
    lower = status.strip().lower()
    return RUN_STATES.get(lower) or _by_last_word(lower.upper())


# -- backfill runs ------------------------------------------------------------------
def backfill_run_id(body: Any) -> str:
    """`POST /ingestion/backfill`'s `{message, data: {runID}}`: the new run's id."""
    data = expect(expect(body, dict, "backfill response").get("data"), dict, "data")
    run_id = _text(data.get("runID"), "data.runID")
    if not run_id:
        raise BadResponse("backfill response: data.runID is missing")
    return run_id


def normalize_run(target: Target, body: Any, now: datetime, run_id: str = "") -> Observation:
    """`GET /ingestion/runs/{id}`: `{message, data: run}` -> one Observation."""
    body = expect(body, dict, "run response")
    run = expect(body.get("data"), dict, "data")
    key = _text(run.get("runID"), "data.runID") or run_id
    if not key:
        raise BadResponse("data.runID: missing")
    history = run.get("runHistory")
    entries: list[tuple[datetime | None, str | None, int]] = []
    if history is not None:
        for i, entry in enumerate(expect(history, list, "data.runHistory")):
            where = f"data.runHistory[{i}]"
            entry = expect(entry, dict, where)
            status = status_text(entry.get("status"), f"{where}.status")
            entries.append((parse_time(entry.get("statusTimestamp"), f"{where}.statusTimestamp"), status, i))
    entries.sort(key=lambda e: (e[0] or _EPOCH, e[2]))
    latest = status_text(run.get("latestStatus"), "data.latestStatus")
    if not latest and entries:
        latest = entries[-1][1]
    updated = parse_time(run.get("lastUpdatedAt"), "data.lastUpdatedAt")
    if updated is None and entries:
        updated = entries[-1][0]
    created = parse_time(run.get("createdAt"), "data.createdAt")
    if created is None and entries:
        created = entries[0][0]
    for name in ("sources", "dateStamps", "granularHistory"):
        if run.get(name) is not None:
            expect(run.get(name), list, f"data.{name}")

    state, flags, error_kind = run_state(latest)
    error = None
    verdict = ""
    if state == FAILED:
        quiet_over = updated is None or now - updated >= QUIET_PERIOD
        # The engine only looks again when the fingerprint changes: the verdict must be part
        # of it, or a run that stays on download_error would stay "retrying" forever.
        verdict = QUIET_OVER if quiet_over else QUIET_NOT_OVER
        if not quiet_over:
            state, flags = RUNNING, (*flags, "retrying")  # Statsig retries after an error
        else:
            error = RunError(message=f"Statsig backfill run stopped at {latest}", code=latest or "", kind=error_kind)
    progress = None
    if state == SUCCEEDED:
        progress = 1.0
    elif latest and latest.lower() in RUN_STEPS:
        progress = round(RUN_STEPS.index(latest.lower()) / (len(RUN_STEPS) - 1), 2)
    return Observation(
        target=target,
        run_key=key,
        state=state,
        vendor_status=latest or "",
        progress=progress,
        started_at=created,
        finished_at=updated if state in FINISHED_STATES else None,
        error=error,
        flags=flags,
        raw=run,
        verdict=verdict,
    )

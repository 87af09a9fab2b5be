"""Mixpanel import-connector history JSON -> Observations (VENDORS.md §1 and §6)."""

from __future__ import annotations

from typing import Any

from ..base import (
    FAILED,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    UNKNOWN,
    BadResponse,
    Observation,
    RunError,
    Target,
)
from ..normalizing import as_fraction, classify_message, count_fields, expect, nonempty_str, status_text
from ..timeparse import parse_time

# vendor status -> (state, flags). Anything else maps to `unknown` and keeps its raw value.
CONNECTOR_RUN_STATES: dict[str, tuple[str, tuple[str, ...]]] = {
    "queued": (QUEUED, ()),
    "running": (RUNNING, ()),
    "success": (SUCCEEDED, ()),
    "failed": (FAILED, ()),
    "paused": (QUEUED, ("paused",)),
}

# Our count names <- Mixpanel's connector_properties.
CONNECTOR_COUNTS = {
    "processed": "num_events_processed",
    "succeeded": "num_events_imported",
    "dropped": "num_events_dropped",
    "files": "num_files_imported",
    "bytes": "size_imported",
}

PENDING_KEY = "pending"


def normalize_history(target: Target, body: Any) -> list[Observation]:
    """The `history` answer: the seed's `{status: "ok", results: {data: [run, ...]}}`, or the
    last spec's bare runsList `{url, has_more, data: [run, ...]}`."""
    body = expect(body, dict, "history response")
    if body.get("status") not in (None, "ok"):
        raise BadResponse(f"history answered status {body.get('status')!r}")
    if "results" not in body and "data" in body:
        runs = expect(body.get("data"), list, "data")
    else:
        results = expect(body.get("results"), dict, "results")
        runs = expect(results.get("data"), list, "results.data")
    observations = [normalize_connector_run(target, run, i) for i, run in enumerate(runs)]
    _dedupe_keys(observations)
    return observations


def normalize_connector_run(target: Target, run: Any, index: int = 0) -> Observation:
    run = expect(run, dict, f"results.data[{index}]")
    where = f"results.data[{index}]"
    status = status_text(run.get("status"), f"{where}.status")
    state, flags = CONNECTOR_RUN_STATES.get(status or "", (UNKNOWN, ()))
    started = parse_time(run.get("start_time"), f"{where}.start_time")
    finished = parse_time(run.get("end_time"), f"{where}.end_time")
    progress = as_fraction(run.get("progress"), f"{where}.progress")
    if state == SUCCEEDED and progress is None:
        progress = 1.0
    props = run.get("connector_properties")
    counts = count_fields(props, CONNECTOR_COUNTS, f"{where}.connector_properties")

    error = None
    err = run.get("error")
    if isinstance(err, dict):
        message = nonempty_str(err.get("message"))
        code = nonempty_str(err.get("code")) or nonempty_str(err.get("type"))
        if message or code:
            kind = classify_message(message) if state == FAILED else ""
            error = RunError(message=message, code=code, kind=kind)
    elif err not in (None, ""):
        raise BadResponse(f"{where}.error: expected an object, got {type(err).__name__}")

    run_id = nonempty_str(run.get("id")) or nonempty_str(run.get("run_id"))
    provisional = False
    if run_id:
        key = run_id
    elif started:
        key = "t:" + started.isoformat()
    else:
        key, provisional = PENDING_KEY, True
    return Observation(
        target=target,
        run_key=key,
        state=state,
        vendor_status=status or "",
        progress=progress,
        counts=counts,
        started_at=started,
        finished_at=finished,
        error=error,
        flags=flags,
        raw=run,
        provisional_key=provisional,
    )


def _dedupe_keys(observations: list[Observation]) -> None:
    # Two id-less runs that started in the same second would share a key; the history
    # is newest first, so suffix the older ones to keep each row its own.
    seen: dict[str, int] = {}
    for obs in reversed(observations):
        n = seen.get(obs.run_key, 0)
        seen[obs.run_key] = n + 1
        if n:
            obs.run_key = f"{obs.run_key}#{n}"

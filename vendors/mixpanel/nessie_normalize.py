"""Mixpanel data pipeline ("nessie") JSON -> Observations and pipeline facts (VENDORS.md §2, §6).

Each task of `pipeline/status` is one export of one window (`from_date`..`to_date`); the
window is the run. A window can hold several attempts (a `retried` one, then a newer one):
the newest attempt gives the run's state, so a retried window that later succeeded is a
success, not a failure.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..base import (
    CANCELED,
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
from ..normalizing import as_count, expect, nonempty_str
from ..timeparse import parse_time

# vendor task state -> (state, flags, error kind). Anything else: unknown, raw value kept.
TASK_STATES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "pending": (QUEUED, (), ""),
    "running": (RUNNING, (), ""),
    "retried": (RUNNING, ("retrying",), ""),
    "failed": (FAILED, (), "unknown"),
    "canceled": (CANCELED, (), ""),
    "timed_out": (FAILED, (), "timeout"),
    "succeeded": (SUCCEEDED, (), ""),
}
ERROR_MESSAGES = {
    "failed": "Mixpanel reports the export task failed",
    "timed_out": "Mixpanel reports the export task timed out (retryable)",
}
_ACTIVE = (QUEUED, RUNNING)


def _stamp(value: datetime | None) -> float:
    return value.timestamp() if value is not None else float("-inf")


def normalize_status(target: Target, body: Any) -> list[Observation]:
    """`{state: [task, ...]}` -> one Observation per window, newest attempt winning."""
    body = expect(body, dict, "status response")
    attempts: list[tuple[Observation, tuple[Any, ...]]] = []
    for group, tasks in body.items():
        tasks = expect(tasks, list, f"status[{group!r}]")
        for i, task in enumerate(tasks):
            attempts.append(normalize_task(target, task, str(group), f"status[{group!r}][{i}]"))
    by_window: dict[str, list[tuple[Observation, tuple[Any, ...]]]] = {}
    for obs, order in attempts:
        by_window.setdefault(obs.run_key, []).append((obs, order))
    observations = []
    for entries in by_window.values():
        entries.sort(key=lambda e: e[1])
        newest = entries[-1][0]
        retried_before = any(o.vendor_status == "retried" for o, _ in entries[:-1])
        if newest.state in _ACTIVE and retried_before and "retrying" not in newest.flags:
            newest.flags = (*newest.flags, "retrying")
        observations.append(newest)
    observations.sort(key=lambda o: _stamp(o.started_at), reverse=True)  # newest first
    return observations


# Ties on run_at: the state later in a task's life wins.
_STATE_ORDER = {"pending": 0, "running": 1, "retried": 2, "canceled": 3, "failed": 3, "timed_out": 3, "succeeded": 4}


def normalize_task(target: Target, task: Any, group: str, where: str) -> tuple[Observation, tuple[Any, ...]]:
    """One task -> (Observation, sort key for "newest attempt")."""
    task = expect(task, dict, where)
    status = task.get("state", group)
    if status is None:
        status = group
    if not isinstance(status, str):
        raise BadResponse(f"{where}.state: expected a string, got {type(status).__name__}")
    state, flags, error_kind = TASK_STATES.get(status, (UNKNOWN, (), ""))
    from_raw, to_raw = _window_part(task, "from_date", where), _window_part(task, "to_date", where)
    started = parse_time(task.get("run_at"), f"{where}.run_at")
    finished = parse_time(task.get("last_finish"), f"{where}.last_finish")
    if from_raw or to_raw:
        key = f"{from_raw}..{to_raw}"
    elif started is not None:
        key = "run:" + started.isoformat()
    else:
        raise BadResponse(f"{where}: a task without from_date, to_date or run_at")
    error = None
    if status in ERROR_MESSAGES:
        error = RunError(message=ERROR_MESSAGES[status], code=status, kind=error_kind)
    obs = Observation(
        target=target,
        run_key=key,
        state=state,
        vendor_status=status,
        progress=1.0 if state == SUCCEEDED else None,
        started_at=started,
        finished_at=None if state in _ACTIVE else finished,
        error=error,
        flags=flags,
        raw=task,
    )
    return obs, (_stamp(started), _stamp(finished), _STATE_ORDER.get(status, -1))


def _window_part(task: dict[str, Any], name: str, where: str) -> str:
    value = task.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadResponse(f"{where}.{name}: expected a string, got {type(value).__name__}")
    parse_time(value, f"{where}.{name}")  # must at least be a time we can read
    return value.strip()


def normalize_summary(body: Any) -> dict[str, int]:
    """`status?summary=true`: `{"canceled": 933, "retried": 80, "succeeded": 1}` (the seed). The
    spec gives no schema for it; if Mixpanel answers the status schema's lists, count them."""
    body = expect(body, dict, "status summary")
    summary: dict[str, int] = {}
    for state, count in body.items():
        value = len(count) if isinstance(count, list) else as_count(count, f"summary[{state!r}]")
        if value is None:
            raise BadResponse(f"summary[{state!r}]: expected a count")
        summary[str(state)] = value
    return summary


def normalize_timeline(body: Any) -> list[dict[str, Any]]:
    """`{day_syncs: [{date, sync_times: [...], status}]}` -> the same with ISO UTC times."""
    body = expect(body, dict, "timeline response")
    days = body.get("day_syncs")
    if days is None:
        return []
    out = []
    for i, day in enumerate(expect(days, list, "day_syncs")):
        where = f"day_syncs[{i}]"
        day = expect(day, dict, where)
        date_text = expect(day.get("date"), str, f"{where}.date").strip()
        times = day.get("sync_times") or []
        synced = []
        for j, value in enumerate(expect(times, list, f"{where}.sync_times")):
            when = parse_time(value, f"{where}.sync_times[{j}]")
            if when is not None:
                synced.append(when.isoformat())
        out.append({"date": date_text, "status": nonempty_str(day.get("status")), "sync_times": synced})
    out.sort(key=lambda d: d["date"])
    return out


def normalize_jobs(body: Any, project_id: str) -> list[dict[str, Any]]:
    """`{"<project_id>": [job, ...]}` -> [{name, frequency, sync_enabled, last_dispatched, dispatcher}].

    A project-secret caller gets its project's list; the key may not be the project id we
    know, so every list in the object counts when ours is absent.
    """
    body = expect(body, dict, "jobs response")
    lists = [(project_id, body[project_id])] if project_id in body else [(str(k), v) for k, v in body.items()]
    jobs: dict[str, dict[str, Any]] = {}
    for key, items in lists:
        if items is None:
            continue
        for i, job in enumerate(expect(items, list, f"jobs[{key!r}]")):
            where = f"jobs[{key!r}][{i}]"
            job = expect(job, dict, where)
            name = expect(job.get("name"), str, f"{where}.name").strip()
            if not name:
                raise BadResponse(f"{where}.name: empty pipeline name")
            dispatched = parse_time(job.get("last_dispatched"), f"{where}.last_dispatched")
            jobs[name] = {
                "name": name,
                "frequency": nonempty_str(job.get("frequency")),
                "sync_enabled": _as_bool(job.get("sync_enabled")),
                "last_dispatched": dispatched.isoformat() if dispatched else None,
                "dispatcher": nonempty_str(job.get("Dispatcher") or job.get("dispatcher")),
            }
    return list(jobs.values())


def _as_bool(value: Any) -> bool | None:
    """`sync_enabled` is the string "true" in the docs; accept real booleans too."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None

"""The batch exports the PostHog simulator keeps, with their runs and backfills, moved on by
the simulator clock (the warehouse side is in sim_tables.py).

Runs and jobs are made lazily: asking for an export materialises the intervals whose end
has passed since the last look, unless the export is paused. A run's status follows from
the clock (Starting, Running, then its scripted outcome), so a test moves time and sees
what a real team would. A failed run is never rewritten: a retry or a backfill adds a new
row for the same interval (VENDORS.md section 7).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

INTERVALS = {
    "every 5 minutes": timedelta(minutes=5),
    "every 15 minutes": timedelta(minutes=15),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(weeks=1),
}
RUN_STATUSES = (
    "Starting",
    "Running",
    "ContinuedAsNew",
    "Completed",
    "Failed",
    "FailedRetryable",
    "FailedBilling",
    "TimedOut",
    "Terminated",
    "Cancelled",
)
FAILED_RUN = {"Failed", "FailedRetryable", "FailedBilling", "TimedOut", "Terminated"}
STARTING_SECONDS = 5
AUTO_PAUSE_FAILURES, AUTO_PAUSE_WINDOW = 10, 50  # ten failures in the last fifty runs pause an export


def iso(when: datetime | None) -> str | None:
    return when.isoformat().replace("+00:00", "Z") if when else None


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass
class Plan:
    """How one run or sync job goes: its outcome after `seconds`, rows, error text."""

    outcome: str = "Completed"
    seconds: float = 60
    records: int = 1000
    error: str = ""
    records_failed: int = 0
    stuck: bool = False  # PostHog retries inside a run without limit: it stays Running


Script = Callable[[datetime, int], Plan]  # (interval or job start, earlier attempts) -> how it goes


def always(plan: Plan) -> Script:
    return lambda _start, _attempt: plan


@dataclass
class SimRun:
    export_id: str
    interval_start: datetime
    interval_end: datetime
    created_at: datetime
    plan: Plan
    backfill_id: str | None = None
    id: str = field(default_factory=new_id)
    cancelled_at: datetime | None = None

    def done_at(self) -> datetime:
        return self.created_at + timedelta(seconds=STARTING_SECONDS + self.plan.seconds)

    def status(self, now: datetime) -> str:
        if self.cancelled_at is not None and self.cancelled_at <= now:
            return "Cancelled"
        if now < self.created_at + timedelta(seconds=STARTING_SECONDS):
            return "Starting"
        if self.plan.stuck or now < self.done_at():
            return "Running"
        return self.plan.outcome

    def finished(self, now: datetime) -> bool:
        return self.status(now) not in ("Starting", "Running", "ContinuedAsNew")

    def body(self, now: datetime) -> dict[str, Any]:
        status = self.status(now)
        started = self.created_at + timedelta(seconds=STARTING_SECONDS)
        share = 0.0 if status == "Starting" else 1.0
        if status == "Running" and self.plan.seconds > 0:
            share = min(1.0, (now - started).total_seconds() / self.plan.seconds)
        done = int(self.plan.records * share) if status != "FailedBilling" else 0
        finished = self.finished(now)
        finished_at = (self.cancelled_at if status == "Cancelled" else self.done_at()) if finished else None
        return {
            "id": self.id,
            "status": status,
            "records_completed": done if status not in FAILED_RUN or self.plan.records_failed else None,
            "records_failed": self.plan.records_failed if finished and status == "Completed" else None,
            "records_total_count": None if status == "Starting" else self.plan.records,
            "bytes_exported": done * 212 if done else None,
            "latest_error": self.plan.error if status in FAILED_RUN else None,
            "data_interval_start": iso(self.interval_start),
            "data_interval_end": iso(self.interval_end),
            "cursor": None,
            "created_at": iso(self.created_at),
            "finished_at": iso(finished_at),
            "last_updated_at": iso(min(now, finished_at) if finished_at else now),
            "batch_export": self.export_id,
            "backfill": self.backfill_id,
        }


@dataclass
class SimBackfill:
    export_id: str
    start_at: datetime
    end_at: datetime
    created_at: datetime
    runs: list[SimRun]
    adjusted_start_at: datetime | None = None
    id: str = field(default_factory=new_id)
    cancelled_at: datetime | None = None

    def status(self, now: datetime) -> str:
        if self.cancelled_at is not None and self.cancelled_at <= now:
            return "Cancelled"
        visible = [r for r in self.runs if r.created_at <= now]
        if not visible:
            return "Starting"
        if len(visible) < len(self.runs) or not all(r.finished(now) for r in visible):
            return "Running"
        return "Failed" if any(r.status(now) in FAILED_RUN for r in visible) else "Completed"

    def body(self, now: datetime) -> dict[str, Any]:
        status = self.status(now)
        finished = sum(1 for r in self.runs if r.created_at <= now and r.finished(now))
        total = len(self.runs)
        records = sum(r.plan.records for r in self.runs if r.created_at <= now and r.status(now) == "Completed")
        ended = status in ("Completed", "Failed", "Cancelled")
        finished_at = (
            self.cancelled_at if status == "Cancelled" else max((r.done_at() for r in self.runs), default=None)
        )
        return {
            "id": self.id,
            "progress": {
                "total_runs": total,
                "finished_runs": finished,
                "progress": round(finished / total, 4) if total else None,
            },
            "start_at": iso(self.start_at),
            "end_at": iso(self.end_at),
            "status": status,
            "created_at": iso(self.created_at),
            "finished_at": iso(finished_at) if ended else None,
            "last_updated_at": iso(now),
            "total_records_count": records,
            "adjusted_start_at": iso(self.adjusted_start_at),
            "batch_export": self.export_id,
        }


@dataclass
class SimExport:
    name: str
    interval: str
    destination: dict[str, Any]  # {"type", "config"}; secrets in config are never answered
    created_at: datetime
    script: Script = field(default_factory=lambda: always(Plan()))
    model: str = "events"
    paused: bool = False
    last_paused_at: datetime | None = None
    start_at: datetime | None = None
    end_at: datetime | None = None
    id: str = field(default_factory=new_id)
    runs: list[SimRun] = field(default_factory=list)
    backfills: list[SimBackfill] = field(default_factory=list)
    scheduled_until: datetime | None = None  # intervals up to here have their scheduled run

    @property
    def step(self) -> timedelta:
        return INTERVALS[self.interval]

    def advance(self, now: datetime) -> None:
        """Make the scheduled runs whose interval ended by `now`; pause as PostHog does."""
        step = self.step
        start = self.scheduled_until or floor_interval(self.start_at or self.created_at, step)
        while start + step <= now and (self.end_at is None or start + step <= self.end_at):
            end = start + step
            self._maybe_pause(end)
            if not self.paused:
                self.runs.append(SimRun(self.id, start, end, end, self.script(start, self._attempts(start))))
            start = end
        self.scheduled_until = start

    def _maybe_pause(self, at: datetime) -> None:
        if self.paused:
            return
        scheduled = [r for r in self.runs if r.backfill_id is None][-AUTO_PAUSE_WINDOW:]
        failures = sum(1 for r in scheduled if r.done_at() <= at and r.plan.outcome in FAILED_RUN and not r.plan.stuck)
        if failures >= AUTO_PAUSE_FAILURES:
            self.paused, self.last_paused_at = True, at

    def backfill(self, start_at: datetime, end_at: datetime, now: datetime, run_gap: float = 20) -> SimBackfill:
        """A backfill makes one run per interval in [start_at, end_at), one after another."""
        step = self.step
        first = floor_interval(start_at, step)
        adjusted = max(first, floor_interval(self.start_at, step)) if self.start_at else first
        backfill = SimBackfill(self.id, start_at, end_at, now, [], adjusted_start_at=adjusted)
        start, i = adjusted, 0
        while start < end_at:
            plan = self.script(start, self._attempts(start))
            run = SimRun(self.id, start, start + step, now + timedelta(seconds=i * run_gap), plan, backfill.id)
            backfill.runs.append(run)
            self.runs.append(run)
            start, i = start + step, i + 1
        self.backfills.append(backfill)
        return backfill

    def _attempts(self, interval_start: datetime) -> int:
        return sum(1 for r in self.runs if r.interval_start == interval_start)

    def cancel_backfill(self, backfill: SimBackfill, now: datetime) -> None:
        backfill.cancelled_at = now
        for run in backfill.runs:
            if run.created_at > now:
                self.runs.remove(run)
            elif not run.finished(now):
                run.cancelled_at = now
        backfill.runs = [r for r in backfill.runs if r.created_at <= now]

    def body(self, now: datetime) -> dict[str, Any]:
        newest = sorted(self.runs, key=lambda r: r.created_at, reverse=True)
        return {
            "id": self.id,
            "team_id": None,
            "name": self.name,
            "model": self.model,
            "destination": {
                "type": self.destination["type"],
                "config": {k: v for k, v in self.destination.get("config", {}).items() if k not in SECRET_KEYS},
            },
            "interval": self.interval,
            "paused": self.paused,
            "created_at": iso(self.created_at),
            "last_updated_at": iso(now),
            "last_paused_at": iso(self.last_paused_at),
            "start_at": iso(self.start_at),
            "end_at": iso(self.end_at),
            "latest_runs": [r.body(now) for r in newest if r.created_at <= now][:10],
            "hogql_query": "",
            "schema": None,
            "filters": None,
        }


SECRET_KEYS = {
    "aws_secret_access_key",
    "password",
    "private_key",
    "json_config_file",
    "token",
    "client_secret",
    "connection_string",
}


def floor_interval(when: datetime, step: timedelta) -> datetime:
    """The start of the interval holding `when` (intervals are aligned on the epoch, in UTC)."""
    epoch = datetime(1970, 1, 1, tzinfo=when.tzinfo)
    return epoch + ((when - epoch) // step) * step

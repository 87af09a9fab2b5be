"""What the PostHog simulator keeps: batch exports with their runs and backfills, warehouse
sources with their tables (schemas) and sync jobs, all moved on by the simulator clock.

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
# The warehouse statuses as PostHog's ExternalDataJob / ExternalDataSchema models spell them.
JOB_STATUSES = ("Running", "Completed", "Failed", "BillingLimitReached", "BillingLimitTooLow")
SYNC_FREQUENCIES = {
    "5min": timedelta(minutes=5),
    "30min": timedelta(minutes=30),
    "1hour": timedelta(hours=1),
    "6hour": timedelta(hours=6),
    "12hour": timedelta(hours=12),
    "24hour": timedelta(days=1),
    "7day": timedelta(days=7),
    "30day": timedelta(days=30),
}
CANCELLED_BY_USER = "Sync cancelled by user"


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


@dataclass
class SimJob:
    schema_id: str
    schema_name: str
    created_at: datetime
    plan: Plan
    id: str = field(default_factory=new_id)
    cancelled_at: datetime | None = None

    def status(self, now: datetime) -> str:
        if self.cancelled_at is not None and self.cancelled_at <= now:
            return "Failed"  # PostHog writes a user's cancel as Failed, "Sync cancelled by user"
        if self.plan.stuck or now < self.created_at + timedelta(seconds=self.plan.seconds):
            return "Running"
        return self.plan.outcome

    def error(self, now: datetime) -> str | None:
        if self.cancelled_at is not None and self.cancelled_at <= now:
            return CANCELLED_BY_USER
        return (self.plan.error or None) if self.status(now) not in ("Running", "Completed") else None

    def body(self, now: datetime) -> dict[str, Any]:
        status = self.status(now)
        finished = status != "Running"
        rows = self.plan.records if status == "Completed" else 0
        if status == "Running" and self.plan.seconds:
            rows = int(self.plan.records * min(1.0, (now - self.created_at).total_seconds() / self.plan.seconds))
        return {
            "id": self.id,
            "created_at": iso(self.created_at),
            "created_by": None,
            "status": status,
            "schema": {"id": self.schema_id, "name": self.schema_name},
            "rows_synced": rows,
            "latest_error": self.error(now),
            "workflow_run_id": f"{self.schema_id}-{self.created_at:%Y-%m-%dT%H:%M:%S}Z",
            "finished_at": iso(self.cancelled_at or self.created_at + timedelta(seconds=self.plan.seconds))
            if finished
            else None,
        }


@dataclass
class SimSchema:
    name: str
    source_id: str
    sync_frequency: str
    created_at: datetime
    script: Script = field(default_factory=lambda: always(Plan(seconds=120, records=5000)))
    should_sync: bool = True
    sync_type: str = "incremental"
    id: str = field(default_factory=new_id)
    jobs: list[SimJob] = field(default_factory=list)
    scheduled_until: datetime | None = None
    table_rows: int = 0  # rows in the table before the first job we know of
    dropped_at: datetime | None = None  # a full resync drops the table, then imports it again

    def advance(self, now: datetime) -> None:
        step = SYNC_FREQUENCIES[self.sync_frequency]
        at = self.scheduled_until or self.created_at
        while at <= now:
            if self.should_sync:
                self.jobs.append(SimJob(self.id, self.name, at, self.script(at, 0)))
            at += step
        self.scheduled_until = at

    def sync_now(self, now: datetime) -> SimJob:
        job = SimJob(self.id, self.name, now, self.script(now, 1))
        self.jobs.append(job)
        return job

    def running(self, now: datetime) -> SimJob | None:
        return next((j for j in reversed(self.jobs) if j.created_at <= now and j.status(now) == "Running"), None)

    def status(self, now: datetime) -> str | None:
        if not self.should_sync:
            return "Paused"
        latest = next((j for j in reversed(self.jobs) if j.created_at <= now), None)
        return latest.status(now) if latest else None

    def body(self, now: datetime) -> dict[str, Any]:
        done = [j for j in self.jobs if j.created_at <= now and j.status(now) == "Completed"]
        latest = next((j for j in reversed(self.jobs) if j.created_at <= now), None)
        kept = [j for j in done if self.dropped_at is None or j.created_at >= self.dropped_at]
        rows = (self.table_rows if self.dropped_at is None else 0) + sum(j.plan.records for j in kept)
        return {
            "id": self.id,
            "name": self.name,
            "label": None,
            "should_sync": self.should_sync,
            "status": self.status(now),
            "sync_type": self.sync_type,
            "sync_frequency": self.sync_frequency,
            "last_synced_at": iso(done[-1].created_at + timedelta(seconds=done[-1].plan.seconds)) if done else None,
            "latest_error": latest.error(now) if latest else None,
            "incremental": self.sync_type == "incremental",
            "table": {"id": new_id(), "name": self.name, "row_count": rows} if done else None,
        }


@dataclass
class SimSource:
    source_type: str
    created_at: datetime
    prefix: str = ""
    schemas: list[SimSchema] = field(default_factory=list)
    id: str = field(default_factory=new_id)

    def body(self, now: datetime) -> dict[str, Any]:
        statuses = [s.status(now) for s in self.schemas]
        failed = next((s for s in self.schemas if s.status(now) in ("Failed", *JOB_STATUSES[3:])), None)
        jobs = [j for s in self.schemas for j in s.jobs if j.created_at <= now]
        return {
            "id": self.id,
            "created_at": iso(self.created_at),
            "created_by": None,
            "status": "Error" if failed else ("Running" if "Running" in statuses else "Completed"),
            "source_type": self.source_type,
            "prefix": self.prefix,
            "latest_error": failed.body(now)["latest_error"] if failed else None,
            "last_run_at": iso(max((j.created_at for j in jobs), default=None)),
            "schemas": [s.body(now) for s in self.schemas],
        }


@dataclass
class SimProject:
    id: int
    exports: dict[str, SimExport] = field(default_factory=dict)
    sources: dict[str, SimSource] = field(default_factory=dict)

    def advance(self, now: datetime) -> None:
        for export in self.exports.values():
            export.advance(now)
        for source in self.sources.values():
            for schema in source.schemas:
                schema.advance(now)

    def schema(self, schema_id: str) -> SimSchema | None:
        return next((s for src in self.sources.values() for s in src.schemas if s.id == schema_id), None)


def floor_interval(when: datetime, step: timedelta) -> datetime:
    """The start of the interval holding `when` (intervals are aligned on the epoch, in UTC)."""
    epoch = datetime(1970, 1, 1, tzinfo=when.tzinfo)
    return epoch + ((when - epoch) // step) * step

"""The warehouse sources the PostHog simulator keeps: tables (PostHog calls them schemas)
synced on their frequency, each sync a job with rows or an error, cancel written as Failed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .sim_exports import Plan, Script, always, iso, new_id

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
            "incremental_field": None,
            "incremental_field_type": None,
            "sync_time_of_day": None,
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

"""The simulator's nessie pipelines: a pipeline exports one window (a project-local day,
or an hour) per task. Tasks are a pure function of the simulator clock: a window's task
appears `delay_seconds` after the window ends, waits `queue_seconds` (pending), runs
`run_seconds` (running) and ends as its scripted outcome. A `retried` outcome is an attempt
that ends retried, then a second attempt that succeeds. The routes are in nessie_simulator.py."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

PACIFIC = ZoneInfo("US/Pacific")  # the projects' time zone in every sample
GO_ZERO_PACIFIC = "0000-12-31T16:00:00-08:00"
STATUS_WINDOWS = 30  # "recent" tasks only


@dataclass
class Attempt:
    created: datetime
    queue_seconds: float
    run_seconds: float
    outcome: str

    @property
    def ended(self) -> datetime:
        return self.created + timedelta(seconds=self.queue_seconds + self.run_seconds)

    def state(self, now: datetime) -> str | None:
        if now < self.created:
            return None
        if now < self.created + timedelta(seconds=self.queue_seconds):
            return "pending"
        return "running" if now < self.ended else self.outcome


@dataclass
class SimPipeline:
    name: str
    origin: date  # the first window's project-local day
    frequency: str = "daily"  # daily | hourly
    to_date: date | None = None  # None: exports indefinitely
    outcomes: dict[int, str] = field(default_factory=dict)  # window index -> outcome (default succeeded)
    timeline_gaps: frozenset[int] = frozenset()  # succeeded windows missing from the timeline
    delay_seconds: float = 1800
    queue_seconds: float = 300
    run_seconds: float = 1200
    retry_seconds: float = 900
    data_source: str = "events"
    dispatcher: str = "backfill"
    sync_enabled: bool = True
    trial: bool = False
    pauses: list[list[datetime | None]] = field(default_factory=list)  # [start, end or None]
    # Seed samples, served instead of the scripted tasks.
    summary_verbatim: str | None = None
    tasks_verbatim: dict[str, list[dict[str, Any]]] | None = None
    timeline_verbatim: dict[str, Any] | None = None

    @property
    def hourly(self) -> bool:
        return self.frequency == "hourly"

    def window(self, i: int) -> tuple[datetime, datetime]:
        if self.hourly:
            base = datetime.combine(self.origin, time(0), PACIFIC).astimezone(UTC)
            return base + timedelta(hours=i), base + timedelta(hours=i + 1)
        start = datetime.combine(self.origin + timedelta(days=i), time(0), PACIFIC)
        return start.astimezone(UTC), datetime.combine(self.origin + timedelta(days=i + 1), time(0), PACIFIC)

    def _indexes(self, now: datetime) -> range:
        days = (now.astimezone(PACIFIC).date() - self.origin).days
        current = days * 24 + now.astimezone(PACIFIC).hour if self.hourly else days
        if self.to_date is not None:
            last_day = (self.to_date - self.origin).days
            current = min(current, (last_day + 1) * 24 - 1 if self.hourly else last_day)
        return range(max(0, current - STATUS_WINDOWS - 1), current + 1)

    def _shifted(self, when: datetime) -> datetime | None:
        """A task due while the pipeline was paused is created when it resumes."""
        for start, end in self.pauses:
            if start is not None and start <= when and (end is None or when < end):
                if end is None:
                    return None
                when = end
        return when

    def attempts(self, i: int) -> list[Attempt]:
        created = self._shifted(self.window(i)[1] + timedelta(seconds=self.delay_seconds))
        if created is None:
            return []
        outcome = self.outcomes.get(i, "succeeded")
        if outcome != "retried":
            return [Attempt(created, self.queue_seconds, self.run_seconds, outcome)]
        first = Attempt(created, self.queue_seconds, self.run_seconds, "retried")
        again = self._shifted(first.ended + timedelta(seconds=self.retry_seconds))
        rest = [Attempt(again, self.queue_seconds, self.run_seconds, "succeeded")] if again else []
        return [first, *rest]

    def tasks(self, now: datetime, project_id: str) -> list[dict[str, Any]]:
        out = []
        for i in self._indexes(now):
            start, _ = self.window(i)
            for attempt in self.attempts(i):
                state = attempt.state(now)
                if state is None:
                    continue
                finished = attempt.ended if state not in ("pending", "running") else None
                task: dict[str, Any] = {"project_id": int(project_id)} if project_id.isdigit() else {}
                task.update(
                    name=self.name,
                    state=state,
                    last_finish=_pacific(finished) if finished else GO_ZERO_PACIFIC,
                    run_at=_pacific(attempt.created),
                    from_date=_pacific(start),
                    to_date=_pacific(start),  # the seed repeats from_date for a one-window task
                )
                out.append(task)
        return out

    def status(self, now: datetime, project_id: str, states: list[str]) -> dict[str, list[dict[str, Any]]]:
        if self.tasks_verbatim is not None:
            grouped = self.tasks_verbatim
        else:
            grouped = {}
            for task in self.tasks(now, project_id):
                grouped.setdefault(task["state"], []).append(task)
        return {s: tasks for s, tasks in grouped.items() if not states or s in states}

    def summary(self, now: datetime, project_id: str) -> dict[str, int]:
        return dict(Counter(t["state"] for t in self.tasks(now, project_id)))

    def timeline(self, now: datetime) -> dict[str, Any]:
        if self.timeline_verbatim is not None:
            return self.timeline_verbatim
        days: dict[str, list[str]] = {}
        for i in self._indexes(now):
            attempts = self.attempts(i)
            if i in self.timeline_gaps or not attempts or attempts[-1].state(now) != "succeeded":
                continue
            start, _ = self.window(i)
            day = start.astimezone(PACIFIC).date().isoformat()
            days.setdefault(day, []).append(_go_pacific(attempts[-1].ended))
        return {"day_syncs": [{"date": d, "sync_times": t, "status": "synced"} for d, t in sorted(days.items())]}

    def job(self, now: datetime, project_id: str) -> dict[str, Any]:
        created = [t["run_at"] for t in self.tasks(now, project_id)]
        last = max((datetime.fromisoformat(c) for c in created), default=None)
        return {
            "name": self.name,
            "Dispatcher": self.dispatcher,
            "last_dispatched": last.astimezone(PACIFIC).strftime("%Y-%m-%d %H:%M:%S US/Pacific") if last else "",
            "frequency": self.frequency,
            "sync_enabled": "true" if self.sync_enabled else "false",
        }


def _pacific(when: datetime) -> str:
    return when.astimezone(PACIFIC).replace(microsecond=0).isoformat()


def _go_pacific(when: datetime) -> str:
    return when.astimezone(PACIFIC).strftime("%Y-%m-%d %H:%M:%S.%f %z %Z")

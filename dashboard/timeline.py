"""Geometry for the server-drawn SVG charts: run bars on a time axis, and day grids.

Only the runs inside the chosen window are read (bounded by the (pipeline, -sort_at)
index and a hard cap), never a whole history."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

from django.db.models import Min, Q
from django.utils.timezone import localtime

from jobs.models import Pipeline, Run
from vendors.base import ACTIVE_STATES

RANGES = {
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
DEFAULT_RANGE = "24h"
# Per range: the step between labelled ticks (6 to 8 labels) and how a label reads.
STEPS = {
    "1h": (timedelta(minutes=10), "%H:%M"),
    "6h": (timedelta(hours=1), "%H:%M"),
    "24h": (timedelta(hours=3), "%H:%M"),
    "7d": (timedelta(days=1), "%a %d"),
    "30d": (timedelta(days=5), "%b %d"),
}
RUNS_IN_VIEW = 6  # a default range shows at least this many runs at the pipeline's cadence
WIDTH = 1000  # SVG user units; the SVG scales to its container
MAX_RUNS = 2000
# Runs longer than this that started before the window are not looked for.
LONGEST_RUN = timedelta(days=3)


@dataclass
class Bar:
    run: Run
    x: float
    width: float
    state: str
    label: str


@dataclass
class Tick:
    x: float  # SVG user units, 0..WIDTH
    label: str
    minor: bool  # every other label: hidden on narrow screens so labels never collide

    @property
    def percent(self) -> float:
        return self.x / WIDTH * 100

    @property
    def anchor(self) -> str:
        """Labels near an edge grow inwards, so none is cut off."""
        return "start" if self.percent < 6 else "end" if self.percent > 94 else "middle"


@dataclass
class Axis:
    start: datetime
    end: datetime
    ticks: list[Tick]

    def x(self, when: datetime) -> float:
        span = (self.end - self.start).total_seconds()
        return max(0.0, min(WIDTH, (when - self.start).total_seconds() / span * WIDTH))


def axis(range_key: str, now: datetime) -> Axis:
    key = range_key if range_key in RANGES else DEFAULT_RANGE
    start = now - RANGES[key]
    step, fmt = STEPS[key]
    result = Axis(start, now, [])
    # Ticks on the reader's round minutes/hours (short ranges) or midnights (days).
    local = localtime(start).replace(second=0, microsecond=0)
    if step < timedelta(hours=1):
        minutes = int(step.total_seconds() // 60)
        tick = local.replace(minute=local.minute - local.minute % minutes)
    elif step < timedelta(days=1):
        hours = int(step.total_seconds() // 3600)
        tick = local.replace(minute=0, hour=local.hour - local.hour % hours)
    else:
        tick = local.replace(minute=0, hour=0)
    tick += step
    n = 0
    while tick < now:
        result.ticks.append(Tick(result.x(tick), localtime(tick).strftime(fmt), minor=n % 2 == 1))
        tick += step
        n += 1
    return result


def default_range(pipeline: Pipeline) -> str:
    """The shortest range that shows a handful of runs: its cadence, else its recent spacing."""
    every = pipeline.cadence_seconds()
    if not every:
        recent = list(pipeline.runs.order_by("-sort_at").values_list("sort_at", flat=True)[:10])
        gaps = sorted((a - b).total_seconds() for a, b in pairwise(recent))
        every = gaps[len(gaps) // 2] if gaps else None
    if not every:
        return DEFAULT_RANGE
    for key, span in RANGES.items():
        if span.total_seconds() >= every * RUNS_IN_VIEW:
            return key
    return "30d"


def runs_in_window(pipeline_ids: list[int], ax: Axis) -> dict[int, list[Run]]:
    recent = Q(sort_at__gte=ax.start - LONGEST_RUN) & (Q(finished_at__isnull=True) | Q(finished_at__gte=ax.start))
    still_open = Q(finished_at__isnull=True, state__in=ACTIVE_STATES)  # began long ago, runs to the now line
    runs = (
        Run.objects.filter(pipeline_id__in=pipeline_ids, sort_at__lte=ax.end)
        .filter(recent | still_open)
        .only(
            "uuid",
            "pipeline_id",
            "state",
            "vendor_status",
            "started_at",
            "finished_at",
            "first_seen_at",
            "last_seen_at",
            "sort_at",
            "error_message",
            "external_id",
            "progress",
        )
        .order_by("-sort_at")[:MAX_RUNS]  # past the cap, the oldest are the ones left out
    )
    grouped: dict[int, list[Run]] = defaultdict(list)
    for run in reversed(list(runs)):
        grouped[run.pipeline_id].append(run)
    return grouped


def bars(runs: list[Run], ax: Axis) -> list[Bar]:
    out = []
    for run in runs:
        begin = run.started_at or run.first_seen_at
        end = run.finished_at or (ax.end if run.is_active else run.last_change_at)
        x0, x1 = ax.x(begin), ax.x(max(end, begin))
        when = f"{localtime(begin):%Y-%m-%d %H:%M %Z}"
        label = f"{run.state} ({run.vendor_status or '—'}) from {when}"
        if run.error_message:
            label += f": {run.error_message[:200]}"
        out.append(Bar(run, x0, max(3.0, x1 - x0), run.state, label))
    return out


# -- days ----------------------------------------------------------------------------
def run_day(run: Run) -> date | None:
    """The day a daily run is about: Statsig keys runs by day, nessie by window start."""
    try:
        return date.fromisoformat(run.external_id[:10])
    except ValueError:
        return None


DAY_RANK = {
    "failed": 4,
    "running": 3,
    "queued": 3,
    "succeeded": 2,
    "synced": 2,
    "empty": 2,
    "unknown": 1,
    "canceled": 1,
}
DAY_KEY = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"
SYNCED = "synced"  # the one day status Mixpanel's "days synced" timeline reports


def first_days(pipelines: list[Pipeline]) -> dict[int, date]:
    """The first day each pipeline existed: when it was added here, or its oldest day at
    the vendor (a run key or a day synced) when history reaches further back. One query."""
    first = {p.pk: p.created_at.date() for p in pipelines}
    oldest = (
        Run.objects.filter(pipeline_id__in=list(first), external_id__regex=DAY_KEY)
        .values("pipeline_id")
        .annotate(first=Min("external_id"))
        .order_by()
    )
    for row in oldest:
        day = _day(row["first"])
        if day is not None:
            first[row["pipeline_id"]] = min(first[row["pipeline_id"]], day)
    for p in pipelines:
        vendor_days = [d for d in _vendor_days(p) if d is not None]
        if vendor_days:
            first[p.pk] = min(first[p.pk], min(vendor_days))
    return first


def _day(text: object) -> date | None:
    try:
        return date.fromisoformat(str(text)[:10])
    except ValueError:
        return None


def _vendor_days(pipeline: Pipeline) -> dict[date, str]:
    """What the vendor's own "days synced" says, by day (Mixpanel data pipelines)."""
    days: dict[date, str] = {}
    for entry in (pipeline.vendor_info or {}).get("timeline") or []:
        day = _day(entry.get("date", "")) if isinstance(entry, dict) else None
        if day is not None:
            days[day] = str(entry.get("status") or "")
    return days


def _disagreement(state: str, vendor: str, label: str) -> str:
    """Why our cell and the vendor's "days synced" differ for a day ("" when they agree)."""
    if state in ("succeeded", "empty") and vendor != SYNCED:
        return (
            f"Our runs say this day loaded; {label}'s days synced lists it as {vendor or 'not synced'}"
            " (its timeline can lag behind its tasks, or the sync wrote nothing)."
        )
    if state == "failed" and vendor == SYNCED:
        return (
            f"{label}'s days synced lists this day as synced, but our last run for it failed"
            " (the vendor may have synced it by a retry we have not polled yet)."
        )
    return ""


def day_outcomes(
    pipeline: Pipeline, runs: list[Run], days: list[date], first_day: date | None = None
) -> list[dict[str, object]]:
    """One cell per day: the most telling outcome of that day's runs, "empty" for a day that
    loaded no rows, "missing" for a day with none, "before" for a day before the pipeline
    existed (`first_day`, see `first_days`). Where the vendor keeps its own days synced and
    it disagrees with our runs, the cell says both (`vendor`, `note`)."""
    wanted = set(days)
    vendor_days = _vendor_days(pipeline)
    by_day: dict[date, tuple[str, Run | None]] = {}
    for day, status in vendor_days.items():
        if day in wanted and status == SYNCED:
            by_day[day] = ("succeeded", None)
    for run in runs:
        day = run_day(run)
        if day in wanted:
            current = by_day.get(day)
            state = "running" if run.is_active else "empty" if run.is_empty else run.state
            if current is None or current[1] is None or DAY_RANK.get(state, 0) > DAY_RANK.get(current[0], 0):
                by_day[day] = (state, run)
    # The vendor's range: a day outside it is one it says nothing about, not a disagreement.
    reported = (min(vendor_days), max(vendor_days)) if vendor_days else None
    label = pipeline.account.vendor_label
    cells = []
    for day in days:
        state, run = by_day.get(day, ("missing", None))
        if state == "missing" and first_day is not None and day < first_day:
            state = "before"
        text = STATE_LABELS.get(state, state)
        if state == "empty" and pipeline.empty_day_is_failure:
            text += " (counts as a failure here)"
        cell: dict[str, object] = {"day": day, "state": state, "label": text, "run": run, "vendor": "", "note": ""}
        if reported and run is not None and reported[0] <= day <= reported[1]:
            cell["vendor"] = vendor_days.get(day, "")
            cell["note"] = _disagreement(state, vendor_days.get(day, ""), label)
        cells.append(cell)
    return cells


def run_hour(run: Run) -> datetime | None:
    """The UTC hour an interval run is about, from its key (PostHog: `<start>/<end>`)."""
    try:
        return datetime.fromisoformat(run.external_id[:13] + ":00:00+00:00")
    except ValueError:
        return None


def hour_outcomes(runs: list[Run], now: datetime, first: datetime | None, days: int = 7) -> list[dict[str, object]]:
    """Rows of 24 UTC hours for the last `days` days, newest first: each hour the most telling
    outcome of the intervals that start in it (an hourly export: one; every 15 minutes:
    four), "missing" for an hour with none, "before" before the pipeline, "later" to come."""
    by_hour: dict[datetime, tuple[str, Run]] = {}
    for run in runs:
        hour = run_hour(run)
        if hour is None:
            continue
        state = "running" if run.is_active else "empty" if run.is_empty else run.state
        current = by_hour.get(hour)
        if current is None or DAY_RANK.get(state, 0) > DAY_RANK.get(current[0], 0):
            by_hour[hour] = (state, run)
    this_hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    rows = []
    for n in range(days):
        day = (this_hour - timedelta(days=n)).date()
        cells = []
        for h in range(24):
            hour = datetime(day.year, day.month, day.day, h, tzinfo=UTC)
            state, run = by_hour.get(hour, ("missing", None))
            if run is None and hour >= this_hour:
                state = "later"
            elif run is None and first is not None and hour + timedelta(hours=1) <= first:
                state = "before"
            cells.append({"hour": hour, "state": state, "label": STATE_LABELS.get(state, state), "run": run})
        rows.append({"day": day, "cells": cells})
    return rows


STATE_LABELS = {
    "succeeded": "landed",
    "empty": "loaded no data",
    "failed": "failed",
    "running": "running",
    "queued": "queued",
    "missing": "missing",
    "before": "before the pipeline existed",
    "canceled": "canceled",
    "unknown": "unknown",
    "later": "not yet",
}


@dataclass
class ProgressChart:
    points: str  # SVG polyline points
    dots: list[tuple[float, float, str]]
    start: datetime
    end: datetime


def progress_chart(snapshots: list, height: float = 100.0) -> ProgressChart | None:
    """Progress over time from a run's snapshots (oldest first), as polyline points."""
    measured = [s for s in snapshots if s.progress is not None]
    if len(measured) < 2:
        return None
    start, end = measured[0].observed_at, measured[-1].observed_at
    span = max((end - start).total_seconds(), 1.0)
    dots = []
    for s in measured:
        x = (s.observed_at - start).total_seconds() / span * WIDTH
        y = height - s.progress * height
        dots.append(
            (round(x, 1), round(y, 1), f"{localtime(s.observed_at):%H:%M:%S} · {round(s.progress * 100)}% · {s.state}")
        )
    return ProgressChart(" ".join(f"{x},{y}" for x, y, _ in dots), dots, start, end)

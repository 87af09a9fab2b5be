"""Geometry for the server-drawn SVG charts: run bars on a time axis, and day grids.

Only the runs inside the chosen window are read (bounded by the (pipeline, -sort_at)
index and a hard cap), never a whole history."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Q
from django.utils.timezone import localtime

from jobs.models import Pipeline, Run

RANGES = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
DEFAULT_RANGE = "7d"
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
class Axis:
    start: datetime
    end: datetime
    ticks: list[tuple[float, str]]

    def x(self, when: datetime) -> float:
        span = (self.end - self.start).total_seconds()
        return max(0.0, min(WIDTH, (when - self.start).total_seconds() / span * WIDTH))


def axis(range_key: str, now: datetime) -> Axis:
    span = RANGES.get(range_key, RANGES[DEFAULT_RANGE])
    start = now - span
    step = timedelta(hours=3) if span <= timedelta(days=1) else timedelta(days=1 if span <= timedelta(days=7) else 5)
    fmt = "%H:%M" if span <= timedelta(days=1) else "%b %d"
    result = Axis(start, now, [])
    # Ticks on the reader's whole hours (24h) or midnights (longer ranges).
    local = localtime(start).replace(minute=0, second=0, microsecond=0)
    tick = (local if step < timedelta(days=1) else local.replace(hour=0)) + step
    while tick < now:
        result.ticks.append((result.x(tick), localtime(tick).strftime(fmt)))
        tick += step
    return result


def runs_in_window(pipeline_ids: list[int], ax: Axis) -> dict[int, list[Run]]:
    runs = (
        Run.objects.filter(pipeline_id__in=pipeline_ids, sort_at__gte=ax.start - LONGEST_RUN, sort_at__lte=ax.end)
        .filter(Q(finished_at__isnull=True) | Q(finished_at__gte=ax.start))
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
        .order_by("sort_at")[:MAX_RUNS]
    )
    grouped: dict[int, list[Run]] = defaultdict(list)
    for run in runs:
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


DAY_RANK = {"failed": 4, "running": 3, "queued": 3, "succeeded": 2, "synced": 2, "unknown": 1, "canceled": 1}


def day_outcomes(pipeline: Pipeline, runs: list[Run], days: list[date]) -> list[dict[str, object]]:
    """One cell per day: the most telling outcome of that day's runs, or missing."""
    wanted = set(days)
    by_day: dict[date, tuple[str, Run | None]] = {}
    for entry in (pipeline.vendor_info or {}).get("timeline") or []:
        try:
            day = date.fromisoformat(str(entry.get("date", ""))[:10])
        except ValueError:
            continue
        if day in wanted and entry.get("status") == "synced":
            by_day[day] = ("succeeded", None)
    for run in runs:
        day = run_day(run)
        if day in wanted:
            current = by_day.get(day)
            state = "running" if run.is_active else run.state
            if current is None or current[1] is None or DAY_RANK.get(state, 0) > DAY_RANK.get(current[0], 0):
                by_day[day] = (state, run)
    cells = []
    for day in days:
        state, run = by_day.get(day, ("missing", None))
        cells.append({"day": day, "state": state, "run": run})
    return cells


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

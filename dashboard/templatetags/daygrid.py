"""A day grid with the empty days showing: a missing day is information too."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django import template

register = template.Library()
MAX_DAYS = 62


@register.filter
def day_cells(timeline: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Consecutive days from the first to the last the vendor reported; gaps as "missing"."""
    by_day: dict[date, dict[str, Any]] = {}
    for entry in timeline or []:
        try:
            by_day[date.fromisoformat(str(entry.get("date", ""))[:10])] = entry
        except ValueError:
            continue
    if not by_day:
        return []
    last = max(by_day)
    first = max(min(by_day), last - timedelta(days=MAX_DAYS - 1))
    cells = []
    day = first
    while day <= last:
        entry = by_day.get(day)
        cells.append(
            {
                "date": day.isoformat(),
                "status": (entry or {}).get("status") or "missing",
                "sync_times": (entry or {}).get("sync_times", []),
            }
        )
        day += timedelta(days=1)
    return cells

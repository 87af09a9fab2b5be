"""How health reasons read: day and window labels, durations, joined sentences."""

from __future__ import annotations

import re
from datetime import date, timedelta


def day_label(key: str) -> str:
    """`2026-11-24` for a day key, also for a window key such as Mixpanel's
    `2026-11-24T00:00:00-08:00..2026-11-25T00:00:00-08:00` (its first day; a longer window
    names both ends) or PostHog's `<start>/<end>`; a window within a day reads
    `2026-11-22 08:00-09:00 (an en dash)` (times as the vendor wrote them)."""
    start, sep, end = key.partition("..")
    if not sep:
        start, _, end = key.partition("/")
    first, last = start[:10], end[:10]
    if not end or not _ISO_DAY.fullmatch(first) or not _ISO_DAY.fullmatch(last):
        return key
    if _within_day(start, end):
        return f"{first} {start[11:16]}–{end[11:16] if last == first else end[:16].replace('T', ' ')}"
    return first if last in (first, _next_day(first)) else f"{first} to {last}"


def _within_day(start: str, end: str) -> bool:
    """A window shorter than a day (an hourly interval), by its written times."""
    return len(start) >= 16 and len(end) >= 16 and start[11:16] != end[11:16]


def _and(reason: str, more: str) -> str:
    """Two sentences of a health reason, the second only when there is one."""
    if not more:
        return reason
    return f"{reason.rstrip()}{'' if reason.rstrip().endswith(('.', '!', '?')) else '.'} {more}."


def _next_day(day: str) -> str:
    return (date.fromisoformat(day) + timedelta(days=1)).isoformat()


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _span(delta: timedelta) -> str:
    """A duration as people say it: minutes, hours, days, then months and years, never "2266 days"."""
    minutes = int(delta.total_seconds() // 60)
    days = minutes // 1440
    if days >= 730:
        return f"{days // 365} years"
    if days >= 60:
        return f"{days // 30} months"
    if minutes >= 48 * 60:
        return f"{days} days"
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"

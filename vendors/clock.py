"""The one "now" that rules comparing with today read (create and backfill validation):
a module function, so tests freeze it for the server process with time-machine."""

from __future__ import annotations

from datetime import UTC, date, datetime


def now() -> datetime:
    return datetime.now(UTC)


def today() -> date:
    """Today in UTC, as the vendors' date rules count days."""
    return now().date()

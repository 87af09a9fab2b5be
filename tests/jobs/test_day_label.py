"""Missing days read as days, whatever key the vendor gives a period (Mixpanel: a window)."""

import pytest

from jobs.models import day_label


@pytest.mark.parametrize(
    ("key", "label"),
    [
        ("2026-11-28", "2026-11-28"),
        ("2026-11-24T00:00:00-08:00..2026-11-24T00:00:00-08:00", "2026-11-24"),
        ("2026-11-24T00:00:00-08:00..2026-11-25T00:00:00-08:00", "2026-11-24"),
        ("2026-11-24T00:00:00-08:00..2026-11-27T00:00:00-08:00", "2026-11-24 to 2026-11-27"),
        ("2026-11-24T00:00:00Z/2026-11-25T00:00:00Z", "2026-11-24"),  # PostHog's daily interval
        ("2026-11-22T08:00:00Z/2026-11-22T09:00:00Z", "2026-11-22 08:00\u201309:00"),  # and hourly
        ("2026-11-22T23:45:00Z/2026-11-23T00:00:00Z", "2026-11-22 23:45\u20132026-11-23 00:00"),
        ("-/2026-11-22T09:00:00Z", "-/2026-11-22T09:00:00Z"),  # no start: as written
        ("job-7", "job-7"),
        ("x..y", "x..y"),
    ],
)
def test_day_label(key: str, label: str) -> None:
    assert day_label(key) == label

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
        ("job-7", "job-7"),
        ("x..y", "x..y"),
    ],
)
def test_day_label(key: str, label: str) -> None:
    assert day_label(key) == label

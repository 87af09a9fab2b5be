from datetime import UTC, datetime

import pytest

from vendors.base import BadResponse
from vendors.timeparse import format_go_time, parse_time


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", None),
        (None, None),
        ("0001-01-01 00:00:00 +0000 UTC", None),  # Go's zero time: queued, not started
        ("0000-12-31T16:00:00-08:00", None),  # the zero time shifted to Pacific (nessie)
        ("2020-09-16 07:00:00 +0000 UTC", datetime(2020, 9, 16, 7, 0, tzinfo=UTC)),
        ("2020-09-17 02:17:49.831793 +0000 UTC", datetime(2020, 9, 17, 2, 17, 49, 831793, tzinfo=UTC)),
        ("2019-08-19 14:27:46.044605 -0700 PDT", datetime(2019, 8, 19, 21, 27, 46, 44605, tzinfo=UTC)),
        ("2016-07-26T00:00:00-07:00", datetime(2016, 7, 26, 7, 0, tzinfo=UTC)),
        ("2019-04-18T14:36:11.123Z", datetime(2019, 4, 18, 14, 36, 11, 123000, tzinfo=UTC)),
        ("2019-02-01 12:00:00 US/Pacific", datetime(2019, 2, 1, 20, 0, tzinfo=UTC)),
        ("1600239600", datetime(2020, 9, 16, 7, 0, tzinfo=UTC)),
        (1600239600, datetime(2020, 9, 16, 7, 0, tzinfo=UTC)),
        (1600239600000, datetime(2020, 9, 16, 7, 0, tzinfo=UTC)),
        ("2023-09-07", datetime(2023, 9, 7, tzinfo=UTC)),
    ],
)
def test_vendor_timestamps(raw: object, expected: datetime | None) -> None:
    assert parse_time(raw) == expected


@pytest.mark.parametrize(
    "raw", ["yesterday", "2020-13-45 00:00:00 +0000 UTC", True, [1], {"a": 1}, "2019-02-01 12:00:00 Mars/Base"]
)
def test_unreadable_timestamps_are_bad_responses(raw: object) -> None:
    with pytest.raises(BadResponse):
        parse_time(raw, "start_time")


def test_go_format_round_trips() -> None:
    value = datetime(2020, 9, 17, 2, 17, 49, 831793, tzinfo=UTC)
    assert format_go_time(value) == "2020-09-17 02:17:49.831793 +0000 UTC"
    assert parse_time(format_go_time(value)) == value
    assert format_go_time(None) == "0001-01-01 00:00:00 +0000 UTC"

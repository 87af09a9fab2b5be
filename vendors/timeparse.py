"""Vendor timestamps in all the shapes we have seen, to aware UTC datetimes.

Go's `time.String()` ("2020-09-17 02:17:49.831793 +0000 UTC"), its zero time
("0001-01-01 00:00:00 +0000 UTC", or "0000-12-31T16:00:00-08:00" once shifted to Pacific
time), RFC 3339 with an offset or a Z, epoch seconds as a number or a string, and
"2019-02-01 12:00:00 US/Pacific". Zero and empty values mean "not yet" and become None.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .base import BadResponse

_GO = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2}) (?P<time>\d{2}:\d{2}:\d{2})(?P<frac>\.\d+)?"
    r" (?P<off>[+-]\d{4})(?: (?P<abbr>[A-Za-z0-9+-]+))?$"
)
_NAMED_ZONE = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2}) (?P<time>\d{2}:\d{2}:\d{2})(?P<frac>\.\d+)? (?P<zone>[A-Za-z_]+/[A-Za-z_]+)$"
)


def parse_time(value: object, field: str = "time") -> datetime | None:
    """Parse any vendor timestamp; None for empty or zero; BadResponse when unreadable."""
    try:
        return _parse(value, field)
    except (ValueError, OverflowError):  # impossible dates such as month 13, year 10000
        raise BadResponse(f"{field}: unreadable timestamp {str(value)[:60]!r}") from None


def _parse(value: object, field: str) -> datetime | None:
    if value is None or value == "" or value == 0:
        return None
    if isinstance(value, bool):
        raise BadResponse(f"{field}: expected a timestamp, got {value!r}")
    if isinstance(value, int | float):
        return _from_epoch(value, field)
    if not isinstance(value, str):
        raise BadResponse(f"{field}: expected a timestamp, got {type(value).__name__}")
    text = value.strip()
    if text.isdigit():
        return _from_epoch(int(text), field)
    if text.startswith(("0001-01-01", "0000-")):
        return None  # Go's zero time, possibly shifted into a western time zone
    if m := _GO.match(text):
        frac = (m["frac"] or "")[:7]
        parsed = datetime.fromisoformat(f"{m['date']}T{m['time']}{frac}{m['off']}")
        return parsed.astimezone(UTC)
    if m := _NAMED_ZONE.match(text):
        try:
            zone = ZoneInfo(m["zone"])
        except (ZoneInfoNotFoundError, ValueError):
            raise BadResponse(f"{field}: unknown time zone in {value!r}") from None
        frac = (m["frac"] or "")[:7]
        naive = datetime.fromisoformat(f"{m['date']}T{m['time']}{frac}")
        return naive.replace(tzinfo=zone).astimezone(UTC)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # a date or a naive time: the vendors mean UTC
    return parsed.astimezone(UTC)


def _from_epoch(value: float, field: str) -> datetime:
    # Milliseconds are common enough in vendor APIs to accept them too.
    seconds = value / 1000 if value > 10**11 else value
    try:
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
    except OverflowError:
        raise BadResponse(f"{field}: epoch value {value!r} is out of range") from None


def format_go_time(value: datetime | None) -> str:
    """The inverse, for the simulator: Go's time.String() in UTC."""
    if value is None:
        return "0001-01-01 00:00:00 +0000 UTC"
    value = value.astimezone(UTC)
    if value.microsecond:
        return value.strftime("%Y-%m-%d %H:%M:%S.%f +0000 UTC")
    return value.strftime("%Y-%m-%d %H:%M:%S +0000 UTC")

"""Small checks every normalizer shares: each raises BadResponse, never anything else."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, TypeVar

from .base import BadResponse, ErrorKind

T = TypeVar("T")


def expect(value: Any, kind: type[T], where: str) -> T:
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        got = "nothing" if value is None else type(value).__name__
        raise BadResponse(f"unexpected shape: {where} should be a {kind.__name__}, got {got}")
    return value


def nonempty_str(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def as_number(value: Any, where: str) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise BadResponse(f"{where}: expected a number, got a boolean")
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise BadResponse(f"{where}: expected a number, got {value[:40]!r}") from None
    if not isinstance(value, int | float):
        raise BadResponse(f"{where}: expected a number, got {type(value).__name__}")
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an integer too large for a float: no real count is that big
        finite = False
    if not finite:
        raise BadResponse(f"{where}: expected a finite number, got {str(value)[:40]}…")
    return value


def as_fraction(value: Any, where: str) -> float | None:
    number = as_number(value, where)
    if number is None:
        return None
    return min(1.0, max(0.0, float(number)))


def as_count(value: Any, where: str) -> int | None:
    number = as_number(value, where)
    if number is None:
        return None
    if number < 0:
        raise BadResponse(f"{where}: negative count {number!r}")
    return int(number)


def count_fields(source: Any, mapping: Mapping[str, str], where: str) -> dict[str, int]:
    """Our count name -> the vendor's field, for the fields the vendor actually sent."""
    if source is None:
        return {}
    if not isinstance(source, dict):
        raise BadResponse(f"unexpected shape: {where} should be an object")
    counts = {}
    for ours, theirs in mapping.items():
        if theirs in source:
            value = as_count(source[theirs], f"{where}.{theirs}")
            if value is not None:
                counts[ours] = value
    return counts


# Words in a vendor's failure message that tell whose problem it is.
_KIND_HINTS = (
    (ErrorKind.AUTH, ("permission", "access denied", "unauthorized", "forbidden", "credential", "role")),
    (ErrorKind.CONFIG, ("compression", "gzip", "format", "schema", "bucket", "prefix", "not found")),
    (ErrorKind.TIMEOUT, ("timed out", "timeout", "deadline")),
    (ErrorKind.RATE_LIMITED, ("rate limit", "too many requests", "quota")),
)


def classify_message(message: str) -> str:
    text = message.lower()
    for kind, words in _KIND_HINTS:
        if any(word in text for word in words):
            return kind
    return ErrorKind.VENDOR if text else ErrorKind.UNKNOWN


def status_text(value: Any, where: str) -> str | None:
    """A vendor status is a string or absent: the one check every normalizer makes."""
    if value is not None and not isinstance(value, str):
        raise BadResponse(f"{where}: expected a string, got {type(value).__name__}")
    return value

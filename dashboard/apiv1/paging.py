"""Cursor pages. A cursor is opaque to clients: base64url of JSON naming the list it belongs
to and the last row's sort key and id, so rows added or removed meanwhile neither repeat nor
skip a row (keyset paging). It is a parameter like any other: a bad one is a 400 naming it."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Any

from django.http import HttpRequest

from ..inputs import BadInput

MIN_LIMIT, MAX_LIMIT = 1, 200


def clamp_limit(limit: int) -> int:
    return max(MIN_LIMIT, min(MAX_LIMIT, limit))


def encode(kind: str, *key: Any) -> str:
    raw = json.dumps([kind, *key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str, kind: str, arity: int) -> list[Any]:
    """The key a cursor of this list holds, or a 400 naming `cursor`."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError):
        value = None
    if not isinstance(value, list) or len(value) != arity + 1 or value[0] != kind:
        raise BadInput("is not a cursor of this list: pass a `next` link's cursor unchanged", field="cursor")
    return value[1:]


def check_exclusive(cursor: str | None, offset: int | None) -> None:
    if cursor and offset is not None:
        raise BadInput("give a cursor or an offset, not both", field="cursor")


def next_link(request: HttpRequest, cursor: str) -> str:
    query = request.GET.copy()
    query.pop("offset", None)
    query["cursor"] = cursor
    return request.build_absolute_uri(f"{request.path}?{query.urlencode()}")


def keyset_page(
    request: HttpRequest, rows: Sequence[Any], limit: int, cursor_of: Callable[[Any], str]
) -> tuple[list[Any], str | None]:
    """`rows` holds up to limit + 1 rows past the cursor: the extra one says a next page exists."""
    items = list(rows)
    if len(items) <= limit:
        return items, None
    items = items[:limit]
    return items, next_link(request, cursor_of(items[-1]))

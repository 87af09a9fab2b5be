"""How the PostHog simulator answers: the `{type, code, detail, attr}` error envelope,
list pages with `count`, cursor pages without it, PostHog's date filters."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from ..simulator.core import SimRequest, SimResponse, json_response

LIST_PAGE = 100
_RELATIVE = re.compile(r"^-(\d+)([hdwmy])$")
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1), "m": timedelta(days=30)}
_UNITS["y"] = timedelta(days=365)


def error(status: int, type_: str, code: str, detail: str, attr: str | None = None) -> SimResponse:
    return json_response({"type": type_, "code": code, "detail": detail, "attr": attr}, status)


AUTH = "authentication_error"


def denied(detail: str) -> SimResponse:
    return error(403, AUTH, "permission_denied", detail)


def invalid(detail: str, attr: str | None = None, code: str = "invalid_input") -> SimResponse:
    return error(400, "validation_error", code, detail, attr)


NOT_FOUND = ("invalid_request", "not_found", "Not found.")


def offset_page(req: SimRequest, items: list[Any]) -> SimResponse:
    limit, offset = _int(req.arg("limit"), LIST_PAGE), _int(req.arg("offset"), 0)
    if limit is None or offset is None or limit < 1 or offset < 0:
        return invalid("limit and offset must be non-negative integers", "limit")
    limit = min(limit, LIST_PAGE)
    page = items[offset : offset + limit]
    more = offset + limit < len(items)
    return json_response(
        {
            "count": len(items),
            "next": _link(req, {"limit": limit, "offset": offset + limit}) if more else None,
            "previous": _link(req, {"limit": limit, "offset": max(0, offset - limit)}) if offset else None,
            "results": page,
        }
    )


def cursor_page(req: SimRequest, items: list[Any], size: int) -> SimResponse:
    cursor = req.arg("cursor")
    offset = _decode_cursor(cursor) if cursor else 0
    if offset is None:
        return error(404, "invalid_request", "not_found", "Invalid cursor")
    page = items[offset : offset + size]
    return json_response(
        {
            "next": _link(req, {"cursor": _encode_cursor(offset + size)}) if offset + size < len(items) else None,
            "previous": _link(req, {"cursor": _encode_cursor(max(0, offset - size))}) if offset else None,
            "results": page,
        }
    )


def _link(req: SimRequest, changes: dict[str, Any]) -> str:
    query = {k: v for k, v in req.query.items() if k not in changes}
    pairs = [(k, v) for k, values in query.items() for v in values] + [(k, str(v)) for k, v in changes.items()]
    host = req.headers.get("host", "127.0.0.1")
    return f"http://{host}{req.path}?{urlencode(pairs)}"


def _encode_cursor(offset: int) -> str:
    return base64.b64encode(f"o={offset}".encode()).decode()


def _decode_cursor(cursor: str) -> int | None:
    try:
        text = base64.b64decode(cursor, validate=True).decode()
    except ValueError:
        return None
    return int(text[2:]) if text.startswith("o=") and text[2:].isdigit() else None


def _int(text: str, default: int) -> int | None:
    if not text:
        return default
    return int(text) if text.isdigit() else None


def iso_datetime(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def when(text: str, now: datetime) -> datetime | None:
    """PostHog's relative (`-7d`, `-24h`) or absolute date filters."""
    if m := _RELATIVE.match(text):
        return now - int(m.group(1)) * _UNITS[m.group(2)]
    return iso_datetime(text)


def json_object(req: SimRequest) -> dict[str, Any] | SimResponse:
    try:
        body = req.json() if req.body else {}
    except ValueError:
        return error(400, "invalid_request", "parse_error", "JSON parse error")
    return body if isinstance(body, dict) else invalid("Expected a dictionary of items.", None)

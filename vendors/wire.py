"""What a vendor call puts on the wire: the URL's query, the body and the headers, built as
`requests` built them before vendor calls moved to urllib3 (ADR 19), its checks included."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

from urllib3 import HTTPHeaderDict

from .base import Rejected

USER_AGENT = "pipewatch/1.0 (+self-hosted import/export job monitor)"
# What requests sends by default, kept: vendors and their proxies saw these before.
BASE_HEADERS = {
    "User-Agent": USER_AGENT,
    "Accept-Encoding": "gzip, deflate",
    "Accept": "*/*",
    "Connection": "keep-alive",
}

_dumps = json.dumps  # `prepare` takes a `json` argument, as requests does


def prepare(
    base: Mapping[str, str],
    url: str,
    *,
    params: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
    json: Any = None,
    data: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
    auth: tuple[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> tuple[str, bytes | None, dict[str, str]]:
    """The URL with its query, the body and the headers (over `base`), as `requests` would send them."""
    merged = HTTPHeaderDict(base)
    body = None
    if json is not None:
        body = _dumps(json, allow_nan=False).encode()
        merged["Content-Type"] = "application/json"
    elif data is not None:
        body = urlencode(pairs(data), doseq=True).encode()
        merged["Content-Type"] = "application/x-www-form-urlencoded"
    for name, value in (headers or {}).items():
        merged[name] = value
    if auth is not None:
        merged["Authorization"] = basic_auth(*auth)
    for name, value in merged.items():
        if not valid_header(name, value):
            # The value may carry a credential: name the header, never quote it.
            shown = f"the {name!r} header" if isinstance(name, str) and name.isprintable() else "a request header"
            raise Rejected(f"{shown} was not sent: its value contains a line break or leading/trailing whitespace")
    if params:
        query = urlencode(pairs(params), doseq=True)
        if query:
            url = f"{url}{'&' if urlsplit(url).query else '?'}{query}"
    return url, body, dict(merged)


# requests' own rules for a header (requests.utils.check_header_validity): a value it
# would refuse is refused here too, before anything is sent.
_HEADER_NAME = re.compile(r"^[^:\s][^:\r\n]*$")
_HEADER_VALUE = re.compile(r"^\S[^\r\n]*$|^$")


def valid_header(name: object, value: object) -> bool:
    return (
        isinstance(name, str)
        and isinstance(value, str)
        and bool(_HEADER_NAME.match(name))
        and bool(_HEADER_VALUE.match(value))
    )


def basic_auth(username: str, password: str) -> str:
    """HTTP basic credentials as requests encodes them (latin-1, else UTF-8)."""
    try:
        raw = f"{username}:{password}".encode("latin1")
    except UnicodeEncodeError:
        raw = f"{username}:{password}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def pairs(values: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """Query or form pairs (a mapping or pairs) as requests builds them: None left out,
    lists repeated."""
    pairs = values.items() if isinstance(values, Mapping) else values
    return [(k, v) for k, v in pairs if v is not None]

"""The one HTTP entry point for every vendor call.

Timeouts, bounded retries (urllib3's Retry, GET only), a user agent, a response size
cap, a wall-clock deadline for bodies that trickle, and the mapping from HTTP outcomes to
typed `VendorError`s all live here, so no vendor client can forget one of them.
Tests point clients at the simulator through the account's base URL; nothing is mocked.
"""

from __future__ import annotations

import email.utils
import json
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC
from http.client import HTTPException
from typing import Any
from urllib.parse import urlsplit

import certifi
import urllib3
from requests.utils import get_environ_proxies
from urllib3.util import Retry, Timeout

from . import clock, wire
from .base import (
    CREDENTIAL_WHITESPACE,
    AuthError,
    BadResponse,
    NotFound,
    RateLimited,
    Rejected,
    Transient,
    credential_whitespace,
)

USER_AGENT = wire.USER_AGENT  # what vendors see us as (contract tests pick our requests by it)

# (code, message) extracted from a vendor's error body; each vendor knows its envelope.
ErrorParser = Callable[[Any], tuple[str, str]]

# The current poll's check, run before each of its requests (per thread: clients are shared).
_guard: ContextVar[Callable[[], None] | None] = ContextVar("vendor_request_guard", default=None)


@contextmanager
def guarded(check: Callable[[], None] | None) -> Iterator[None]:
    """Every request sent inside the block first calls `check`, which raises a
    `VendorError` (`OutOfTime`) to stop the poll: the engine bounds a poll this way."""
    token = _guard.set(check)
    try:
        yield
    finally:
        _guard.reset(token)


@dataclass(frozen=True)
class HttpSettings:
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    # Whole-response deadline: a body that trickles a byte at a time never trips the
    # read timeout, so we also bound the total time spent reading.
    total_timeout: float = 30.0
    max_bytes: int = 5 * 1024 * 1024
    retries: int = 2
    backoff_factor: float = 0.2


@dataclass
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str

    def json(self) -> Any:
        try:
            text = self.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadResponse(f"response is not valid UTF-8 (byte {exc.start})", http_status=self.status) from None
        try:
            data = json.loads(text)
        except ValueError:
            ctype = self.headers.get("Content-Type", "unknown content type")
            raise BadResponse(f"expected JSON, got {ctype}: {snippet(text)}", http_status=self.status) from None
        # JSON can only carry NUL as the escape \u0000; the check keeps the common case free.
        return without_nul(data) if "\\u0000" in text else data


def without_nul(value: Any) -> Any:
    """NUL replaced by U+FFFD in every string and key. No vendor means a NUL, and neither
    PostgreSQL text nor jsonb can store one: left in, one vendor string would make every
    poll of the account fail while writing what it saw."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [without_nul(v) for v in value]
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    return value


def snippet(text: str, limit: int = 120) -> str:
    """A short, printable excerpt of a body for an error message."""
    cleaned = "".join(ch if ch.isprintable() else " " for ch in text)
    cleaned = " ".join(cleaned.split())
    return repr(cleaned[:limit] + ("…" if len(cleaned) > limit else ""))


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After is either seconds or an HTTP date (counted from vendors.clock); anything else is ignored."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None  # "inf", "nan": no answer
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - clock.now()).total_seconds())


def default_error_parser(body: Any) -> tuple[str, str]:
    if isinstance(body, dict):
        message = body.get("message") or body.get("error") or ""
        code = body.get("code") or body.get("type") or ""
        return str(code), str(message)
    return "", ""


def code_message_envelope(body: Any) -> tuple[str, str]:
    """`{"message", "code"}`: the error envelope FullStory and Micro share."""
    if isinstance(body, dict):
        return str(body.get("code") or ""), str(body.get("message") or "")
    return "", ""


class HttpClient:
    """One urllib3 pool per account with the product's safety rails. urllib3 rather than
    `requests`: the same connection pools and Retry, at a third of the CPU per request (ADR 19)."""

    def __init__(
        self,
        settings: HttpSettings | None = None,
        error_parser: ErrorParser = default_error_parser,
        throttle: Callable[[], None] | None = None,
        credentials: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = s = settings or HttpSettings()
        # A credential no vendor accepts as typed (a pasted newline): every request is
        # refused before it is sent, with a message that names it and never quotes it.
        bad = credential_whitespace(dict(credentials or {}))
        self.refusal = f"{CREDENTIAL_WHITESPACE} ({bad}): enter it again without them; nothing was sent" if bad else ""
        self.error_parser = error_parser
        # Called before every request: waits for, or refuses (RateLimited), a token of
        # the account's shared budget. Kept outside so vendors/ needs no Redis.
        self.throttle = throttle
        self.headers = dict(wire.BASE_HEADERS)
        self.retries = Retry(
            total=s.retries,
            connect=s.retries,
            read=0,  # a read timeout already cost us read_timeout seconds
            status=s.retries,
            status_forcelist=(500, 502, 503, 504),
            allowed_methods=frozenset({"GET"}),
            backoff_factor=s.backoff_factor,
            respect_retry_after_header=False,  # 429s go back to the engine's scheduler
            raise_on_status=False,
            redirect=0,
        )
        self.timeout = Timeout(connect=s.connect_timeout, read=s.read_timeout)
        # The environment is read once per host: proxies honour HTTP(S)_PROXY and NO_PROXY,
        # the CA bundle REQUESTS_CA_BUNDLE (else certifi's, as requests does). ~/.netrc is
        # never read, so no credentials but the account's own reach a vendor.
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or certifi.where()
        tls = {"ca_cert_dir": bundle} if os.path.isdir(bundle) else {"ca_certs": bundle}
        self._pool_args: dict[str, Any] = {"maxsize": 4, "cert_reqs": "CERT_REQUIRED", **tls}
        self._direct = urllib3.PoolManager(num_pools=4, **self._pool_args)
        self._managers: dict[str, urllib3.PoolManager] = {}

    def close(self) -> None:
        for manager in {id(m): m for m in [self._direct, *self._managers.values()]}.values():
            manager.clear()

    def request(self, method: str, url: str, **kwargs: Any) -> Response:
        """Send one request and return the whole (capped) response, any status."""
        if self.refusal:
            raise AuthError(self.refusal)
        url, body, headers = wire.prepare(self.headers, url, **kwargs)
        if self.throttle is not None:
            self.throttle()
        if (check := _guard.get()) is not None:
            check()
        s = self.settings
        started = time.monotonic()
        try:
            resp = self._manager_for(url).urlopen(
                method,
                url,
                body=body,
                headers=headers,
                retries=self.retries,
                timeout=self.timeout,
                redirect=False,
                preload_content=False,
                decode_content=True,
            )
        except urllib3.exceptions.MaxRetryError as exc:
            reason = exc.reason
            if isinstance(reason, urllib3.exceptions.ConnectTimeoutError) and not isinstance(
                reason, urllib3.exceptions.NewConnectionError
            ):
                raise Transient(f"connection to {_host(url)} timed out") from None
            if isinstance(reason, urllib3.exceptions.ReadTimeoutError):
                raise Transient(f"{_host(url)} did not answer within {s.read_timeout:g} s", code="timeout") from None
            raise Transient(f"cannot connect to {_host(url)}: {_reason(reason or exc)}") from None
        except urllib3.exceptions.ReadTimeoutError:
            raise Transient(f"{_host(url)} did not answer within {s.read_timeout:g} s", code="timeout") from None
        except (urllib3.exceptions.HTTPError, HTTPException, OSError) as exc:
            raise Transient(f"request to {_host(url)} failed: {_reason(exc)}") from None
        try:
            data = self._read_capped(resp, started, url)
        finally:
            resp.release_conn()
        return Response(status=resp.status, headers=resp.headers, body=data, url=url)

    def _manager_for(self, url: str) -> urllib3.PoolManager:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        manager = self._managers.get(origin)
        if manager is None:
            proxy = get_environ_proxies(origin).get(parts.scheme)
            manager = urllib3.ProxyManager(proxy, **self._pool_args) if proxy else self._direct
            self._managers[origin] = manager
        return manager

    def _read_capped(self, resp: urllib3.BaseHTTPResponse, started: float, url: str) -> bytes:
        s = self.settings
        declared = resp.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > s.max_bytes:
            raise BadResponse(
                f"response of {int(declared):,} bytes exceeds the {s.max_bytes:,}-byte cap",
                http_status=resp.status,
            )
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in resp.stream(65536):
                size += len(chunk)
                if size > s.max_bytes:
                    raise BadResponse(f"response exceeds the {s.max_bytes:,}-byte cap", http_status=resp.status)
                if time.monotonic() - started > s.total_timeout:
                    raise Transient(
                        f"{_host(url)} took longer than {s.total_timeout:g} s to send its answer",
                        http_status=resp.status,
                        code="timeout",
                    )
                chunks.append(chunk)
        except (urllib3.exceptions.HTTPError, HTTPException, OSError) as exc:
            raise Transient(f"{_host(url)} broke off its answer: {_reason(exc)}", code="timeout") from None
        return b"".join(chunks)

    def call_json(self, method: str, url: str, **kwargs: Any) -> tuple[Any, Response]:
        """Send a request, raise a typed error for any non-2xx, return parsed JSON."""
        resp = self.request(method, url, **kwargs)
        self.raise_for_status(resp)
        if resp.status == 204 or not resp.body.strip():
            return None, resp
        return resp.json(), resp

    def raise_for_status(self, resp: Response) -> None:
        if 200 <= resp.status < 300:
            return
        code, message = self._error_details(resp)
        status = resp.status
        detail = message or _status_text(status)
        if status in (401, 403):
            raise AuthError(detail, http_status=status, code=code)
        if status == 404:
            raise NotFound(detail, http_status=status, code=code)
        if status == 429:
            retry_after = parse_retry_after(resp.headers.get("Retry-After"))
            raise RateLimited(detail, http_status=status, code=code, retry_after=retry_after)
        if status >= 500:
            raise Transient(detail, http_status=status, code=code)
        raise Rejected(detail, http_status=status, code=code)

    def _error_details(self, resp: Response) -> tuple[str, str]:
        try:
            body = resp.json()
        except BadResponse:
            text = resp.body[:2000].decode("utf-8", "replace")
            return "", f"{_status_text(resp.status)} (non-JSON body: {snippet(text, 80)})"
        try:
            return self.error_parser(body)
        except Exception:  # a malformed envelope must not hide the status code
            return "", _status_text(resp.status)


def _host(url: str) -> str:
    try:
        return urlsplit(url).netloc or url
    except ValueError:
        return url


def _reason(exc: Exception) -> str:
    text = str(exc)
    # requests nests the useful part ("Connection refused") deep inside its message.
    for marker in ("Connection refused", "Name or service not known", "timed out", "reset"):
        if marker in text:
            return marker
    return snippet(text, 100)


def _status_text(status: int) -> str:
    from http import HTTPStatus

    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"

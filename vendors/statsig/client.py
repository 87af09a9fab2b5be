"""The Statsig account session (Console API, VENDORS.md §5): host, key, API version, errors.

Its kinds: `ingestion` (ingestion.py, one status call for the account) and `backfill`
(backfills.py, one-shot runs). Credentials: `api_key` (a Console key, "console-…");
settings: `window_days` (optional, default 7).

Statsig echoes part of the key in its 401 message; every error this client raises has
what follows "Key: " (and the key itself, wherever it appears) redacted.
"""

from __future__ import annotations

import re
from typing import Any

from ..base import AccountSchema, VendorError
from ..client import VendorClient
from ..connection_check import AUTH, NOT_FOUND, PERMISSION, run_check
from .backfills import BACKFILL, BACKFILLS, Backfills, validate_backfill_spec
from .ingestion import STATUS_PATH, IngestionStatus

__all__ = [
    "BACKFILL",
    "BACKFILLS",
    "CLIENTS",
    "STATUS_PATH",
    "StatsigClient",
    "error_parser",
    "redact_key",
    "validate_backfill_spec",
]

API_VERSION = "20240601"
CHECK_HINTS = {
    AUTH: "Statsig refused the key: it must be an active Console API key (console-…).",
    PERMISSION: "The key may not read ingestion status in this project.",
    NOT_FOUND: "The base URL does not serve Statsig's Console API.",
}
_KEY_ECHO = re.compile(r"(Key:\s*)(\S+)")
_KEY_PREFIX = re.compile(r"^(console|secret|client)-", re.I)


def redact_key(text: str, key: str = "") -> str:
    """Hide the key Statsig echoes ("… Key: console-xxx") and the account's own key."""
    if key and len(key) >= 4:
        text = text.replace(key, "…(redacted)")

    def hide(m: re.Match[str]) -> str:
        prefix = _KEY_PREFIX.match(m[2])
        return f"{m[1]}{prefix[0].lower() if prefix else ''}…(redacted)"

    return _KEY_ECHO.sub(hide, text)


def error_parser(body: Any) -> tuple[str, str]:
    """`{status: 401, message: "…"}`: the numeric status is the only code Statsig gives."""
    if not isinstance(body, dict):
        return "", ""
    message = body.get("message") or body.get("error") or ""
    if isinstance(message, list):  # validation pipes sometimes answer a list of messages
        message = "; ".join(str(m) for m in message)
    status = body.get("status")
    code = str(status) if isinstance(status, int | str) and not isinstance(status, bool) else ""
    return code, redact_key(str(message))


class StatsigClient(VendorClient):
    vendor = "statsig"
    label = "Statsig"
    schema = AccountSchema(optional_settings=("window_days",), credential_sets=(("api_key",),))
    adapters = (IngestionStatus, Backfills)
    hosts = {"default": "https://statsigapi.net"}
    error_parser = staticmethod(error_parser)
    # Published for the Console API: ~100 requests / 10 s and ~900 / 15 min.
    rate_limits = ((100, 10.0), (900, 900.0))

    @property
    def api_key(self) -> str:
        return self.account.credentials.get("api_key", "")

    def _headers(self) -> dict[str, str]:
        return {"STATSIG-API-KEY": self.api_key, "STATSIG-API-VERSION": API_VERSION}

    def call(self, method: str, url: str, **kwargs: Any) -> Any:
        try:
            return super().call(method, url, **kwargs)
        except VendorError as exc:
            exc.message = redact_key(exc.message, self.api_key)
            exc.args = (exc.message,)
            raise

    def check_credentials(self) -> str:
        """Today's ingestion status: documented, read-only, and the call polling makes."""
        return run_check(self._check, CHECK_HINTS)

    def _check(self) -> str:
        ingestion = self._adapters[IngestionStatus.kind]
        assert isinstance(ingestion, IngestionStatus)
        today = ingestion.today()
        rows = ingestion.status_rows(today, today)
        return f"authenticated; {len(rows)} ingestion status row(s) for {today.isoformat()}"


CLIENTS = (StatsigClient,)  # what vendors/registry.py registers

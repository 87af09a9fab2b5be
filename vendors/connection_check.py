""" "Test connection": one cheap, documented, read-only call, and a verdict that says what
failed, so an admin knows what to fix.

`failure` is one of: auth (the vendor refused the credentials), permission (it accepted
them but they may not read this), not_found (the host answers, but the account's team,
project or path is not there), network (no answer at all), rate_limited, or vendor (it
answered with an error or with something we cannot read).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from .base import AuthError, NotFound, RateLimited, Transient, VendorError

AUTH, PERMISSION, NOT_FOUND, NETWORK, RATE_LIMITED, VENDOR = (
    "auth",
    "permission",
    "not_found",
    "network",
    "rate_limited",
    "vendor",
)
LABELS = {
    AUTH: "Authentication failed",
    PERMISSION: "Permission denied",
    NOT_FOUND: "Not found",
    NETWORK: "Network problem",
    RATE_LIMITED: "Rate limited",
    VENDOR: "Vendor error",
}


class CheckFailed(VendorError):
    """A failed connection test. Keeps the vendor's status, code and message."""

    def __init__(self, failure: str, cause: VendorError, hint: str = "") -> None:
        super().__init__(cause.message, http_status=cause.http_status, code=cause.code, retry_after=cause.retry_after)
        self.failure = failure
        self.hint = hint

    def __str__(self) -> str:
        status = f" (HTTP {self.http_status})" if self.http_status else ""
        hint = f" {self.hint}" if self.hint else ""
        return f"{LABELS[self.failure]}{status}: {self.message}.{hint}"


def failure_of(exc: VendorError) -> str:
    """Which part failed, from the typed error the HTTP layer raised."""
    if isinstance(exc, CheckFailed):
        return exc.failure
    if isinstance(exc, AuthError):
        return PERMISSION if exc.http_status == 403 else AUTH
    if isinstance(exc, NotFound):
        return NOT_FOUND
    if isinstance(exc, RateLimited):
        return RATE_LIMITED
    if isinstance(exc, Transient) and exc.http_status is None:
        return NETWORK
    return VENDOR


def run_check(call: Callable[[], str], hints: Mapping[str, str]) -> str:
    """The call's summary, or CheckFailed naming the failed part and what to check."""
    try:
        return call()
    except VendorError as exc:
        failure = failure_of(exc)
        raise CheckFailed(failure, exc, hints.get(failure, "")) from exc

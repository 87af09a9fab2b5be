"""The base every vendor client derives from: one small interface, per DESIGN.md."""

from __future__ import annotations

from typing import ClassVar

from .base import AccountConfig, AccountSchema, Observation, Target, TargetResult, VendorError
from .http import ErrorParser, HttpClient, HttpSettings, default_error_parser

POLL = "poll"
CREATE = "create"
CANCEL = "cancel"
DISCOVER = "discover"


class VendorClient:
    vendor: ClassVar[str]
    label: ClassVar[str]
    schema: ClassVar[AccountSchema]
    capabilities: ClassVar[frozenset[str]] = frozenset({POLL})
    # region -> default base URL (scheme and host); an account's base_url replaces it.
    hosts: ClassVar[dict[str, str]] = {}
    error_parser: ClassVar[ErrorParser] = staticmethod(default_error_parser)

    def __init__(self, account: AccountConfig, http_settings: HttpSettings | None = None) -> None:
        self.account = account
        self.http = HttpClient(http_settings, error_parser=type(self).error_parser)

    def close(self) -> None:
        self.http.close()

    @property
    def base_url(self) -> str:
        if self.account.base_url:
            return self.account.base_url.rstrip("/")
        region = self.account.region or next(iter(self.hosts))
        return self.hosts[region]

    def poll(self, targets: list[Target]) -> list[TargetResult]:
        """Poll each target; an account-wide error (auth, 429, vendor down) stops the rest."""
        results: list[TargetResult] = []
        for target in targets:
            try:
                results.append(TargetResult(target, self.poll_target(target)))
            except VendorError as exc:
                results.append(TargetResult(target, error=exc, http_status=exc.http_status))
                if exc.account_wide:
                    break
        return results

    def poll_target(self, target: Target) -> list[Observation]:
        raise NotImplementedError

    def check_credentials(self) -> str:
        """Call the cheapest authenticated endpoint; return a human summary or raise."""
        raise NotImplementedError

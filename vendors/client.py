"""The base every vendor client derives from: one small interface, per DESIGN.md.

Operations a vendor does not offer are simply not in `capabilities`; calling them
raises NotImplementedError, and the pages do not offer them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from .base import (
    AccountConfig,
    AccountSchema,
    CreateResult,
    FormField,
    Observation,
    Target,
    TargetResult,
    VendorError,
)
from .http import ErrorParser, HttpClient, HttpSettings, default_error_parser

POLL = "poll"
CREATE = "create"
CANCEL = "cancel"
PAUSE = "pause"  # pause/resume at the vendor (nessie)
RUN_NOW = "run_now"  # trigger a run now (warehouse manual-sync)
DISCOVER = "discover"  # the vendor lists pipelines we did not configure


class VendorClient:
    vendor: ClassVar[str]
    label: ClassVar[str]
    schema: ClassVar[AccountSchema]
    capabilities: ClassVar[frozenset[str]] = frozenset({POLL})
    # region -> default base URL (scheme and host); an account's base_url replaces it.
    hosts: ClassVar[dict[str, str]] = {}
    error_parser: ClassVar[ErrorParser] = staticmethod(default_error_parser)
    # Published request limits per credential: (requests, per seconds). The engine keeps
    # every worker under them with a shared token bucket; Retry-After still wins.
    rate_limits: ClassVar[tuple[tuple[int, float], ...]] = ()
    # What to do about an error, where the vendor knows better than the generic advice:
    # (pipeline kind, error kind) -> one sentence for the failures page.
    hints: ClassVar[dict[tuple[str, str], str]] = {}

    def __init__(
        self,
        account: AccountConfig,
        http_settings: HttpSettings | None = None,
        throttle: Callable[[], None] | None = None,
    ) -> None:
        self.account = account
        self.http = HttpClient(
            http_settings, error_parser=type(self).error_parser, throttle=throttle, credentials=account.credentials
        )

    def close(self) -> None:
        self.http.close()

    @property
    def base_url(self) -> str:
        if self.account.base_url:
            return self.account.base_url.rstrip("/")
        region = self.account.region or next(iter(self.hosts))
        return self.hosts[region]

    # -- reading -------------------------------------------------------------------
    def poll(self, targets: list[Target], discover: bool = False) -> list[TargetResult]:
        """Poll each target; an account-wide error (auth, 429, vendor down) stops the rest.

        With `discover`, vendors that can list their pipelines add results for the ones
        not in `targets`; the engine creates those pipelines.
        """
        results: list[TargetResult] = []
        for target in targets:
            try:
                results.append(self.poll_one(target))
            except VendorError as exc:
                results.append(TargetResult(target, error=exc, http_status=exc.http_status))
                if exc.account_wide:
                    return results
        if discover and DISCOVER in self.capabilities:
            known = {t.key for t in targets}
            try:
                results.extend(r for r in self.discover() if r.target.key not in known)
            except VendorError as exc:
                if exc.account_wide:
                    results.append(TargetResult(Target("", ""), error=exc, http_status=exc.http_status))
        return results

    def poll_one(self, target: Target) -> TargetResult:
        """One target's result; the default wraps `poll_target`'s observations."""
        return TargetResult(target, self.poll_target(target))

    def poll_target(self, target: Target) -> list[Observation]:
        raise NotImplementedError

    def discover(self) -> list[TargetResult]:
        """Every pipeline the vendor lists for this account (DISCOVER capability)."""
        raise NotImplementedError

    def check_credentials(self) -> str:
        """Call the cheapest authenticated endpoint; return a human summary or raise."""
        raise NotImplementedError

    # -- acting (only what `capabilities` says) ----------------------------------------
    def create_fields(self, kind: str, spec: dict[str, Any]) -> list[FormField]:
        """The inputs a create request of this kind takes, given what is chosen so far
        (nessie's fields depend on the pipeline type). Empty: nothing can be created."""
        return []

    def describe_create(self, kind: str, spec: dict[str, Any]) -> str:
        """What sending this spec would do ("1,200 rows read: 1 job"), for a preview."""
        return ""

    def validate_create(self, kind: str, spec: dict[str, Any]) -> dict[str, Any]:
        """Check a create request as the vendor would; return it cleaned or raise InvalidSpec."""
        raise NotImplementedError

    def create(self, kind: str, spec: dict[str, Any]) -> CreateResult:
        raise NotImplementedError

    def cancel(self, target: Target, run_key: str = "") -> str:
        raise NotImplementedError

    def pause(self, target: Target) -> str:
        raise NotImplementedError

    def resume(self, target: Target) -> str:
        raise NotImplementedError

    def run_now(self, target: Target) -> CreateResult:
        raise NotImplementedError

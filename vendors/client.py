"""The account session every vendor client derives from (DESIGN.md, ADR 0015).

A client is one vendor account: its hosts, auth, HTTP, error envelope and clock. What each
kind of pipeline can do and how it is read live in its adapter (adapter.py), listed in
`adapters`; the session hands each kind its targets and each action to the kind's adapter.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar

from . import clock
from .adapter import CANCEL, CREATE, DISCOVER, PAUSE, RUN_NOW, Adapter
from .base import (
    AccountConfig,
    AccountSchema,
    CreateResult,
    FormField,
    InvalidSpec,
    Rejected,
    Target,
    TargetResult,
)
from .http import ErrorParser, HttpClient, HttpSettings, default_error_parser
from .operations import Fact, Operation

POLL = "poll"

__all__ = ["CANCEL", "CREATE", "DISCOVER", "PAUSE", "POLL", "RUN_NOW", "VendorClient"]


class VendorClient:
    vendor: ClassVar[str]
    label: ClassVar[str]
    # Regions, settings and credentials; the kind tuples are filled in from `adapters`.
    schema: ClassVar[AccountSchema]
    adapters: ClassVar[tuple[type[Adapter], ...]] = ()
    # Every kind's capabilities together (derived): what the account can do at all.
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

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.adapters:
            return
        by_kind = {a.kind: a for a in cls.adapters}
        cls.capabilities = frozenset({POLL}).union(*(a.capabilities for a in cls.adapters))
        cls.schema = dataclasses.replace(
            cls.schema,
            kinds=tuple(by_kind),
            one_shot_kinds=tuple(k for k, a in by_kind.items() if a.one_shot),
            import_kinds=tuple(k for k, a in by_kind.items() if a.is_import),
            period_kinds=tuple(k for k, a in by_kind.items() if a.periodic),
        )

    def __init__(
        self,
        account: AccountConfig,
        http_settings: HttpSettings | None = None,
        throttle: Callable[[], None] | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.account = account
        self.http = HttpClient(
            http_settings, error_parser=type(self).error_parser, throttle=throttle, credentials=account.credentials
        )
        # "Today" for windows and create rules; tests pin it.
        self.now: Callable[[], datetime] = now or clock.now
        self._adapters: dict[str, Adapter] = {a.kind: a(self) for a in type(self).adapters}

    def close(self) -> None:
        self.http.close()

    @property
    def base_url(self) -> str:
        if self.account.base_url:
            return self.account.base_url.rstrip("/")
        region = self.account.region or next(iter(self.hosts))
        return self.hosts[region]

    def _headers(self) -> dict[str, str]:
        """The auth headers every call of the account carries (header-auth vendors)."""
        return {}

    def call(self, method: str, url: str, **kwargs: Any) -> Any:
        """One JSON call with the account's auth headers; the decoded body."""
        headers = {**self._headers(), **kwargs.pop("headers", {})}
        body, _ = self.http.call_json(method, url, headers=headers, **kwargs)
        return body

    # -- what each kind can do (no call to the vendor) -----------------------------------
    @classmethod
    def capabilities_for(cls, kind: str) -> frozenset[str]:
        return next((a.capabilities for a in cls.adapters if a.kind == kind), frozenset())

    @classmethod
    def adapter_class(cls, kind: str) -> type[Adapter] | None:
        return next((a for a in cls.adapters if a.kind == kind), None)

    @classmethod
    def cadence_for(cls, kind: str, info: dict[str, Any] | None = None) -> int | None:
        """Seconds between expected successes of `kind` by the vendor's schedule in `info`
        (a pipeline's vendor_info), else the kind's usual one."""
        adapter = cls.adapter_class(kind)
        if adapter is None:
            return None
        return adapter.cadence_from(info or {}) or adapter.cadence_seconds

    @classmethod
    def asks_open_runs(cls, kind: str) -> bool:
        """Do this kind's targets carry the keys of their open runs?"""
        adapter = cls.adapter_class(kind)
        return bool(adapter and adapter.asks_open_runs)

    @classmethod
    def operations_for(cls, kind: str) -> tuple[Operation, ...]:
        adapter = cls.adapter_class(kind)
        return adapter.operations if adapter else ()

    @classmethod
    def operation(cls, kind: str, name: str) -> Operation | None:
        return next((op for op in cls.operations_for(kind) if op.name == name), None)

    @classmethod
    def facts_for(cls, kind: str, info: dict[str, Any]) -> list[Fact]:
        adapter = cls.adapter_class(kind)
        return adapter.facts(info) if adapter else []

    # -- reading -------------------------------------------------------------------
    def poll(self, targets: list[Target], discover: bool = False) -> list[TargetResult]:
        """Each kind's adapter observes its targets; an account-wide error stops the rest.

        With `discover`, kinds that can list their pipelines add results for the ones not in
        `targets`; the engine creates those pipelines.
        """
        by_kind: dict[str, list[Target]] = {}
        for target in targets:
            by_kind.setdefault(target.kind, []).append(target)
        if discover:
            for kind, adapter in self._adapters.items():
                if DISCOVER in adapter.capabilities:
                    by_kind.setdefault(kind, [])
        results: list[TargetResult] = []
        for kind, group in by_kind.items():
            adapter = self._adapters.get(kind)
            if adapter is None:
                error = Rejected(f"{self.label} has no {kind!r} pipelines")
                results.extend(TargetResult(t, error=error) for t in group)
                continue
            for result in adapter.observe(group, discover and DISCOVER in adapter.capabilities):
                results.append(result)
                if result.error is not None and result.error.account_wide:
                    return results
        return results

    def check_credentials(self) -> str:
        """Call the cheapest authenticated endpoint; return a human summary or raise."""
        raise NotImplementedError

    # -- acting (only what the kind's capabilities say) --------------------------------
    def _acting(self, kind: str, capability: str) -> Adapter | None:
        adapter = self._adapters.get(kind)
        return adapter if adapter is not None and capability in adapter.capabilities else None

    def create_fields(self, kind: str, spec: dict[str, Any]) -> list[FormField]:
        """The inputs a create request of this kind takes, given what is chosen so far
        (nessie's fields depend on the pipeline type). Empty: nothing can be created."""
        adapter = self._acting(kind, CREATE)
        return adapter.create_fields(spec) if adapter else []

    def describe_create(self, kind: str, spec: dict[str, Any]) -> str:
        """What sending this spec would do ("1,200 rows read: 1 job"), for a preview."""
        adapter = self._acting(kind, CREATE)
        return adapter.describe_create(spec) if adapter else ""

    def validate_create(self, kind: str, spec: dict[str, Any]) -> dict[str, Any]:
        """Check a create request as the vendor would; return it cleaned or raise InvalidSpec."""
        return self._creator(kind).validate_create(spec)

    def create(self, kind: str, spec: dict[str, Any]) -> CreateResult:
        return self._creator(kind).create(spec)

    def _creator(self, kind: str) -> Adapter:
        adapter = self._acting(kind, CREATE)
        if adapter is None:
            creatable = ", ".join(k for k, a in self._adapters.items() if CREATE in a.capabilities) or "nothing"
            raise InvalidSpec({"kind": f"{self.label} cannot create {kind!r} from here, only: {creatable}"})
        return adapter

    def cancel(self, target: Target, run_key: str = "") -> str:
        return self._actor(target, CANCEL, "cancel").cancel(target, run_key)

    def pause(self, target: Target) -> str:
        return self._actor(target, PAUSE, "pause").pause(target)

    def resume(self, target: Target) -> str:
        return self._actor(target, PAUSE, "resume").resume(target)

    def run_now(self, target: Target) -> CreateResult:
        return self._actor(target, RUN_NOW, "run").run_now(target)

    def perform(self, target: Target, name: str, run_key: str, values: dict[str, Any]) -> str:
        """One of the kind's operations (operations.py); InvalidSpec, Rejected or VendorError."""
        adapter = self._adapters.get(target.kind)
        op = self.operation(target.kind, name)
        if adapter is None or op is None:
            raise Rejected(f"{self.label} offers no {name!r} for {target.kind}")
        return adapter.perform(op, target, run_key, values)

    def _actor(self, target: Target, capability: str, verb: str) -> Adapter:
        adapter = self._acting(target.kind, capability)
        if adapter is None:
            raise Rejected(f"{self.label} cannot {verb} a {target.kind} from here")
        return adapter

"""Mixpanel client: one account, three kinds, each in its own small module.

- `import_connector`: legacy Cloud Import connectors (VENDORS.md §1), here.
- `warehouse_import`: Warehouse Connectors imports (§1b), in warehouse.py.
- `export_pipeline`: data pipelines "nessie" (§2), in nessie.py.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

from .. import clock
from ..base import (
    AccountConfig,
    AccountSchema,
    AuthError,
    BadResponse,
    CreateResult,
    FormField,
    NotFound,
    Observation,
    Rejected,
    RemovedApi,
    Target,
    TargetResult,
    VendorError,
)
from ..client import CANCEL, CREATE, DISCOVER, PAUSE, POLL, RUN_NOW, VendorClient
from ..connection_check import AUTH, NETWORK, NOT_FOUND, PERMISSION, RATE_LIMITED, run_check
from ..http import HttpSettings
from ..normalizing import expect
from .nessie import EXPORT_PIPELINE, Nessie, reject_kind
from .nessie_spec import form_fields, validate_pipeline_spec
from .normalize import normalize_history
from .warehouse import WAREHOUSE_IMPORT, Warehouse

IMPORT_CONNECTOR = "import_connector"
LEGACY_404 = (
    "Mixpanel removed its Cloud Import connectors API in November 2024: a 404 from it most likely means "
    "the API is gone for this project; less likely, the connector id is wrong"
)
LEGACY_HINT = (
    "Mixpanel removed the Cloud Import connectors API (Nov 2024): re-create this import as a warehouse "
    "import (Warehouse Connectors) and track it as kind warehouse_import; the connector's history is gone."
)


def error_parser(body: Any) -> tuple[str, str]:
    """`{status: "error", type, message}` (spec) or `{status: "error", error}` (siblings)."""
    if not isinstance(body, dict):
        return "", ""
    message = body.get("message") or body.get("error") or ""
    code = body.get("type") or body.get("code") or ""
    return str(code), str(message)


class MixpanelClient(VendorClient):
    vendor = "mixpanel"
    label = "Mixpanel"
    schema = AccountSchema(
        regions=("us", "eu", "in"),
        required_settings=("project_id",),
        credential_sets=(("username", "secret"), ("api_secret",)),
        kinds=(IMPORT_CONNECTOR, WAREHOUSE_IMPORT, EXPORT_PIPELINE),
        import_kinds=(IMPORT_CONNECTOR, WAREHOUSE_IMPORT),
        # An integer in every path and query of Mixpanel's specs.
        setting_formats=(("project_id", r"[0-9]+", "a number (Mixpanel's project id, e.g. 12345)"),),
        period_kinds=(EXPORT_PIPELINE,),
    )
    capabilities = frozenset({POLL, CREATE, CANCEL, PAUSE, RUN_NOW, DISCOVER})
    hints = {(IMPORT_CONNECTOR, "not_found"): LEGACY_HINT}
    hosts = {
        "us": "https://mixpanel.com",
        "eu": "https://eu.mixpanel.com",
        "in": "https://in.mixpanel.com",
    }
    error_parser = staticmethod(error_parser)

    def __init__(
        self,
        account: AccountConfig,
        http_settings: HttpSettings | None = None,
        throttle: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(account, http_settings, throttle)
        self.nessie = Nessie(self)
        self.warehouse = Warehouse(self)
        # "Today" for create rules (from_date not in the future, at most 6 months back).
        self.now: Callable[[], datetime] = clock.now

    # -- shared plumbing -----------------------------------------------------------
    @property
    def uses_service_account(self) -> bool:
        return bool(self.account.credentials.get("username"))

    @property
    def auth(self) -> tuple[str, str]:
        creds = self.account.credentials
        if self.uses_service_account:
            return creds["username"], creds.get("secret", "")
        return creds.get("api_secret", ""), ""  # legacy project secret: "API_SECRET:"

    @property
    def project_id(self) -> str:
        return str(self.account.settings.get("project_id", ""))

    def app_url(self, path: str) -> str:
        return f"{self.base_url}/api/app/projects/{quote(self.project_id, safe='')}{path}"

    def app_auth(self) -> tuple[str, str]:
        """The app APIs' (connectors, warehouse imports) only scheme is a service account."""
        if not self.uses_service_account:
            raise Rejected(
                "Mixpanel's app API (connector history, warehouse imports) accepts a service account only: "
                "give this account a username and secret (a project secret works for data pipelines alone)"
            )
        return self.auth

    def _today(self) -> date:
        return self.now().astimezone(UTC).date()

    # -- reading -------------------------------------------------------------------
    def poll(self, targets: list[Target], discover: bool = False) -> list[TargetResult]:
        # One jobs listing per poll serves both the pipelines' info and discovery.
        if discover or any(t.kind == EXPORT_PIPELINE for t in targets):
            try:
                self.nessie.jobs_cache = {job["name"]: job for job in self.nessie.jobs()}
            except VendorError as exc:
                self.nessie.jobs_error = exc  # info stays partial; discover() reports it
        try:
            return super().poll(targets, discover)
        finally:
            self.nessie.jobs_cache = self.nessie.jobs_error = None

    def poll_one(self, target: Target) -> TargetResult:
        if target.kind == EXPORT_PIPELINE:
            return self.nessie.poll_one(target)
        return TargetResult(target, self.poll_target(target))

    def poll_target(self, target: Target) -> list[Observation]:
        if target.kind == IMPORT_CONNECTOR:
            url = self.app_url(f"/connectors/{quote(target.external_id, safe='')}/history")
            try:
                body, _ = self.http.call_json("GET", url, auth=self.app_auth())
            except NotFound as exc:
                said = f" (Mixpanel said: {exc.message})" if exc.message else ""
                raise RemovedApi(LEGACY_404 + said, http_status=exc.http_status, code=exc.code) from None
            # Only the first page: history is newest first, and the current run is on it.
            return normalize_history(target, body)
        if target.kind == WAREHOUSE_IMPORT:
            return self.warehouse.poll_target(target)
        if target.kind == EXPORT_PIPELINE:
            return self.nessie.poll_one(target).observations
        raise BadResponse(f"Mixpanel client cannot poll kind {target.kind!r}")

    def create_fields(self, kind: str, spec: dict[str, Any]) -> list[FormField]:
        if kind != EXPORT_PIPELINE:
            return []
        return form_fields(str(spec.get("type") or ""))

    def discover(self) -> list[TargetResult]:
        """Every data pipeline `pipeline/jobs` lists for the project.

        A 403 there means this account may not see data pipelines (they need Admin or
        Owner [M5]), not that its credentials are broken: the connectors still poll.
        """
        try:
            return self.nessie.discover()
        except AuthError as exc:
            if exc.http_status == 403:
                raise Rejected(
                    f"data pipelines are not visible to this account: {exc.message}", http_status=403
                ) from None
            raise

    def check_credentials(self) -> str:
        """One cheap, documented, read-only call needing what polling needs: the warehouse
        imports list for a service account (the app API, as the connectors' and imports'
        history), the data pipelines list for a project secret (the only API that takes one).
        A failure says which of auth, permission, not-found or network it was."""
        project, host = self.project_id, self.base_url

        def call() -> str:
            if self.uses_service_account:
                body, _ = self.http.call_json("GET", self.app_url("/warehouse-sources/imports"), auth=self.auth)
                imports = expect(expect(body, dict, "response").get("results"), list, "results")
                return f"authenticated: service account reads project {project} ({len(imports)} warehouse imports)"
            jobs = self.nessie.jobs()
            return f"authenticated: project secret reads project {project} ({len(jobs)} data pipelines)"

        return run_check(
            call,
            {
                AUTH: "Mixpanel refused these credentials; check the service account's username and secret.",
                PERMISSION: f"The credentials work but may not read project {project}: add the service account "
                "to the project (data pipelines also need the Admin or Owner role).",
                NOT_FOUND: f"{host} knows no project {project}; check the project id and the region (us, eu, in).",
                NETWORK: f"Could not get an answer from {host}.",
                RATE_LIMITED: "Mixpanel asks us to wait; the credentials were not checked.",
            },
        )

    # -- acting --------------------------------------------------------------------
    def validate_create(self, kind: str, spec: dict[str, Any]) -> dict[str, Any]:
        if kind != EXPORT_PIPELINE:
            raise reject_kind(kind)
        return validate_pipeline_spec(spec, self._today())

    def create(self, kind: str, spec: dict[str, Any]) -> CreateResult:
        if kind != EXPORT_PIPELINE:
            raise reject_kind(kind)
        return self.nessie.create(spec, self._today())

    def cancel(self, target: Target, run_key: str = "") -> str:
        self._only(target, EXPORT_PIPELINE, "cancel")
        return self.nessie.cancel(target)

    def pause(self, target: Target) -> str:
        self._only(target, EXPORT_PIPELINE, "pause")
        return self.nessie.pause(target)

    def resume(self, target: Target) -> str:
        self._only(target, EXPORT_PIPELINE, "resume")
        return self.nessie.resume(target)

    def run_now(self, target: Target) -> CreateResult:
        self._only(target, WAREHOUSE_IMPORT, "run")
        return self.warehouse.run_now(target)

    @staticmethod
    def _only(target: Target, kind: str, verb: str) -> None:
        if target.kind != kind:
            raise Rejected(f"Mixpanel cannot {verb} a {target.kind} from here, only a {kind}")

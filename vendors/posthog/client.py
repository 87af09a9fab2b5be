"""The PostHog account session (VENDORS.md section 7): US, EU or a self-hosted host, a personal
API key, one project. Its kinds are in exports.py (batch exports) and tables.py (warehouse
tables); the calls in session.py, the answers in normalize.py."""

from __future__ import annotations

from ..base import AccountSchema
from ..client import VendorClient
from ..connection_check import AUTH, NOT_FOUND, PERMISSION, run_check
from .exports import BatchExports
from .observe import check
from .session import HOSTS, RATE_LIMITS, PostHogSession, error_parser
from .tables import WarehouseTables

CHECK_HINTS = {
    AUTH: "PostHog got no personal API key it could use: set the account's api_key (phx_...).",
    PERMISSION: (
        "PostHog refused the key for this project: it needs the scopes batch_export:read and "
        "external_data_source:read (and :write to act), and access to the project."
    ),
    NOT_FOUND: "PostHog does not know this project id, or the base URL is not a PostHog instance.",
}


class PostHogClient(VendorClient):
    vendor = "posthog"
    label = "PostHog"
    schema = AccountSchema(
        regions=tuple(HOSTS),
        required_settings=("project_id",),
        credential_sets=(("api_key",),),
        setting_formats=(("project_id", r"[0-9]{1,18}", "PostHog's numeric project id"),),
    )
    adapters = (BatchExports, WarehouseTables)
    hosts = HOSTS  # a self-hosted instance: its base_url, allowed by VENDOR_HOST_ALLOWLIST
    error_parser = staticmethod(error_parser)
    rate_limits = RATE_LIMITS
    hints = {
        ("batch_export", "config"): "PostHog stopped on billing: raise the quota, then retry the failed intervals.",
        (
            "warehouse_table",
            "config",
        ): "PostHog stopped the sync on a billing limit: raise it in PostHog's billing settings.",
    }

    def project(self) -> PostHogSession:
        key = self.account.credentials.get("api_key", "")
        return PostHogSession(self.http, self.base_url, key, str(self.account.settings.get("project_id", "")))

    def check_credentials(self) -> str:
        """The exports and sources lists: read-only, and the scopes polling needs."""
        return run_check(lambda: check(self.project()), CHECK_HINTS)


CLIENTS = (PostHogClient,)

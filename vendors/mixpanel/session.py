"""The Mixpanel account session: hosts, the two auth schemes, the project, the error envelope.

Its kinds (connectors.py, warehouse.py, nessie.py) read it; client.py puts them together.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ..base import AccountSchema, Rejected
from ..client import VendorClient


def error_parser(body: Any) -> tuple[str, str]:
    """`{status: "error", type, message}` (spec) or `{status: "error", error}` (siblings)."""
    if not isinstance(body, dict):
        return "", ""
    message = body.get("message") or body.get("error") or ""
    code = body.get("type") or body.get("code") or ""
    return str(code), str(message)


class MixpanelSession(VendorClient):
    vendor = "mixpanel"
    label = "Mixpanel"
    schema = AccountSchema(
        regions=("us", "eu", "in"),
        required_settings=("project_id",),
        credential_sets=(("username", "secret"), ("api_secret",)),
        # An integer in every path and query of Mixpanel's specs.
        setting_formats=(("project_id", r"[0-9]+", "a number (Mixpanel's project id, e.g. 12345)"),),
    )
    hosts = {
        "us": "https://mixpanel.com",
        "eu": "https://eu.mixpanel.com",
        "in": "https://in.mixpanel.com",
    }
    error_parser = staticmethod(error_parser)

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

"""Mixpanel app API client for import connectors (legacy Cloud Import, VENDORS.md §1)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ..base import AccountSchema, BadResponse, Observation, Target
from ..client import POLL, VendorClient
from ..normalizing import expect
from .normalize import normalize_history

IMPORT_CONNECTOR = "import_connector"


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
        kinds=(IMPORT_CONNECTOR,),
    )
    capabilities = frozenset({POLL})
    hosts = {
        "us": "https://mixpanel.com",
        "eu": "https://eu.mixpanel.com",
        "in": "https://in.mixpanel.com",
    }
    error_parser = staticmethod(error_parser)

    @property
    def _auth(self) -> tuple[str, str]:
        creds = self.account.credentials
        if creds.get("username"):
            return creds["username"], creds.get("secret", "")
        return creds.get("api_secret", ""), ""  # legacy project secret: "API_SECRET:"

    def _app_url(self, path: str) -> str:
        project = quote(str(self.account.settings.get("project_id", "")), safe="")
        return f"{self.base_url}/api/app/projects/{project}{path}"

    def poll_target(self, target: Target) -> list[Observation]:
        if target.kind != IMPORT_CONNECTOR:
            raise BadResponse(f"Mixpanel client cannot poll kind {target.kind!r}")
        url = self._app_url(f"/connectors/{quote(target.external_id, safe='')}/history")
        body, _ = self.http.call_json("GET", url, auth=self._auth)
        # Only the first page: history is newest first, and the current run is on it.
        return normalize_history(target, body)

    def check_credentials(self) -> str:
        body, _ = self.http.call_json("GET", self._app_url("/connectors"), auth=self._auth)
        data = expect(
            expect(expect(body, dict, "response").get("results"), dict, "results").get("data"), list, "results.data"
        )
        return f"authenticated; project has {len(data)} connector(s)"

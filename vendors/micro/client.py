"""The Micro account session (VENDORS.md §4): host, API key, team, errors. Its one kind,
Prism imports, is in imports.py."""

from __future__ import annotations

from ..base import AccountSchema
from ..client import VendorClient
from ..connection_check import AUTH, NOT_FOUND, PERMISSION, run_check
from ..http import code_message_envelope
from ..normalizing import expect
from .imports import IMPORT, OBJECT_TYPES, Imports, team

__all__ = ["CLIENTS", "IMPORT", "OBJECT_TYPES", "MicroClient", "error_parser"]

CHECK_HINTS = {
    AUTH: "Micro got no API key it could use: set the account's api_key.",
    PERMISSION: "Micro refused the key: it is invalid or revoked, or has no access to this team.",
    NOT_FOUND: "Micro does not know this team id, or the base URL is not Micro's API.",
}
error_parser = code_message_envelope


class MicroClient(VendorClient):
    vendor = "micro"
    label = "Micro"
    schema = AccountSchema(required_settings=("team_id",), credential_sets=(("api_key",),))
    adapters = (Imports,)
    # The SDKs and API reference use developers.micro.so; the guides say api.micro.so.
    # An account's base_url picks either (both are allowed vendor hosts).
    hosts = {"default": "https://developers.micro.so"}
    extra_hosts = ("api.micro.so", "developers.staging.micro.so")
    error_parser = staticmethod(code_message_envelope)
    rate_limits = ((10, 1.0),)  # 10 requests per second per key

    def _headers(self) -> dict[str, str]:
        return {"x-api-key": self.account.credentials.get("api_key", "")}

    def check_credentials(self) -> str:
        """`GET /v2/prism/{teamId}/properties` (micro-so's properties.list_all): documented,
        read-only, and it needs the key's access to the team, as polling does."""
        return run_check(self._check, CHECK_HINTS)

    def _check(self) -> str:
        body = self.call("GET", f"{self.base_url}/v2/prism/{team(self)}/properties")
        expect(body, dict, "properties response")
        return "authenticated: Micro accepts the key for this team"


CLIENTS = (MicroClient,)  # what vendors/registry.py registers

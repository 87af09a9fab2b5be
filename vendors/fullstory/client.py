"""The FullStory account session (server API v2, VENDORS.md §3): hosts, the API key, errors.

Its kinds, events and users batch imports, are in imports.py.
"""

from __future__ import annotations

from ..base import AccountSchema, NotFound
from ..client import VendorClient
from ..connection_check import AUTH, NOT_FOUND, PERMISSION, run_check
from ..http import code_message_envelope
from .imports import BATCH_LIMIT, EVENTS, USERS, ErrorsNotReady, EventsImports, UsersImports

__all__ = [
    "BATCH_LIMIT",
    "CLIENTS",
    "EVENTS",
    "USERS",
    "ErrorsNotReady",
    "FullStoryClient",
    "error_parser",
]

CHECK_JOB_ID = "pipewatch-connection-check"  # a job id no batch import ever gets
CHECK_HINTS = {
    AUTH: "FullStory refused the API key: check it, and its region (na1/eu1).",
    PERMISSION: "The key may not read batch imports: use a key with the needed role.",
    NOT_FOUND: "The base URL does not answer as FullStory's API: check it.",
}
error_parser = code_message_envelope  # `{"message", "code"}`, the one envelope of every FullStory error


class FullStoryClient(VendorClient):
    vendor = "fullstory"
    label = "FullStory"
    schema = AccountSchema(regions=("na1", "eu1"), credential_sets=(("api_key",),))
    adapters = (EventsImports, UsersImports)
    hosts = {"na1": "https://api.fullstory.com", "eu1": "https://api.eu1.fullstory.com"}
    error_parser = staticmethod(code_message_envelope)
    # Per-second and burst limits exist but are unpublished [F3]: no static budget here;
    # the engine backs off on each 429's Retry-After instead.
    rate_limits = ()

    def _headers(self) -> dict[str, str]:
        # The key goes in as it is: FullStory's "Basic" is not base64 user:password [F4].
        return {"Authorization": f"Basic {self.account.credentials.get('api_key', '')}"}

    def check_credentials(self) -> str:
        """Ask for the status of a job that cannot exist (read-only, the permission polling
        needs): FullStory's own 404 (`resource_not_found`) means the key was accepted."""
        return run_check(self._check, CHECK_HINTS)

    def _check(self) -> str:
        try:
            self.call("GET", f"{self.base_url}/v2/events/batch/{CHECK_JOB_ID}")
        except NotFound as exc:
            if exc.code != "resource_not_found":  # a 404 from something that is not FullStory
                raise
            return "authenticated: FullStory accepts the key and it may read batch import jobs"
        return "authenticated"


CLIENTS = (FullStoryClient,)  # what vendors/registry.py registers

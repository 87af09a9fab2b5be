"""Mixpanel legacy Cloud Import connectors (VENDORS.md §1): kind `import_connector`."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from ..adapter import PerTarget
from ..base import NotFound, RemovedApi, Target, TargetResult
from .normalize import normalize_history

if TYPE_CHECKING:
    from .session import MixpanelSession

IMPORT_CONNECTOR = "import_connector"
LEGACY_404 = (
    "Mixpanel removed its Cloud Import connectors API in November 2024: a 404 from it most likely means "
    "the API is gone for this project; less likely, the connector id is wrong"
)
LEGACY_HINT = (
    "Mixpanel removed the Cloud Import connectors API (Nov 2024): re-create this import as a warehouse "
    "import (Warehouse Connectors) and track it as kind warehouse_import; the connector's history is gone."
)


class ImportConnectors(PerTarget):
    kind = IMPORT_CONNECTOR
    is_import = True
    session: MixpanelSession

    def read(self, target: Target) -> TargetResult:
        url = self.session.app_url(f"/connectors/{quote(target.external_id, safe='')}/history")
        try:
            body, _ = self.session.http.call_json("GET", url, auth=self.session.app_auth())
        except NotFound as exc:
            said = f" (Mixpanel said: {exc.message})" if exc.message else ""
            raise RemovedApi(LEGACY_404 + said, http_status=exc.http_status, code=exc.code) from None
        # Only the first page: history is newest first, and the current run is on it.
        return TargetResult(target, normalize_history(target, body))

"""Mixpanel: one account session, three kinds, each in its own small module.

- `import_connector`: legacy Cloud Import connectors (VENDORS.md §1), connectors.py.
- `warehouse_import`: Warehouse Connectors imports (§1b), warehouse.py.
- `export_pipeline`: data pipelines "nessie" (§2), nessie.py.
"""

from __future__ import annotations

from ..connection_check import AUTH, NETWORK, NOT_FOUND, PERMISSION, RATE_LIMITED, run_check
from ..normalizing import expect
from .connectors import IMPORT_CONNECTOR, LEGACY_HINT, ImportConnectors
from .nessie import EXPORT_PIPELINE, DataPipelines
from .session import MixpanelSession, error_parser
from .warehouse import WAREHOUSE_IMPORT, WarehouseImports

__all__ = ["CLIENTS", "EXPORT_PIPELINE", "IMPORT_CONNECTOR", "WAREHOUSE_IMPORT", "MixpanelClient", "error_parser"]


class MixpanelClient(MixpanelSession):
    adapters = (ImportConnectors, WarehouseImports, DataPipelines)
    hints = {(IMPORT_CONNECTOR, "not_found"): LEGACY_HINT}

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
            nessie = self._adapters[EXPORT_PIPELINE]
            assert isinstance(nessie, DataPipelines)
            jobs = nessie.jobs()
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


CLIENTS = (MixpanelClient,)  # what vendors/registry.py registers

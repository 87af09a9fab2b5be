"""PostHog warehouse tables: kind `warehouse_table`, one pipeline per table (PostHog's
"schema") of a source, its runs the sync jobs. Sync now (RUN_NOW); `cancel_sync` stops a
running sync (not the CANCEL capability, which means "the vendor deletes the pipeline")."""

from __future__ import annotations

from ..adapter import DISCOVER, RUN_NOW, PerTarget
from ..base import CreateResult, Target, TargetResult
from .observe import WAREHOUSE_TABLE, discover_tables, observe_table, since_for, split_table_id


class WarehouseTables(PerTarget):
    kind = WAREHOUSE_TABLE
    capabilities = frozenset({DISCOVER, RUN_NOW})
    is_import = True

    def read(self, target: Target) -> TargetResult:
        return observe_table(self.session.project(), target, since_for(target, self.session.now(), first=False))

    def discover(self) -> list[TargetResult]:
        project, now = self.session.project(), self.session.now()
        found = discover_tables(project)
        results = [observe_table(project, r.target, since_for(r.target, now, first=True)) for r in found]
        for result, listed in zip(results, found, strict=True):
            result.name = listed.name  # "Stripe charges", not "charges"
        return results

    def run_now(self, target: Target) -> CreateResult:
        self.session.project().sync_schema(split_table_id(target.external_id)[1])
        return CreateResult("PostHog started a sync of the table.")

    def cancel_sync(self, target: Target) -> str:
        self.session.project().cancel_schema(split_table_id(target.external_id)[1])
        return "PostHog cancelled the running sync (it records it as Failed, 'Sync cancelled by user')."

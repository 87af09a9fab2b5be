"""PostHog warehouse tables: kind `warehouse_table`, one pipeline per table (PostHog's
"schema") of a source, its runs the sync jobs. Sync now (RUN_NOW); operations: cancel a
running sync, full resync (PostHog drops the table and imports it again)."""

from __future__ import annotations

from typing import Any

from ..adapter import DISCOVER, RUN_NOW, PerTarget
from ..base import QUEUED, RUNNING, CreateResult, Target, TargetResult
from ..operations import RUN, Fact, Operation
from .facts import sync_seconds, table_facts
from .observe import WAREHOUSE_TABLE, discover_tables, observe_table, since_for, split_table_id

CANCEL_SYNC = Operation(
    "cancel-sync",
    "Cancel",
    "cancel_sync",
    scope=RUN,
    run_states=frozenset({QUEUED, RUNNING}),
    confirm="Cancel the running sync at PostHog? It is recorded there as failed, 'Sync cancelled by user'.",
)
RESYNC = Operation(
    "resync",
    "Full resync…",
    "resync",
    confirm=(
        "Full resync: PostHog DROPS this table and imports every row again from the source. "
        "Queries on it see an empty or partial table until the import finishes, and the rows count "
        "against the billing limit again. Resync?"
    ),
    help="Drops the table at PostHog and imports it again from the start.",
)


class WarehouseTables(PerTarget):
    kind = WAREHOUSE_TABLE
    capabilities = frozenset({DISCOVER, RUN_NOW})
    is_import = True
    operations = (CANCEL_SYNC, RESYNC)

    @classmethod
    def facts(cls, info: dict[str, Any]) -> list[Fact]:
        return table_facts(info)

    @classmethod
    def cadence_from(cls, info: dict[str, Any]) -> int | None:
        return sync_seconds(info.get("sync_frequency")) if info.get("should_sync") is not False else None

    def read(self, target: Target) -> TargetResult:
        return observe_table(self.session.project(), target, since_for(target, self.session.now(), first=False))

    def discover(self, known: frozenset[str]) -> list[TargetResult]:
        project, now = self.session.project(), self.session.now()
        found = [r for r in discover_tables(project) if r.target.key not in known]
        results = [observe_table(project, r.target, since_for(r.target, now, first=True)) for r in found]
        for result, listed in zip(results, found, strict=True):
            result.name = listed.name  # "Stripe charges", not "charges"
        return results

    def run_now(self, target: Target) -> CreateResult:
        self.session.project().sync_schema(split_table_id(target.external_id)[1])
        return CreateResult("PostHog started a sync of the table.")

    def cancel_sync(self, target: Target, run_key: str = "", values: dict[str, Any] | None = None) -> str:
        self.session.project().cancel_schema(split_table_id(target.external_id)[1])
        return "PostHog cancelled the running sync (it records it as Failed, 'Sync cancelled by user')."

    def resync(self, target: Target, run_key: str, values: dict[str, Any]) -> str:
        self.session.project().resync_schema(split_table_id(target.external_id)[1])
        return "PostHog dropped the table and started importing it again from the start."

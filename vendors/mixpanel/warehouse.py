"""Mixpanel Warehouse Connectors imports (VENDORS.md §1b): kind `warehouse_import`.

The id is the integer import id. History has no run ids: a run is keyed by its start
time ("t:<epoch>"), or provisionally "pending" before it starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ..adapter import RUN_NOW, PerTarget
from ..base import (
    CANCELED,
    FAILED,
    RUNNING,
    SUCCEEDED,
    UNKNOWN,
    BadResponse,
    CreateResult,
    Observation,
    RunError,
    Target,
    TargetResult,
)
from ..normalizing import as_count, expect, nonempty_str, status_text
from ..timeparse import parse_time
from .normalize import PENDING_KEY, _dedupe_keys

if TYPE_CHECKING:
    from .session import MixpanelSession

WAREHOUSE_IMPORT = "warehouse_import"

# vendor run status -> state. Anything else: unknown, raw value kept.
WAREHOUSE_STATES: dict[str, str] = {
    "RUNNING": RUNNING,
    "SUCCEEDED": SUCCEEDED,
    "FAILED": FAILED,
    "CANCELLED": CANCELED,
}


def normalize_warehouse_history(target: Target, body: Any) -> list[Observation]:
    """`{status: "ok", results: {runs: [run, ...]}}` (the 30 most recent, newest first)."""
    body = expect(body, dict, "history response")
    if body.get("status") != "ok":
        raise BadResponse(f"history answered status {str(body.get('status'))[:40]!r}")
    runs = expect(expect(body.get("results"), dict, "results").get("runs"), list, "results.runs")
    observations = [normalize_warehouse_run(target, run, i) for i, run in enumerate(runs)]
    _dedupe_keys(observations)
    return observations


def normalize_warehouse_run(target: Target, run: Any, index: int = 0) -> Observation:
    where = f"results.runs[{index}]"
    run = expect(run, dict, where)
    status = status_text(run.get("status"), f"{where}.status")
    state = WAREHOUSE_STATES.get(status or "", UNKNOWN)
    start_raw = run.get("start_time")
    if start_raw is not None and (isinstance(start_raw, bool) or not isinstance(start_raw, int)):
        raise BadResponse(f"{where}.start_time: expected an integer or null")
    started = parse_time(start_raw, f"{where}.start_time")
    finished = parse_time(run.get("end_time"), f"{where}.end_time")
    imported = as_count(run.get("num_events_imported"), f"{where}.num_events_imported")
    error = None
    if state == FAILED:
        error = RunError(message="Mixpanel reports the warehouse sync failed", code=status or "", kind="unknown")
    if started is not None:
        key, provisional = f"t:{start_raw}", False
    else:
        key, provisional = PENDING_KEY, True
    return Observation(
        target=target,
        run_key=key,
        state=state,
        vendor_status=status or "",
        progress=1.0 if state == SUCCEEDED else None,
        counts={"succeeded": imported} if imported is not None else {},
        started_at=started,
        finished_at=None if state == RUNNING else finished,
        error=error,
        raw=run,
        provisional_key=provisional,
    )


class WarehouseImports(PerTarget):
    kind = WAREHOUSE_IMPORT
    capabilities = frozenset({RUN_NOW})
    is_import = True
    session: MixpanelSession

    def _url(self, target: Target, action: str) -> str:
        return self.session.app_url(f"/warehouse-sources/imports/{quote(target.external_id, safe='')}/{action}")

    def read(self, target: Target) -> TargetResult:
        body, _ = self.session.http.call_json("GET", self._url(target, "history"), auth=self.session.app_auth())
        return TargetResult(target, normalize_warehouse_history(target, body))

    def run_now(self, target: Target) -> CreateResult:
        # The spec requires a JSON body and documents no field for it: an empty object.
        body, _ = self.session.http.call_json(
            "PUT", self._url(target, "manual-sync"), json={}, auth=self.session.app_auth()
        )
        body = expect(body, dict, "manual-sync response")
        if body.get("status") != "ok":
            raise BadResponse(f"manual-sync answered status {str(body.get('status'))[:40]!r}")
        results = body.get("results")
        run_id = nonempty_str(results.get("run_id")) if isinstance(results, dict) else ""
        message = f"Mixpanel started a sync of warehouse import {target.external_id}"
        message += f" (run {run_id})." if run_id else "."
        message += " It shows up in the import's history at the next poll."
        return CreateResult(message, run_keys=[], details={"run_id": run_id} if run_id else {}, raw=body)

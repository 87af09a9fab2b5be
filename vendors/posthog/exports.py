"""PostHog batch exports: kind `batch_export`, one pipeline per export, its runs the data
intervals (a retry is a new row for the same interval: the newest decides). Pause and
unpause at PostHog. `cancel_interval` stops the running attempt of an interval; it is not
the CANCEL capability, which means "the vendor deletes the pipeline" to the pages."""

from __future__ import annotations

from ..adapter import DISCOVER, PAUSE, PerTarget
from ..base import Rejected, Target, TargetResult
from .normalize import group_intervals
from .observe import BATCH_EXPORT, discover_exports, observe_export, since_for

ACTIVE = ("Starting", "Running", "ContinuedAsNew")


class BatchExports(PerTarget):
    kind = BATCH_EXPORT
    capabilities = frozenset({DISCOVER, PAUSE})
    periodic = True

    def read(self, target: Target) -> TargetResult:
        return observe_export(self.session.project(), target, since_for(target, self.session.now(), first=False))

    def discover(self) -> list[TargetResult]:
        """Newly found exports come with their last 30 days (PostHog lists 7 unless asked)."""
        project, now = self.session.project(), self.session.now()
        found = discover_exports(project)
        return [observe_export(project, r.target, since_for(r.target, now, first=True)) for r in found]

    def pause(self, target: Target) -> str:
        self.session.project().pause(target.external_id)
        return "PostHog paused the export: no interval runs until it is unpaused."

    def resume(self, target: Target) -> str:
        self.session.project().unpause(target.external_id, backfill=False)
        return "PostHog unpaused the export; intervals missed while paused are not backfilled."

    def cancel_interval(self, target: Target, run_key: str = "") -> str:
        project = self.session.project()
        start = run_key.partition("/")[0]
        runs = project.runs(target.external_id, after=start if start and start != "-" else "-7d")
        attempts = group_intervals(runs).get(run_key, []) if run_key else [r for r in runs if r.get("status") in ACTIVE]
        running = [r for r in attempts if r.get("status") in ACTIVE]
        if not running:
            raise Rejected("PostHog has no running attempt of this interval to cancel")
        project.cancel_run(target.external_id, str(running[-1]["id"]))
        return "PostHog is cancelling the running attempt."

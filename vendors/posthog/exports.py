"""PostHog batch exports: kind `batch_export`, one pipeline per export, its runs the data
intervals (a retry is a new row for the same interval: the newest decides). Pause and
unpause at PostHog; operations: retry an interval, cancel its running attempt, backfill a
date range and cancel a backfill, unpause and backfill the paused time."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from ..adapter import DISCOVER, PAUSE, PerTarget
from ..base import CANCELED, FAILED, QUEUED, RUNNING, FormField, InvalidSpec, Rejected, Target, TargetResult
from ..operations import RUN, Fact, Operation
from .facts import INTERVALS, export_facts
from .normalize import ACTIVE, group_intervals
from .observe import BATCH_EXPORT, discover_exports, observe_export, since_for

RETRY = Operation(
    "retry",
    "Retry",
    "retry_interval",
    scope=RUN,
    run_states=frozenset({FAILED, CANCELED}),
    help="PostHog exports the interval again as a new attempt; the newest attempt decides it.",
)
CANCEL_RUN = Operation(
    "cancel-run",
    "Cancel",
    "cancel_interval",
    scope=RUN,
    run_states=frozenset({QUEUED, RUNNING}),
    confirm="Cancel the running attempt of this interval at PostHog? Its data stays unexported until it is retried.",
)
BACKFILL = Operation(
    "backfill",
    "Backfill…",
    "backfill",
    fields=(
        FormField("start", "From (UTC day)", "date", required=True),
        FormField("end", "To (UTC day, included)", "date", required=True),
    ),
    help="PostHog exports every interval of these days again, one after another, as new attempts.",
)
CANCEL_BACKFILL = Operation(
    "cancel-backfill",
    "Cancel backfill",
    "cancel_backfill",
    fields=(FormField("backfill_id", "Backfill", required=True),),
    confirm="Cancel this backfill at PostHog? Intervals it has not reached yet are not exported.",
    listed=False,
)
UNPAUSE_BACKFILL = Operation(
    "unpause-backfill",
    "Unpause and backfill",
    "unpause_backfill",
    when=lambda info: info.get("paused") is True,
    confirm="Unpause at PostHog and export every interval missed while the export was paused?",
)


class BatchExports(PerTarget):
    kind = BATCH_EXPORT
    capabilities = frozenset({DISCOVER, PAUSE})
    periodic = True
    asks_open_runs = True  # an interval still running past the lookback is read until it ends
    operations = (RETRY, CANCEL_RUN, BACKFILL, CANCEL_BACKFILL, UNPAUSE_BACKFILL)

    @classmethod
    def facts(cls, info: dict[str, Any]) -> list[Fact]:
        return export_facts(info)

    @classmethod
    def cadence_from(cls, info: dict[str, Any]) -> int | None:
        return INTERVALS.get(info.get("interval") or "")

    def read(self, target: Target) -> TargetResult:
        return observe_export(self.session.project(), target, since_for(target, self.session.now(), first=False))

    def discover(self, known: frozenset[str]) -> list[TargetResult]:
        """Newly found exports come with their last 30 days (PostHog lists 7 unless asked)."""
        project, now = self.session.project(), self.session.now()
        found = [r for r in discover_exports(project) if r.target.key not in known]
        return [observe_export(project, r.target, since_for(r.target, now, first=True)) for r in found]

    def pause(self, target: Target) -> str:
        self.session.project().pause(target.external_id)
        return "PostHog paused the export: no interval runs until it is unpaused."

    def resume(self, target: Target) -> str:
        self.session.project().unpause(target.external_id, backfill=False)
        return "PostHog unpaused the export; intervals missed while paused are not backfilled."

    # -- operations ------------------------------------------------------------------
    def _attempts(self, target: Target, run_key: str) -> list[dict[str, Any]]:
        start = run_key.partition("/")[0]
        runs = self.session.project().runs(target.external_id, after=start if start and start != "-" else "-7d")
        return group_intervals(runs).get(run_key, [])

    def retry_interval(self, target: Target, run_key: str, values: dict[str, Any]) -> str:
        attempts = self._attempts(target, run_key)
        if not attempts:
            raise Rejected("PostHog lists no attempt of this interval to retry")
        if any(a.get("status") in ACTIVE for a in attempts):
            raise Rejected("an attempt of this interval is still running at PostHog")
        self.session.project().retry_run(target.external_id, str(attempts[-1]["id"]))
        return "PostHog is exporting the interval again (a new attempt; the newest decides it)."

    def cancel_interval(self, target: Target, run_key: str, values: dict[str, Any] | None = None) -> str:
        running = [a for a in self._attempts(target, run_key) if a.get("status") in ACTIVE]
        if not running:
            raise Rejected("PostHog has no running attempt of this interval to cancel")
        self.session.project().cancel_run(target.external_id, str(running[-1]["id"]))
        return "PostHog is cancelling the running attempt."

    def check_operation(self, op: Operation, values: dict[str, Any]) -> dict[str, Any]:
        if op is not BACKFILL:
            return values
        start, end = values["start"], values["end"]
        if end < start:
            raise InvalidSpec({"end": "must be on or after the start"})
        if end >= self.today():
            raise InvalidSpec({"end": "must be before today (UTC): PostHog backfills only what is over"})
        return values

    def backfill(self, target: Target, run_key: str, values: dict[str, Any]) -> str:
        start_at = datetime.combine(values["start"], time(), UTC)
        end_at = datetime.combine(values["end"] + timedelta(days=1), time(), UTC)
        self.session.project().create_backfill(target.external_id, _iso(start_at), _iso(end_at))
        days = (end_at - start_at).days
        return f"PostHog started a backfill of {days} day{'s' * (days != 1)}; its progress shows here as it runs."

    def cancel_backfill(self, target: Target, run_key: str, values: dict[str, Any]) -> str:
        self.session.project().cancel_backfill(target.external_id, values["backfill_id"])
        return "PostHog cancelled the backfill."

    def unpause_backfill(self, target: Target, run_key: str, values: dict[str, Any]) -> str:
        self.session.project().unpause(target.external_id, backfill=True)
        return "PostHog unpaused the export and is backfilling the intervals missed while it was paused."


def _iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")

"""A pipeline's rollup of its runs: current run, last success and failure, missing days
(ADR 11, 13) and the learned stuck threshold. Kept on the pipeline row so pages read one
row per pipeline; rewritten from what each poll saw, in the poll's transaction."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.db.models import F, Window
from django.db.models.functions import RowNumber

from vendors import base as vb

from .models import EMPTY, Pipeline, Run, StateChange

# Successes a learned stuck threshold looks back on (their median duration).
LEARN_FROM = 10


def update_rollup(pipeline: Pipeline, touched: list[Run], changes: list[StateChange]) -> bool:
    """Current run, last success and last failure, from what this poll saw. True when a
    new success means the stuck threshold should be learned again (once the runs are
    written: `learn_stuck_thresholds` reads them)."""
    learn = False
    candidates = list(touched)
    if pipeline.current_run is not None and all(r.pk != pipeline.current_run_id for r in candidates):
        candidates.append(pipeline.current_run)
    active = [r for r in candidates if r.state in vb.ACTIVE_STATES]
    newest = max(active or candidates, key=lambda r: (r.sort_at, r.pk))
    if newest.pk != pipeline.current_run_id or not partial(newest):
        pipeline.current_run = newest  # else the same row, unchanged: the one it holds is whole

    for change in changes:
        run = change.run
        when = run.finished_at or change.at
        if change.new_state == vb.SUCCEEDED and (pipeline.last_success_at is None or when > pipeline.last_success_at):
            pipeline.last_success_at = when
            learn = True
        if change.new_state == vb.FAILED and (pipeline.last_failure_at is None or when >= pipeline.last_failure_at):
            pipeline.last_failure_at = when
            pipeline.last_failure_message = run.error_message or f"Run {run.vendor_status}"
    if pipeline.is_periodic and (changes or pipeline.missing_days):
        track_missing(pipeline, changes, touched)
    return learn


def partial(run: Run) -> bool:
    """Read only as far as comparing needs (`recording.COMPARED`): a run this poll left unchanged."""
    return "last_change_at" in run.get_deferred_fields()


def track_missing(pipeline: Pipeline, changes: list[StateChange], touched: Iterable[Run] = ()) -> None:
    """A period run that failed is missing data until that same run succeeds (ADR 11):
    a reload, a retry or a backfill under the same key; a later day landing is not it.
    With `empty_day_is_failure`, a day that loaded nothing is missing too (ADR 13)."""
    missing = dict(pipeline.missing_days)
    for change in changes:
        run = change.run
        if change.new_state == vb.FAILED:
            missing[run.external_id] = {
                "at": (run.finished_at or change.at).isoformat(),
                "run": str(run.uuid),
                "code": run.error_code,
                "kind": run.error_kind,
                "message": run.error_message or f"Run {run.vendor_status}",
            }
        elif change.new_state == vb.SUCCEEDED:
            _landed(pipeline, missing, run, change.at)
    # A reloaded empty day may land with rows and no state change (succeeded both times).
    for run in touched:
        if run.state == vb.SUCCEEDED and missing.get(run.external_id, {}).get("kind") == EMPTY:
            _landed(pipeline, missing, run, run.last_change_at)
    pipeline.missing_days = missing
    pipeline.missing_since = min((datetime.fromisoformat(m["at"]) for m in missing.values()), default=None)


def _landed(pipeline: Pipeline, missing: dict[str, dict[str, str]], run: Run, at: datetime) -> None:
    """A day succeeded: it lands, unless it loaded nothing and that counts as a failure here."""
    if pipeline.empty_day_is_failure and run.is_empty:
        missing[run.external_id] = empty_entry(run, at)
    else:
        missing.pop(run.external_id, None)


def empty_entry(run: Run, at: datetime) -> dict[str, str]:
    """How an empty day is kept among the missing days."""
    return {
        "at": (run.finished_at or at).isoformat(),
        "run": str(run.uuid),
        "code": run.vendor_status,
        "kind": EMPTY,
        "message": f"The day loaded no data ({run.vendor_status or '0 rows'})",
    }


def learn_stuck_thresholds(pipelines: list[Pipeline]) -> None:
    """Stuck means "much longer than this pipeline's successes usually take": the median of
    its last successes, for every pipeline given in one query. Set on the rows, not saved."""
    if not pipelines:
        return
    durations: dict[int, list[float]] = {p.pk: [] for p in pipelines}
    recent = (
        Run.objects.filter(
            pipeline_id__in=list(durations), state=vb.SUCCEEDED, started_at__isnull=False, finished_at__isnull=False
        )
        .annotate(rank=Window(RowNumber(), partition_by=F("pipeline_id"), order_by=F("sort_at").desc()))
        .filter(rank__lte=LEARN_FROM)
        .values_list("pipeline_id", "started_at", "finished_at")
    )
    for pipeline_id, started, finished in recent:
        if finished > started:
            durations[pipeline_id].append((finished - started).total_seconds())
    for pipeline in pipelines:
        learned = threshold(durations[pipeline.pk])
        if learned is not None:
            pipeline.stuck_after_learned = learned


def threshold(durations: list[float]) -> int | None:
    """The learned threshold for these success durations; None with too little history
    (the global default applies)."""
    if len(durations) < 3:
        return None
    median = sorted(durations)[len(durations) // 2]
    return int(max(settings.STUCK_MIN_SECONDS, median * settings.STUCK_HISTORY_FACTOR))

"""Write what the vendor said about a pipeline's runs: rows only when something changed.

Two ways in. The common poll names only runs we already hold (progress moved, or nothing
did): `KnownRuns` gathers those pipelines of one account poll and writes them together,
a handful of statements and one transaction for the whole account. Anything else (a new
run, a queued run that got its id, row-level items to replace) goes through
`record_observations`, inside one transaction per pipeline. Unchanged runs cost only
their share of one UPDATE of `last_seen_at`: no snapshot, no state change.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction

from vendors import base as vb

from .bulk import update_fields
from .models import EMPTY, Pipeline, Run, RunItem, Snapshot, StateChange

# StateChange.reason of runs found on a pipeline's first poll: old news, not alerts.
HISTORY = "history"

# A vendor run id longer than the column becomes a digest of itself (the raw payload keeps
# the original): one absurd id must not make every poll of the account fail.
RUN_KEY_MAX = Run._meta.get_field("external_id").max_length


def storable_run_key(key: str) -> str:
    if len(key) <= RUN_KEY_MAX:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


# Fields compared between observations to say what changed in a snapshot.
TRACKED = ("state", "vendor_status", "progress", "counts", "started_at", "finished_at", "error_message", "flags")
# Every field an observation writes on a run we already hold (see `_copy`, `_apply`).
OBSERVED = (
    *TRACKED,
    "error_code",
    "error_kind",
    "raw",
    "fingerprint",
    "sort_at",
    "expires_at",
    "closed",
    "last_seen_at",
    "last_change_at",
)


@dataclass
class RecordStats:
    runs_created: int = 0
    runs_changed: int = 0
    snapshots: int = 0
    state_changes: int = 0


def record_observations(
    pipeline: Pipeline, observations: list[vb.Observation], now: datetime, known: dict[str, Run] | None = None
) -> RecordStats:
    """`known`: runs already read for these observations (`existing_runs`); only the
    others are looked up."""
    stats = RecordStats()
    if not observations:
        return stats
    observations = distinct(
        [
            o if len(o.run_key) <= RUN_KEY_MAX else dataclasses.replace(o, run_key=storable_run_key(o.run_key))
            for o in observations
        ]
    )
    keys = [o.run_key for o in observations]
    existing = {k: known[k] for k in keys if known and k in known}
    if missing := [k for k in keys if k not in existing]:
        existing.update((r.external_id, r) for r in pipeline.runs.filter(external_id__in=missing))
    adoptable = _provisional_run(pipeline, keys, existing, observations)

    snapshots: list[Snapshot] = []
    changes: list[StateChange] = []
    unchanged: list[Run] = []
    touched: list[Run] = []
    created: list[tuple[Run, vb.Observation, str]] = []  # inserted together, below
    for obs in observations:
        run = existing.get(obs.run_key)
        if run is None and adoptable is not None and not obs.provisional_key:
            # The queued run that had no id and no start time has started: same run.
            run, adoptable = adoptable, None
            run.external_id, run.provisional_key = obs.run_key, False
        fingerprint = obs.fingerprint()
        items_fp = _items_fingerprint(obs.items)
        if run is None:
            run = _new_run(pipeline, obs, fingerprint, now)
            created.append((run, obs, items_fp))
            stats.runs_created += 1
            snapshots.append(_snapshot(run, obs, ["created"], now))
            reason = HISTORY if pipeline.last_polled_at is None else "first seen"
            changes.append(StateChange(pipeline=pipeline, run=run, new_state=obs.state, at=now, reason=reason))
        elif not _matches(run, fingerprint, items_fp):
            items_changed = bool(items_fp) and items_fp != run.items_fingerprint
            snapshot, change = _observe_change(pipeline, run, obs, fingerprint, now, items_changed)
            if items_changed:
                _replace_items(run, obs.items, items_fp)
            run.save()
            stats.runs_changed += 1
            snapshots.append(snapshot)
            changes += [change] if change else []
        else:
            unchanged.append(run)
        touched.append(run)

    Run.objects.bulk_create([run for run, _, _ in created])  # a first poll lists many runs
    for run, obs, items_fp in created:
        _replace_items(run, obs.items, items_fp)
    record_unchanged(unchanged, now)
    Snapshot.objects.bulk_create(snapshots)
    StateChange.objects.bulk_create(changes)
    stats.snapshots, stats.state_changes = len(snapshots), len(changes)
    if _update_rollup(pipeline, touched, changes):
        learn_stuck_threshold(pipeline)
    return stats


@dataclass
class KnownRuns:
    """One account poll's pipelines whose observations all name runs we already hold and
    carry no row-level items to replace: nearly every poll. `add` compares and updates
    them in memory; `write` sends them all in a few statements (changed runs in one
    pipelined UPDATE, unchanged ones in one, snapshots and state changes in one INSERT
    each), inside the caller's transaction: one commit per account, not per pipeline."""

    now: datetime
    stats: RecordStats = dataclasses.field(default_factory=RecordStats)
    pipelines: list[Pipeline] = dataclasses.field(default_factory=list)
    changed: list[Run] = dataclasses.field(default_factory=list)
    unchanged: list[Run] = dataclasses.field(default_factory=list)
    snapshots: list[Snapshot] = dataclasses.field(default_factory=list)
    changes: list[StateChange] = dataclasses.field(default_factory=list)
    learn: list[Pipeline] = dataclasses.field(default_factory=list)

    def add(self, pipeline: Pipeline, observations: list[vb.Observation], existing: dict[str, Run]) -> bool:
        """Take this pipeline's observations, or say False (and touch nothing) when they
        need `record_observations`. Its current run and last success/failure are updated
        here, so the caller can schedule its next poll at once."""
        pairs = [(existing.get(o.run_key), o, _items_fingerprint(o.items)) for o in distinct(observations)]
        if not pairs or any(run is None or (fp and fp != run.items_fingerprint) for run, _, fp in pairs):
            return False
        runs: list[Run] = []
        changes: list[StateChange] = []
        for run, obs, _ in pairs:
            assert run is not None
            fingerprint = obs.fingerprint()
            if run.fingerprint == fingerprint:
                self.unchanged.append(run)
            else:
                snapshot, change = _observe_change(pipeline, run, obs, fingerprint, self.now, items_changed=False)
                self.changed.append(run)
                self.snapshots.append(snapshot)
                changes += [change] if change else []
                self.stats.runs_changed += 1
            runs.append(run)
        self.changes += changes
        if _update_rollup(pipeline, runs, changes):
            self.learn.append(pipeline)
        self.pipelines.append(pipeline)
        return True

    def write(self) -> None:
        """The runs, snapshots and state changes; the pipelines' own fields are the caller's
        (in the caller's transaction when there is one, else in one of its own)."""
        with transaction.atomic(savepoint=False):
            update_fields(self.changed, OBSERVED)
            record_unchanged(self.unchanged, self.now)
            Snapshot.objects.bulk_create(self.snapshots)
            StateChange.objects.bulk_create(self.changes)
            for pipeline in self.learn:  # reads the runs written just above
                learn_stuck_threshold(pipeline)
        self.stats.snapshots, self.stats.state_changes = len(self.snapshots), len(self.changes)


def _observe_change(
    pipeline: Pipeline, run: Run, obs: vb.Observation, fingerprint: str, now: datetime, items_changed: bool
) -> tuple[Snapshot, StateChange | None]:
    """Copy a changed observation onto its run (not saved); its snapshot and state change."""
    old_state = run.state
    changed = _apply(run, obs, fingerprint, now)
    if items_changed:
        changed = [c for c in changed if c != "raw"] + ["items"]
    change = None
    if "state" in changed:
        reason = obs.error.message if obs.error else obs.vendor_status
        change = StateChange(
            pipeline=pipeline, run=run, old_state=old_state, new_state=obs.state, at=now, reason=reason
        )
    return _snapshot(run, obs, changed, now), change


def existing_runs(
    pipelines: list[Pipeline], observations: dict[int, list[vb.Observation]]
) -> dict[int, dict[str, Run]]:
    """The runs these observations name, for many pipelines in one query: pipeline id -> key -> run."""
    keys = {o.run_key for obs in observations.values() for o in obs}
    out: dict[int, dict[str, Run]] = {p.pk: {} for p in pipelines}
    if not keys:
        return out
    wanted = {pk: {o.run_key for o in obs} for pk, obs in observations.items()}
    # `raw` (the vendor's whole payload) is the heaviest column and not needed to compare.
    for run in Run.objects.filter(pipeline_id__in=list(out), external_id__in=keys).defer("raw"):
        if run.external_id in wanted.get(run.pipeline_id, ()):
            out[run.pipeline_id][run.external_id] = run
    return out


def distinct(observations: list[vb.Observation]) -> list[vb.Observation]:
    """One observation per run: a vendor listing a run twice in one reply (a page that
    shifted while it was read) must not make us insert it twice. The last listed wins."""
    by_key = {o.run_key: o for o in observations}
    return observations if len(by_key) == len(observations) else list(by_key.values())


def _matches(run: Run, fingerprint: str, items_fp: str) -> bool:
    """The vendor says exactly what we already have (row-level items included, if any)."""
    return run.fingerprint == fingerprint and (not items_fp or items_fp == run.items_fingerprint)


def record_unchanged(runs: list[Run], now: datetime) -> None:
    """`last_seen_at` of unchanged runs, many pipelines' in one statement."""
    if runs:
        Run.objects.filter(pk__in=[r.pk for r in runs]).update(last_seen_at=now)
        for run in runs:
            run.last_seen_at = now


def _provisional_run(
    pipeline: Pipeline, keys: list[str], existing: dict[str, Run], observations: list[vb.Observation]
) -> Run | None:
    if all(o.run_key in existing or o.provisional_key for o in observations):
        return None
    return (
        pipeline.runs.filter(provisional_key=True, state__in=vb.ACTIVE_STATES)
        .exclude(external_id__in=keys)
        .order_by("-sort_at")
        .first()
    )


def _new_run(pipeline: Pipeline, obs: vb.Observation, fingerprint: str, now: datetime) -> Run:
    run = Run(
        pipeline=pipeline,
        external_id=obs.run_key,
        provisional_key=obs.provisional_key,
        first_seen_at=now,
        last_seen_at=now,
        last_change_at=now,
    )
    _copy(run, obs, fingerprint, now)
    return run


def _apply(run: Run, obs: vb.Observation, fingerprint: str, now: datetime) -> list[str]:
    before = {f: getattr(run, f) for f in TRACKED}
    _copy(run, obs, fingerprint, now)
    run.last_seen_at = run.last_change_at = now
    changed = [f for f in TRACKED if getattr(run, f) != before[f]]
    return changed or ["raw"]


def _copy(run: Run, obs: vb.Observation, fingerprint: str, now: datetime) -> None:
    run.state = obs.state
    run.vendor_status = obs.vendor_status[:100]
    run.progress = obs.progress
    run.counts = dict(obs.counts)
    run.started_at = obs.started_at
    run.finished_at = obs.finished_at
    run.error_message = obs.error.message if obs.error else ""
    run.error_code = (obs.error.code if obs.error else "")[:100]
    run.error_kind = obs.error.kind if obs.error else ""
    run.flags = list(obs.flags)
    run.raw = obs.raw
    run.fingerprint = fingerprint
    run.sort_at = obs.started_at or run.first_seen_at or now
    run.expires_at = obs.expires_at or run.expires_at
    run.closed = obs.state in vb.FINISHED_STATES or "expired" in obs.flags


def _items_fingerprint(items: list[vb.RunItem] | None) -> str:
    if items is None:
        return ""
    payload = json.dumps([[i.kind, i.code, i.message, i.data] for i in items], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def _replace_items(run: Run, items: list[vb.RunItem] | None, fingerprint: str) -> None:
    """Row-level errors/results are replaced as a set: the vendor gives the whole list."""
    if items is None:
        return
    run.items.all().delete()
    RunItem.objects.bulk_create(
        RunItem(run=run, position=i, kind=item.kind[:10], code=item.code[:100], message=item.message, data=item.data)
        for i, item in enumerate(items)
    )
    run.items_fingerprint, run.items_count = fingerprint, len(items)
    Run.objects.filter(pk=run.pk).update(items_fingerprint=fingerprint, items_count=len(items))


def mark_gone(pipeline: Pipeline, run_keys: list[str], now: datetime) -> int:
    """The vendor no longer knows these jobs (Micro after 7 days, a FullStory 404).

    Everything we saw is kept; the run is flagged expired and closed so polling stops.
    A job that had not finished has an unknown outcome."""
    gone = 0
    for run in pipeline.runs.filter(external_id__in=[storable_run_key(k) for k in run_keys], closed=False):
        old_state = run.state
        run.flags = sorted({*run.flags, "expired"})
        if run.state in vb.ACTIVE_STATES:
            run.state = vb.UNKNOWN
        run.closed = True
        run.last_change_at = run.last_seen_at = now
        run.save(update_fields=["flags", "state", "closed", "last_change_at", "last_seen_at"])
        Snapshot.objects.create(
            run=run,
            observed_at=now,
            state=run.state,
            vendor_status=run.vendor_status,
            progress=run.progress,
            counts=run.counts,
            error_message=run.error_message,
            flags=run.flags,
            changed=["flags"],
            raw=None,
        )
        if old_state != run.state:
            StateChange.objects.create(
                pipeline=pipeline,
                run=run,
                old_state=old_state,
                new_state=run.state,
                at=now,
                reason="the vendor no longer knows this job (expired)",
            )
        gone += 1
    return gone


def _snapshot(run: Run, obs: vb.Observation, changed: list[str], now: datetime) -> Snapshot:
    return Snapshot(
        run=run,
        observed_at=now,
        state=obs.state,
        vendor_status=obs.vendor_status[:100],
        progress=obs.progress,
        counts=dict(obs.counts),
        error_message=obs.error.message if obs.error else "",
        flags=list(obs.flags),
        changed=changed,
        raw=obs.raw,
    )


def _update_rollup(pipeline: Pipeline, touched: list[Run], changes: list[StateChange]) -> bool:
    """Current run, last success and last failure, from what this poll saw. True when a
    new success means the stuck threshold should be learned again (once the runs are
    saved: `learn_stuck_threshold` reads them)."""
    learn = False
    candidates = list(touched)
    if pipeline.current_run is not None and all(r.pk != pipeline.current_run_id for r in candidates):
        candidates.append(pipeline.current_run)
    active = [r for r in candidates if r.state in vb.ACTIVE_STATES]
    newest = max(active or candidates, key=lambda r: (r.sort_at, r.pk))
    pipeline.current_run = newest

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


def learn_stuck_threshold(pipeline: Pipeline) -> None:
    """Stuck means "much longer than this pipeline's successes usually take"."""
    durations = sorted(
        (r.finished_at - r.started_at).total_seconds()
        for r in pipeline.runs.filter(state=vb.SUCCEEDED, started_at__isnull=False, finished_at__isnull=False)
        .order_by("-sort_at")
        .only("started_at", "finished_at")[:10]
        if r.finished_at > r.started_at
    )
    if len(durations) < 3:
        return  # too little history: the global default applies
    median = durations[len(durations) // 2]
    learned = int(max(settings.STUCK_MIN_SECONDS, median * settings.STUCK_HISTORY_FACTOR))
    if learned != pipeline.stuck_after_learned:
        pipeline.stuck_after_learned = learned
        Pipeline.objects.filter(pk=pipeline.pk).update(stuck_after_learned=learned)

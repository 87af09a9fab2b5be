"""What the vendor said about runs: compared in memory, written in a few statements.

A `Recording` takes what one account poll learned about runs: each pipeline's
observations (`observe`) and the jobs the vendor no longer knows (`gone`). It compares
them with the runs we hold (`held_runs`, one query for the whole poll) and keeps the result
in memory: runs to insert, to update and to touch, snapshots, state changes and each
pipeline's rollup. `write` sends it all in a handful of statements, inside the caller's
transaction (`jobs.writer`: one per account poll). A snapshot only when something changed;
an unchanged run costs its share of one UPDATE of `last_seen_at`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction

from vendors import base as vb

from .bulk import BATCH, insert, set_field, update_fields
from .models import Pipeline, Run, RunItem, Snapshot, StateChange
from .rollup import learn_stuck_thresholds, update_rollup

# StateChange.reason of runs found on a pipeline's first poll: old news, not alerts.
HISTORY = "history"
GONE = "the vendor no longer knows this job (expired)"

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
ADOPTED = ("external_id", "provisional_key")  # a queued run without an id that got one
ITEMS = ("items_fingerprint", "items_count")
EXPIRED = ("flags", "state", "closed", "last_change_at", "last_seen_at")
SNAPSHOT_FIELDS = ("run", "observed_at", "state", "vendor_status", "progress", "counts", "error_message", "flags")
SNAPSHOT_FIELDS += ("changed", "raw")
STATE_CHANGE_FIELDS = ("pipeline", "run", "old_state", "new_state", "at", "reason")


@dataclass
class RecordStats:
    runs_created: int = 0
    runs_changed: int = 0
    snapshots: int = 0
    state_changes: int = 0

    def add(self, other: RecordStats) -> None:
        for name in ("runs_created", "runs_changed", "snapshots", "state_changes"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class HeldRuns:
    """The runs one poll's observations and gone jobs name, read in one query: pipeline id
    -> run key -> run; and the queued runs without an id of the pipelines that may adopt one."""

    runs: dict[int, dict[str, Run]]
    provisional: dict[int, list[Run]] = field(default_factory=dict)

    def of(self, pipeline: Pipeline) -> dict[str, Run]:
        return self.runs.get(pipeline.pk, {})


def held_runs(observed: dict[int, list[vb.Observation]], gone: dict[int, list[str]] | None = None) -> HeldRuns:
    """`observed`: pipeline id -> its observations (run keys already storable); `gone`:
    pipeline id -> keys of jobs the vendor no longer knows."""
    gone = gone or {}
    wanted = {pk: {o.run_key for o in obs} for pk, obs in observed.items()}
    for pk, keys in gone.items():
        wanted.setdefault(pk, set()).update(storable_run_key(k) for k in keys)
    held = HeldRuns({pk: {} for pk in wanted})
    keys = set().union(*wanted.values()) if wanted else set()
    if keys:
        # `raw` (the vendor's whole payload) is the heaviest column and not needed to compare.
        for run in Run.objects.filter(pipeline_id__in=list(wanted), external_id__in=keys).defer("raw"):
            if run.external_id in wanted[run.pipeline_id]:
                held.runs[run.pipeline_id][run.external_id] = run
    # A run seen for the first time may be a queued one we hold under a provisional key.
    adopting = [
        pk for pk, obs in observed.items() if any(not o.provisional_key and o.run_key not in held.runs[pk] for o in obs)
    ]
    if adopting:
        queued = Run.objects.filter(pipeline_id__in=adopting, provisional_key=True, state__in=vb.ACTIVE_STATES)
        for run in queued.order_by("-sort_at"):
            held.provisional.setdefault(run.pipeline_id, []).append(run)
    return held


def storable(observations: list[vb.Observation]) -> list[vb.Observation]:
    """One observation per run, under a key the column can hold: a vendor listing a run
    twice in one reply (a page that shifted while it was read) must not make us insert it
    twice. The last listed wins."""
    by_key = {storable_run_key(o.run_key): o for o in observations}
    if len(by_key) == len(observations) and all(k is o.run_key for k, o in by_key.items()):
        return observations
    return [o if o.run_key == k else dataclasses.replace(o, run_key=k) for k, o in by_key.items()]


@dataclass
class Recording:
    """One poll's runs, compared in memory (`observe`, `gone`) and written together (`write`)."""

    now: datetime
    stats: RecordStats = field(default_factory=RecordStats)
    created: list[tuple[Run, list[vb.RunItem] | None]] = field(default_factory=list)
    updated: dict[tuple[str, ...], list[Run]] = field(default_factory=dict)  # by the fields that moved
    unchanged: list[Run] = field(default_factory=list)
    items: list[tuple[Run, list[vb.RunItem]]] = field(default_factory=list)
    snapshots: list[Snapshot] = field(default_factory=list)
    changes: list[StateChange] = field(default_factory=list)
    # Each pipeline's runs seen and state changes, for its rollup once the runs have ids.
    rollups: list[tuple[Pipeline, list[Run], list[StateChange]]] = field(default_factory=list)
    expired: list[tuple[Pipeline, Run]] = field(default_factory=list)

    def observe(
        self,
        pipeline: Pipeline,
        observations: list[vb.Observation],
        held: dict[str, Run],
        queued: Sequence[Run] = (),
    ) -> None:
        """Compare this pipeline's observations (`storable` ones) with its runs `held`;
        `queued`: its runs without an id yet, newest first (`HeldRuns.provisional`). Its
        rollup (current run, last success and failure) follows in `write`."""
        if not observations:
            return
        keys = {o.run_key for o in observations}
        adoptable = next((r for r in queued if r.external_id not in keys), None)
        touched: list[Run] = []
        changes: list[StateChange] = []
        for obs in observations:
            run = held.get(obs.run_key)
            fields: tuple[str, ...] = OBSERVED
            if run is None and adoptable is not None and not obs.provisional_key:
                # The queued run that had no id and no start time has started: same run.
                run, adoptable = adoptable, None
                run.external_id, run.provisional_key = obs.run_key, False
                fields += ADOPTED
            fingerprint = obs.fingerprint()
            items_fp = _items_fingerprint(obs.items)
            if run is None:
                run = _new_run(pipeline, obs, fingerprint, items_fp, self.now)
                self.created.append((run, obs.items))
                self.stats.runs_created += 1
                self.snapshots.append(_snapshot(run, obs, ["created"], self.now))
                reason = HISTORY if pipeline.last_polled_at is None else "first seen"
                changes.append(StateChange(pipeline=pipeline, run=run, new_state=obs.state, at=self.now, reason=reason))
            elif (
                fields == OBSERVED
                and run.fingerprint == fingerprint
                and (not items_fp or items_fp == run.items_fingerprint)
            ):
                self.unchanged.append(run)
            else:
                old_state = run.state
                changed = _apply(run, obs, fingerprint, self.now)
                if items_fp and items_fp != run.items_fingerprint:
                    changed = [c for c in changed if c != "raw"] + ["items"]
                    self.items.append((run, obs.items or []))
                    run.items_fingerprint, run.items_count = items_fp, len(obs.items or [])
                    fields += ITEMS
                self.updated.setdefault(fields, []).append(run)
                self.stats.runs_changed += 1
                self.snapshots.append(_snapshot(run, obs, changed, self.now))
                if "state" in changed:
                    reason = obs.error.message if obs.error else obs.vendor_status
                    changes.append(
                        StateChange(
                            pipeline=pipeline,
                            run=run,
                            old_state=old_state,
                            new_state=obs.state,
                            at=self.now,
                            reason=reason,
                        )
                    )
            touched.append(run)
        self.changes += changes
        self.rollups.append((pipeline, touched, changes))

    def gone(self, pipeline: Pipeline, runs: list[Run]) -> None:
        """The vendor no longer knows these jobs (Micro after 7 days, a FullStory 404).

        Everything we saw is kept; the run is flagged expired and closed so polling stops.
        A job that had not finished has an unknown outcome."""
        for run in runs:
            if run.closed:
                continue
            old_state = run.state
            run.flags = sorted({*run.flags, "expired"})
            if run.state in vb.ACTIVE_STATES:
                run.state = vb.UNKNOWN
            run.closed = True
            run.last_change_at = run.last_seen_at = self.now
            self.updated.setdefault(EXPIRED, []).append(run)
            self.snapshots.append(
                Snapshot(
                    run=run,
                    observed_at=self.now,
                    state=run.state,
                    vendor_status=run.vendor_status,
                    progress=run.progress,
                    counts=run.counts,
                    error_message=run.error_message,
                    flags=run.flags,
                    changed=["flags"],
                    raw=None,
                )
            )
            if old_state != run.state:
                self.changes.append(
                    StateChange(
                        pipeline=pipeline, run=run, old_state=old_state, new_state=run.state, at=self.now, reason=GONE
                    )
                )
            self.expired.append((pipeline, run))

    def write(self) -> None:
        """Everything compared so far, in the caller's transaction (or one of its own); then
        each pipeline's rollup and learned stuck threshold, set on it for the caller to save."""
        with transaction.atomic(savepoint=False):
            if self.created:  # a first poll lists many runs
                Run.objects.bulk_create([run for run, _ in self.created], batch_size=BATCH)
            for fields, runs in self.updated.items():
                update_fields(runs, fields)
            set_field(self.unchanged, "last_seen_at", self.now)
            self._write_items()
            insert(self.snapshots, SNAPSHOT_FIELDS)
            insert(self.changes, STATE_CHANGE_FIELDS)
            learn = [
                pipeline for pipeline, touched, changes in self.rollups if update_rollup(pipeline, touched, changes)
            ]
            for pipeline, run in self.expired:
                if pipeline.current_run_id == run.pk:
                    pipeline.current_run = run  # its health reads the state just set
            learn_stuck_thresholds(learn)  # reads the runs written just above
        self.stats.snapshots, self.stats.state_changes = len(self.snapshots), len(self.changes)

    def _write_items(self) -> None:
        """Row-level errors/results are replaced as a set: the vendor gives the whole list."""
        replaced = [(run, items) for run, items in self.created if items is not None] + self.items
        if not replaced:
            return
        if self.items:
            RunItem.objects.filter(run__in=[run for run, _ in self.items]).delete()
        RunItem.objects.bulk_create(
            RunItem(
                run=run, position=i, kind=item.kind[:10], code=item.code[:100], message=item.message, data=item.data
            )
            for run, items in replaced
            for i, item in enumerate(items)
        )


def record_observations(pipeline: Pipeline, observations: list[vb.Observation], now: datetime) -> RecordStats:
    """One pipeline's observations outside a poll (a job created here): compared, written,
    and the pipeline's rollup saved."""
    observations = storable(observations)
    held = held_runs({pipeline.pk: observations})
    recording = Recording(now)
    recording.observe(pipeline, observations, held.of(pipeline), held.provisional.get(pipeline.pk, []))
    with transaction.atomic():
        recording.write()
        update_fields([pipeline], Pipeline.ROLLUP)
    return recording.stats


def _new_run(pipeline: Pipeline, obs: vb.Observation, fingerprint: str, items_fp: str, now: datetime) -> Run:
    run = Run(
        pipeline=pipeline,
        external_id=obs.run_key,
        provisional_key=obs.provisional_key,
        first_seen_at=now,
        last_seen_at=now,
        last_change_at=now,
    )
    _copy(run, obs, fingerprint, now)
    if obs.items is not None:
        run.items_fingerprint, run.items_count = items_fp, len(obs.items)
    return run


def _apply(run: Run, obs: vb.Observation, fingerprint: str, now: datetime) -> list[str]:
    before = [getattr(run, f) for f in TRACKED]
    _copy(run, obs, fingerprint, now)
    run.last_seen_at = run.last_change_at = now
    changed = [f for f, old in zip(TRACKED, before, strict=True) if getattr(run, f) != old]
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

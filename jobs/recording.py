"""What the vendor said about runs: compared in memory, written in a few statements.

A `Recording` takes what one account poll learned about runs: each pipeline's
observations (`observe`, as `seen`) and the jobs the vendor no longer knows (`gone`). It
compares them with the runs we hold (`held_runs`: for the whole poll, one query of what
comparing needs and one of the rest for the runs that moved) and keeps the result in
memory: runs to insert, to update (only the columns that moved) and to touch, snapshots,
state changes and each pipeline's rollup. `write` sends it all in a handful of statements,
inside the caller's transaction (`jobs.writer`: one per account poll). A snapshot only
when something changed; an unchanged run costs its share of one UPDATE of `last_seen_at`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction

from vendors import base as vb

from .bulk import BATCH, Columns, insert, one_of, select, set_field, update_fields
from .models import Pipeline, Run, RunItem, Snapshot, StateChange
from .rollup import learn_stuck_thresholds, partial, update_rollup

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
# What an observation may change on a run we already hold (`_copy`); those that moved are
# written, with what every change writes (the payload, unread and never compared).
COPIED = (*TRACKED, "error_code", "error_kind", "sort_at", "expires_at", "closed")
CHANGE = ("raw", "fingerprint", "last_seen_at", "last_change_at")
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


@dataclass(frozen=True)
class Seen:
    """One observation as we keep it: its run key as the column holds it, its fingerprint
    and that of its row-level items ("" when the vendor gave none)."""

    obs: vb.Observation
    key: str
    fingerprint: str
    items: str

    def matches(self, run: Run) -> bool:
        """The vendor says exactly what we already have (row-level items included, if any)."""
        return run.fingerprint == self.fingerprint and (not self.items or self.items == run.items_fingerprint)


def seen(observations: list[vb.Observation]) -> list[Seen]:
    """One `Seen` per run: a vendor listing a run twice in one reply (a page that shifted
    while it was read) must not make us insert it twice. The last listed wins."""
    by_key = {storable_run_key(o.run_key): o for o in observations}
    return [Seen(o, key, o.fingerprint(), _items_fingerprint(o.items)) for key, o in by_key.items()]


# What comparing needs of a run this poll may leave unchanged (nearly all of them): the
# others are read only for the runs that moved, are gone, or whose pipeline has missing days.
COMPARED = ("id", "pipeline", "external_id", "fingerprint", "items_fingerprint", "state", "sort_at", "closed")
LIGHT = Columns.of(Run, tuple(f.name for f in Run._meta.concrete_fields if f.name not in COMPARED))
WHOLE = Columns.of(Run, ("raw",))  # `raw`, the vendor's whole payload, is never compared: the fingerprint is


@dataclass
class HeldRuns:
    """The runs one poll's observations and gone jobs name: pipeline id -> run key -> run;
    and the queued runs without an id of the pipelines that may adopt one."""

    runs: dict[int, dict[str, Run]]
    provisional: dict[int, list[Run]] = field(default_factory=dict)

    def of(self, pipeline: Pipeline) -> dict[str, Run]:
        return self.runs.get(pipeline.pk, {})


def held_runs(
    observed: dict[int, list[Seen]], gone: dict[int, list[str]] | None = None, whole: Iterable[int] = ()
) -> HeldRuns:
    """`observed`: pipeline id -> what was seen; `gone`: pipeline id -> keys of jobs the
    vendor no longer knows; `whole`: pipelines whose runs are read in full (their missing
    days are re-read from runs that did not change).

    One query reads what comparing needs; a second the rest of the runs that moved."""
    gone, whole = gone or {}, set(whole)
    wanted: dict[int, dict[str, Seen | None]] = {pk: {s.key: s for s in obs} for pk, obs in observed.items()}
    for pk, keys in gone.items():
        wanted.setdefault(pk, {}).update((storable_run_key(k), None) for k in keys)
    held = HeldRuns({pk: {} for pk in wanted})
    keys = {key for by_key in wanted.values() for key in by_key}
    full: list[int] = []
    if keys:
        pipelines, keys = list(wanted), list(keys)
        in_pipelines, p_params = one_of("t.pipeline_id", pipelines)
        in_keys, k_params = one_of("t.external_id", keys)
        for run in select(LIGHT, f"{in_pipelines} AND {in_keys}", [*p_params, *k_params]):
            if run.external_id in wanted[run.pipeline_id]:
                held.runs[run.pipeline_id][run.external_id] = run
                s = wanted[run.pipeline_id][run.external_id]
                if s is None or run.pipeline_id in whole or not s.matches(run):
                    full.append(run.pk)
    if full:
        in_full, params = one_of("t.id", full)
        for run in select(WHOLE, in_full, params):
            held.runs[run.pipeline_id][run.external_id] = run
    # A run seen for the first time may be a queued one we hold under a provisional key.
    adopting = [
        pk for pk, obs in observed.items() if any(not s.obs.provisional_key and s.key not in held.runs[pk] for s in obs)
    ]
    if adopting:
        queued = Run.objects.filter(pipeline_id__in=adopting, provisional_key=True, state__in=vb.ACTIVE_STATES)
        for run in queued.order_by("-sort_at"):
            held.provisional.setdefault(run.pipeline_id, []).append(run)
    return held


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

    def observe(self, pipeline: Pipeline, seen: list[Seen], held: dict[str, Run], queued: Sequence[Run] = ()) -> None:
        """Compare what was seen of this pipeline's runs with the runs `held`; `queued`: its
        runs without an id yet, newest first (`HeldRuns.provisional`). Its rollup (current
        run, last success and failure) follows in `write`, once new runs have ids."""
        if not seen:
            return
        keys = {s.key for s in seen}
        adoptable = next((r for r in queued if r.external_id not in keys), None)
        touched: list[Run] = []
        changes: list[StateChange] = []
        for s in seen:
            obs, run, adopted = s.obs, held.get(s.key), False
            if run is None and adoptable is not None and not obs.provisional_key:
                # The queued run that had no id and no start time has started: same run.
                run, adoptable, adopted = adoptable, None, True
                run.external_id, run.provisional_key = s.key, False
            if run is None:
                run = _new_run(pipeline, s, self.now)
                self.created.append((run, obs.items))
                self.stats.runs_created += 1
                self.snapshots.append(_snapshot(run, obs, ["created"], self.now))
                reason = HISTORY if pipeline.last_polled_at is None else "first seen"
                changes.append(StateChange(pipeline=pipeline, run=run, new_state=obs.state, at=self.now, reason=reason))
            elif not adopted and s.matches(run):
                self.unchanged.append(run)
            else:
                old_state = run.state
                changed, fields = _apply(run, obs, s.fingerprint, self.now)
                fields += ADOPTED if adopted else ()
                if s.items and s.items != run.items_fingerprint:
                    changed = [c for c in changed if c != "raw"] + ["items"]
                    self.items.append((run, obs.items or []))
                    run.items_fingerprint, run.items_count = s.items, len(obs.items or [])
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
            _read_whole([pipeline for pipeline, _, _ in self.rollups])
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


def _read_whole(pipelines: list[Pipeline]) -> None:
    """Current runs that became current unchanged (rare: the newest run was not the current
    one) are read in full, in one query: health and the next poll's pace read them."""
    partial_runs = {p.current_run_id: p for p in pipelines if p.current_run is not None and partial(p.current_run)}
    if partial_runs:
        for run in Run.objects.filter(pk__in=list(partial_runs)).defer("raw"):
            partial_runs[run.pk].current_run = run


def record_observations(pipeline: Pipeline, observations: list[vb.Observation], now: datetime) -> RecordStats:
    """One pipeline's observations outside a poll (a job created here): compared, written,
    and the pipeline's rollup saved."""
    observed = seen(observations)
    held = held_runs({pipeline.pk: observed}, whole=[pipeline.pk] if pipeline.missing_days else [])
    recording = Recording(now)
    recording.observe(pipeline, observed, held.of(pipeline), held.provisional.get(pipeline.pk, []))
    with transaction.atomic():
        recording.write()
        update_fields([pipeline], Pipeline.ROLLUP)
    return recording.stats


def _new_run(pipeline: Pipeline, s: Seen, now: datetime) -> Run:
    run = Run(
        pipeline=pipeline,
        external_id=s.key,
        provisional_key=s.obs.provisional_key,
        first_seen_at=now,
        last_seen_at=now,
        last_change_at=now,
    )
    _copy(run, s.obs, s.fingerprint, now)
    if s.obs.items is not None:
        run.items_fingerprint, run.items_count = s.items, len(s.obs.items)
    return run


def _apply(run: Run, obs: vb.Observation, fingerprint: str, now: datetime) -> tuple[list[str], tuple[str, ...]]:
    """Copy a changed observation onto its run: what changed as a snapshot says it, and
    the fields to write."""
    before = [getattr(run, f) for f in COPIED]
    _copy(run, obs, fingerprint, now)
    run.last_seen_at = run.last_change_at = now
    moved = tuple(f for f, old in zip(COPIED, before, strict=True) if getattr(run, f) != old)
    return [f for f in moved if f in TRACKED] or ["raw"], moved + CHANGE


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

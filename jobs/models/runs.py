"""What the vendor said about runs: runs, their row-level items, snapshots, state changes."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from vendors import base as vb

from .pipelines import Pipeline

STATE_CHOICES = [(s, s) for s in vb.STATES]
# Counts that measure rows loaded: all of them at 0 makes a successful run an empty one.
ROW_COUNTS = ("rows", "imported", "processed", "total", "loaded")


class Run(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="runs")
    external_id = models.CharField(max_length=255, help_text="The vendor's run id, or one derived from it.")
    provisional_key = models.BooleanField(default=False)
    state = models.CharField(max_length=20, choices=STATE_CHOICES)
    vendor_status = models.CharField(max_length=100, blank=True)
    progress = models.FloatField(null=True, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error_code = models.CharField(max_length=100, blank=True)
    error_message = models.TextField(blank=True)
    error_kind = models.CharField(max_length=20, blank=True)
    flags = models.JSONField(default=list, blank=True)
    raw = models.JSONField(null=True, blank=True)
    fingerprint = models.CharField(max_length=64, blank=True)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    # When what the vendor says last changed: the basis of stuck detection.
    last_change_at = models.DateTimeField(default=timezone.now)
    # Newest first: start time when known, else when we first saw it (queued runs).
    sort_at = models.DateTimeField(default=timezone.now)
    # When the vendor will forget this job (Micro keeps async imports 7 days).
    expires_at = models.DateTimeField(null=True, blank=True)
    # Nothing more will come: finished, or expired at the vendor. One-shot jobs are not
    # polled once closed.
    closed = models.BooleanField(default=False)
    items_fingerprint = models.CharField(max_length=64, blank=True)
    items_count = models.PositiveIntegerField(default=0)
    # What was asked for, when the job was created here ("Statsig backfill Events 2026-11-01..2026-11-07").
    label = models.CharField(max_length=200, blank=True, db_default="")  # db_default: bulk SQL inserts

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["pipeline", "external_id"], name="run_unique_key"),
        ]
        indexes = [
            # pipeline page and API: a pipeline's runs, newest first
            models.Index(fields=["pipeline", "-sort_at"], name="run_pipeline_recent_idx"),
            # poll path: the open jobs of one-shot pipelines
            models.Index(fields=["pipeline"], name="run_open_idx", condition=models.Q(closed=False)),
            # the overview's live version check: the newest change, read from the index's end
            models.Index(fields=["last_change_at"], name="run_last_change_idx"),
        ]
        ordering = ["-sort_at", "-id"]

    def __str__(self) -> str:
        return f"{self.pipeline} / {self.external_id}"

    @property
    def is_active(self) -> bool:
        return self.state in vb.ACTIVE_STATES

    @property
    def is_empty(self) -> bool:
        """Succeeded with no data: the vendor says so (`LOADED_EMPTY_DATA`) or its row counts are all 0."""
        if self.state != vb.SUCCEEDED:
            return False
        if "empty" in (self.flags or []):
            return True
        rows = [self.counts[k] for k in ROW_COUNTS if isinstance(self.counts, dict) and k in self.counts]
        return bool(rows) and not any(rows)

    @property
    def percent(self) -> int | None:
        return None if self.progress is None else round(self.progress * 100)

    @property
    def count_warning(self) -> str:
        """The vendor's counts say more rows were lost than the configured threshold."""
        processed = self.counts.get("processed") or self.counts.get("total") or 0
        lost = (self.counts.get("dropped") or 0) + (self.counts.get("failed") or 0)
        if processed <= 0 or lost <= 0:
            return ""
        rate = lost / processed
        if rate <= settings.COUNT_WARNING_RATE:
            return ""
        return f"{lost:,} of {processed:,} rows dropped or failed ({rate:.1%}, above {settings.COUNT_WARNING_RATE:.1%})"


class RunItem(models.Model):
    """A row-level outcome of a job: an error (FullStory) or a per-row result (Micro).

    Kept because the vendor forgets them (Micro after 7 days)."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=10)
    code = models.CharField(max_length=100, blank=True)
    message = models.TextField(blank=True)
    data = models.JSONField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "position"], name="runitem_unique_position")]
        ordering = ["position"]

    def __str__(self) -> str:
        return f"{self.run_id}#{self.position} {self.kind}"


class Snapshot(models.Model):
    """One observation of a run, written only when it differs from the one before.

    On PostgreSQL the table is partitioned (ADR 17, `jobs.partitions`): by `kept`, then new
    snapshots by day of `observed_at`; its primary key there is (id, observed_at, kept),
    `id` alone still unique (one sequence)."""

    # snapshot_run_time_idx leads with run: no index of its own (one less to write per insert)
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="snapshots", db_index=False)
    observed_at = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=20)
    vendor_status = models.CharField(max_length=100, blank=True)
    progress = models.FloatField(null=True, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    error_message = models.TextField(blank=True)
    flags = models.JSONField(default=list, blank=True)
    changed = models.JSONField(default=list, blank=True, help_text="Fields that differ from the previous snapshot.")
    raw = models.JSONField(null=True, blank=True)
    # Kept for good by retention (a run's first and last snapshot, its state and flag
    # changes) once its day was thinned; on PostgreSQL the outer partition key. db_default:
    # rows written by SQL land among the new ones.
    kept = models.BooleanField(default=False, db_default=False, editable=False)

    class Meta:
        indexes = [
            # run detail: a run's snapshots in time order
            models.Index(fields=["run", "observed_at"], name="snapshot_run_time_idx"),
        ]
        ordering = ["observed_at", "id"]

    def __str__(self) -> str:
        return f"{self.run_id} @ {self.observed_at:%Y-%m-%d %H:%M:%S}: {self.state}"


class StateChange(models.Model):
    """A run moved from one state to another. Alerts are driven from these rows."""

    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="state_changes")
    run = models.ForeignKey(Run, null=True, blank=True, on_delete=models.CASCADE, related_name="state_changes")
    old_state = models.CharField(max_length=20, blank=True)
    new_state = models.CharField(max_length=20)
    at = models.DateTimeField(default=timezone.now)
    reason = models.TextField(blank=True)
    processed_at = models.DateTimeField(null=True, blank=True, help_text="When alerting looked at it.")

    class Meta:
        indexes = [
            # alert sender: "unprocessed changes, oldest first"
            models.Index(fields=["at"], name="statechange_pending_idx", condition=models.Q(processed_at=None)),
        ]
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.old_state or '∅'} -> {self.new_state}"

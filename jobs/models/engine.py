"""Rows the engine keeps about itself: pipeline counts per health, heartbeats of periodic processes."""

from __future__ import annotations

from django.db import models


class HealthCount(models.Model):
    """Pipelines per (health_status, paused, erring): a key's count is the sum of its rows,
    appended by database triggers on jobs_pipeline in the same transaction as the change
    and folded into one row per key now and then (jobs.health_counts, ADR 17). The overview's
    counters and the failures page's totals read a few dozen rows, not a million. Never
    written by Python code but `health_counts`."""

    health_status = models.CharField(max_length=20)
    paused = models.BooleanField()
    erring = models.BooleanField(help_text="The pipeline itself has a poll error (poll_error_kind).")
    n = models.BigIntegerField()

    class Meta:
        indexes = [
            # the sums read from the index alone: folding leaves dead rows in the heap until vacuum
            models.Index(fields=["health_status", "paused", "erring"], include=["n"], name="healthcount_key_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.health_status} paused={self.paused} erring={self.erring}: {self.n:+}"


class Heartbeat(models.Model):
    """The last time a periodic process proved it runs (beat's tick): /healthz reads it."""

    name = models.CharField(max_length=50, unique=True)
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} @ {self.at:%H:%M:%S}"

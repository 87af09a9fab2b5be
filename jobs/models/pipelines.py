"""A pipeline: one monitored target at a vendor, its poll state, rollup and derived health."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Coalesce, Lower, NullIf
from django.utils import timezone

from vendors import base as vb
from vendors.registry import VENDORS

from ..pacing import jitter
from ..vocabulary import (
    ALERTED_CHOICES,
    FAILING,
    HEALTHS,
    HEALTHY,
    LATE,
    PAUSED,
    RUNNING,
    STUCK,
    TROUBLE,
    UNKNOWN,
    HealthStatus,
)
from .accounts import Account, Team
from .indexes import NullsIndex
from .wording import _and, _span, day_label

TROUBLED = TROUBLE  # what the failures page lists: urgency below len(TROUBLED)


@dataclass(frozen=True)
class Health:
    status: str
    reason: str = ""


CANCELED_AT = "canceled_at"  # vendor_info key: when it was canceled at the vendor


class Pipeline(models.Model):
    SOURCES = [("config", "config file"), ("created", "created here"), ("discovered", "discovered"), ("api", "API")]

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="pipelines")
    kind = models.CharField(max_length=40)
    external_id = models.CharField(max_length=255)
    name = models.CharField(max_length=200, blank=True)
    config = models.JSONField(default=dict, blank=True)
    # Pipeline-level facts the vendor reports (nessie summary and day timeline, frequency).
    vendor_info = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=20, choices=SOURCES, default="config")
    paused = models.BooleanField(default=False, help_text="Monitoring paused: not polled.")
    team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="pipelines",
        help_text="Owning team (blank: the account's team).",
    )
    # db_default too: rows written in bulk by SQL (bench-scale, the plan tests) get it as well.
    empty_day_is_failure = models.BooleanField(
        default=False, db_default=False, help_text="A run or day that loaded no rows counts as a failed (missing) day."
    )
    created_at = models.DateTimeField(default=timezone.now)

    next_poll_at = models.DateTimeField(default=timezone.now)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    # A problem with this one target (e.g. the vendor no longer knows the id).
    poll_error_kind = models.CharField(max_length=20, blank=True)
    poll_error_message = models.TextField(blank=True)

    # Rollup, rewritten in the same transaction as the runs it summarizes.
    current_run = models.ForeignKey("Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    last_failure_message = models.TextField(blank=True)
    # Days (periods) that failed and have not landed since, for pipelines whose runs are
    # periods of data (ADR 11): run key -> {at, run, code, kind, message} of its failure.
    missing_days = models.JSONField(default=dict, blank=True, editable=False)
    missing_since = models.DateTimeField(null=True, blank=True, editable=False)

    # Alerting memory: the last condition people were told about, so each change is
    # announced once; failures in a row, for channels that wait for N of them.
    # Detection knobs: blank means "learn it" (stuck) or "from the vendor's cadence" (late).
    expected_every_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="A success is expected at least this often (late detection)."
    )
    stuck_after_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="Running without change this long is stuck (blank: learned from history)."
    )
    stuck_after_learned = models.PositiveIntegerField(null=True, blank=True, editable=False)
    alerted_condition = models.CharField(max_length=20, blank=True, choices=ALERTED_CHOICES)
    consecutive_failures = models.PositiveIntegerField(default=0)
    muted_until = models.DateTimeField(null=True, blank=True, help_text="No alerts before this time.")
    # health() as last evaluated (after each poll and each tick), so the overview can
    # count, filter, sort and paginate in SQL; rows on screen still show health() live.
    health_status = models.CharField(
        max_length=20, choices=HealthStatus.choices, default=HealthStatus.UNKNOWN, editable=False
    )
    # When the current trouble (failing, stuck, late, unknown) began; None while fine.
    # Written with health_status by jobs.health.derive, kept until the trouble ends.
    incident_since = models.DateTimeField(null=True, blank=True, editable=False)
    # When the alert scan must look at this pipeline again (ADR 14): the next moment a
    # condition of time (stuck, late) can start, or now when health moved outside a scan.
    # None: nothing but a poll can change it. Written with health_status by jobs.health.
    next_check_at = models.DateTimeField(null=True, blank=True, default=timezone.now, editable=False)
    # Sort keys the database computes from the row (every writer, SQL included), so that each
    # order of the overview is an index range read to its LIMIT (ADR 17): 0 = most urgent.
    urgency = models.GeneratedField(
        expression=Case(*[When(health_status=h, then=Value(i)) for i, h in enumerate(HEALTHS)], default=Value(9)),
        output_field=models.SmallIntegerField(),
        db_persist=True,
    )
    sort_name = models.GeneratedField(
        expression=Lower(Coalesce(NullIf("name", Value("")), "external_id")),
        output_field=models.CharField(max_length=255),
        db_persist=True,
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "kind", "external_id"], name="pipeline_unique_target"),
        ]
        indexes = [
            # tick: "which unpaused pipelines are due?", most overdue first, paged by (time, id);
            # account_id a key column (SQLite has no INCLUDE) so the scan reads the index only (ADR 14)
            models.Index(
                fields=["next_poll_at", "id", "account_id"],
                name="pipeline_due_idx",
                condition=models.Q(paused=False),
            ),
            # alert scan: "whose condition of time may have changed?"
            models.Index(
                fields=["next_check_at"], name="pipeline_check_idx", condition=models.Q(next_check_at__isnull=False)
            ),
            # "filter by health" (exports, charts, API) over thousands of pipelines
            models.Index(fields=["health_status"], name="pipeline_health_idx"),
            # overview's orders, read to the page's LIMIT: urgency, name, last success, last failure
            models.Index(F("urgency"), F("sort_name"), F("id"), name="pipeline_urgency_idx"),
            models.Index(F("sort_name"), F("id"), name="pipeline_name_idx"),
            NullsIndex(F("last_success_at").asc(nulls_first=True), F("id"), name="pipeline_success_idx"),
            NullsIndex(F("last_failure_at").desc(nulls_last=True), F("id"), name="pipeline_failure_idx"),
            # failures page: the troubled, newest incident first
            NullsIndex(
                F("incident_since").desc(nulls_last=True),
                F("id").desc(),
                name="pipeline_incident_idx",
                condition=Q(urgency__lt=len(TROUBLED)),
            ),
        ]
        ordering = ["account__name", "name", "external_id"]

    def __str__(self) -> str:
        return self.display_name

    def save(self, *args: Any, **kwargs: Any) -> None:
        # A whole-row save (a form, the admin, a config sync) may change what decides stuck
        # and late: the next alert scan looks at it. Saves of named fields are the engine's own.
        if kwargs.get("update_fields") is None:
            self.next_check_at = timezone.now()
        super().save(*args, **kwargs)

    @property
    def display_name(self) -> str:
        return self.name or self.external_id

    # What a poll changes on its pipeline: its poll state (the methods below) and the
    # rollup of its runs (jobs.rollup); jobs.writer saves an account's in one UPDATE.
    POLL_STATE = ("vendor_info", "poll_error_kind", "poll_error_message", "last_polled_at", "next_poll_at")
    ROLLUP = (
        "current_run",
        "last_success_at",
        "last_failure_at",
        "last_failure_message",
        "missing_days",
        "missing_since",
        "stuck_after_learned",
    )

    def record_answer(self, info: dict[str, Any] | None) -> None:
        """The vendor answered about this pipeline: no problem with it; its facts merged in."""
        if info is not None:
            self.vendor_info = {**self.vendor_info, **info}
        self.poll_error_kind = self.poll_error_message = ""

    def record_poll_error(self, error: vb.VendorError) -> None:
        """The vendor answered about this one pipeline with an error (the account is fine)."""
        if isinstance(error, vb.NotFound) and not isinstance(error, vb.RemovedApi):
            message = f"The vendor does not know {self.kind} {self.external_id!r} ({error})"
        else:
            message = str(error)
        self.poll_error_kind, self.poll_error_message = error.kind, message

    def record_polled(self, now: datetime) -> None:
        """Polled now (its current run as just recorded): next at the active cadence while
        that run is active, else at the idle one."""
        run = self.current_run
        active = run is not None and run.is_active
        self.last_polled_at = now
        self.next_poll_at = now + jitter(settings.POLL_ACTIVE_SECONDS if active else settings.POLL_IDLE_SECONDS)

    def target(self, open_runs: tuple[str, ...] = ()) -> vb.Target:
        return vb.Target(kind=self.kind, external_id=self.external_id, open_runs=open_runs)

    @property
    def is_one_shot(self) -> bool:
        """A stream of one-shot jobs (FullStory, Micro, Statsig backfills), tracked by id."""
        cls = VENDORS.get(self.account.vendor)
        return bool(cls and self.kind in cls.schema.one_shot_kinds)

    @property
    def is_periodic(self) -> bool:
        """Each run is a period of data (a day), retried under the same key (ADR 11)."""
        cls = VENDORS.get(self.account.vendor)
        return bool(cls and self.kind in cls.schema.period_kinds)

    def missing_day_labels(self) -> list[str]:
        """The missing days as people read them, oldest first (run keys may be windows)."""
        return [day_label(key) for key in sorted(self.missing_days)]

    def missing_reason(self) -> str:
        days = self.missing_day_labels()
        if not days:
            return ""
        shown = ", ".join(days[:5]) + (f" and {len(days) - 5} more" if len(days) > 5 else "")
        noun = "interval" if any("–" in d for d in days) else "day"
        noun += "" if len(days) == 1 else "s"
        empty = sum(1 for m in self.missing_days.values() if m.get("kind") == EMPTY)
        how = "failed" if not empty else "loaded no data" if empty == len(days) else "failed or loaded no data"
        return f"{len(days)} {noun} {how} and not loaded since: {shown}"

    @property
    def owning_team(self) -> Team | None:
        """Its own team, else its account's (load `team` and `account__team` for lists)."""
        return self.team if self.team_id else self.account.team

    @property
    def canceled_at(self) -> str:
        """When someone canceled it at the vendor (ISO time), or ""."""
        return str((self.vendor_info or {}).get(CANCELED_AT) or "")

    def health(self, now: datetime | None = None) -> Health:
        """Derived like a monitor's up/late/down; needs `account` and `current_run` loaded."""
        now = now or timezone.now()
        if self.canceled_at:
            return Health(PAUSED, f"Canceled at {self.account.vendor_label}; monitoring stopped, history kept")
        if self.paused:
            return Health(PAUSED, "Monitoring paused")
        if problem := self.account.poll_problem():
            return Health(UNKNOWN, problem)
        if self.poll_error_kind:
            return Health(UNKNOWN, self.poll_error_message)
        if self.last_polled_at is None:
            return Health(UNKNOWN, "Waiting for the first poll")
        run = self.current_run
        if run is not None and run.state == vb.RUNNING:
            quiet = now - run.last_change_at
            if quiet > timedelta(seconds=self.stuck_threshold()):
                return Health(
                    STUCK,
                    f"No progress for {_span(quiet)} (threshold {_span(timedelta(seconds=self.stuck_threshold()))})",
                )
        vendor_paused = self.vendor_paused()
        if run is not None and run.state == vb.FAILED:
            return Health(FAILING, _and(run.error_message or f"Run {run.vendor_status}", vendor_paused))
        if self.missing_days:  # a later day running or landed does not bring a failed one back
            return Health(FAILING, _and(self.missing_reason(), vendor_paused))
        if self.empty_day_is_failure and run is not None and run.is_empty and not self.is_periodic:
            return Health(FAILING, f"The last run loaded no data ({run.vendor_status or '0 rows'})")
        if vendor_paused:  # on purpose, not trouble: nothing runs until someone resumes it there
            return Health(PAUSED, vendor_paused)
        if run is not None and run.state in vb.ACTIVE_STATES:
            return Health(RUNNING, run.vendor_status)
        if run is not None and run.state == vb.UNKNOWN and "expired" not in run.flags:
            return Health(UNKNOWN, f"Vendor status {run.vendor_status!r} is not one we know")
        if late := self.lateness(now):
            return Health(LATE, late)
        return Health(HEALTHY, "" if run else "No runs reported yet")

    def vendor_paused(self) -> str:
        """ "Paused at PostHog: <why>" when the vendor reports the pipeline paused (vendor_info
        `paused`, `paused_reason`), else ""."""
        info = self.vendor_info or {}
        if info.get("paused") is not True:
            return ""
        reason = info.get("paused_reason")
        return f"Paused at {self.account.vendor_label}" + (f" ({reason})" if reason and isinstance(reason, str) else "")

    def cadence_seconds(self) -> int | None:
        """How often a success is expected: configured, or the vendor's own schedule."""
        if self.expected_every_seconds:
            return self.expected_every_seconds
        cls = VENDORS.get(self.account.vendor)
        return cls.cadence_for(self.kind, self.vendor_info) if cls else None

    def waiting_since(self) -> datetime:
        """Since when a success is awaited: lateness counts from here, and a late incident began here."""
        return self.last_success_at or self.created_at

    def late_after(self) -> datetime | None:
        """Past this moment without a success, the pipeline is late; None: it has no cadence."""
        cadence = self.cadence_seconds()
        if not cadence:
            return None
        grace = max(settings.LATE_GRACE_MIN_SECONDS, cadence * settings.LATE_GRACE_FRACTION)
        return self.waiting_since() + timedelta(seconds=cadence + grace)

    def lateness(self, now: datetime) -> str:
        deadline = self.late_after()
        if deadline is None or now <= deadline:
            return ""
        cadence = self.cadence_seconds() or 0
        last = "no success yet"
        if self.last_success_at:
            last = f"last success {_span(now - self.last_success_at)} ago"
            if now - self.last_success_at >= timedelta(days=60):  # that far back, the date says more
                last += f" ({timezone.localtime(self.last_success_at):%Y-%m-%d})"
        return f"Expected a success every {_span(timedelta(seconds=cadence))}; {last}"

    def stuck_threshold(self) -> int:
        return int(self.stuck_after_seconds or self.stuck_after_learned or settings.STUCK_AFTER_SECONDS)


# The error kind a day that loaded nothing is recorded under, when empty days count as failures.
EMPTY = vb.ErrorKind.EMPTY

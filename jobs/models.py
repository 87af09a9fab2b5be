"""The domain: accounts, pipelines, runs, snapshots, state changes, poll attempts, audit.

Observations are kept as rows: a `Snapshot` only when what the vendor says changed, a
`StateChange` whenever a run's state moves. A pipeline's health is derived (`health()`),
never stored as truth; the pipeline keeps only a denormalized rollup so that the pages
can read one row per pipeline.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Coalesce, Lower, NullIf
from django.utils import timezone

from vendors import base as vb
from vendors.registry import VENDORS

from .crypto import decrypt_json, encrypt_json
from .pacing import error_backoff, jitter
from .redaction import redact
from .scrubbing import remember
from .vocabulary import (
    ALERTED_CHOICES,
    EVENT_CHOICES,
    EVENTS,
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
    meaning,
)

VENDOR_CHOICES = [(name, cls.label) for name, cls in VENDORS.items()]
STATE_CHOICES = [(s, s) for s in vb.STATES]

TROUBLED = TROUBLE  # what the failures page lists: urgency below len(TROUBLED)


class NullsIndex(models.Index):
    """An index whose NULLS FIRST / NULLS LAST PostgreSQL needs to serve an ORDER BY. SQLite
    takes no such clause in an index; there NULL sorts lowest, which is already the order
    asked for by each use here (ascending nulls first, descending nulls last)."""

    def create_sql(self, model: Any, schema_editor: Any, using: str = "", **kwargs: Any) -> Any:
        statement = super().create_sql(model, schema_editor, using=using, **kwargs)
        if schema_editor.connection.vendor == "sqlite" and "columns" in statement.parts:
            statement.parts["columns"] = _WithoutNulls(statement.parts["columns"])
        return statement


class _WithoutNulls:
    """A part of a CREATE INDEX statement, less its NULLS clauses (table renames still reach it)."""

    def __init__(self, part: Any) -> None:
        self.part = part

    def __getattr__(self, name: str) -> Any:
        return getattr(self.part, name)

    def __str__(self) -> str:
        return re.sub(r" NULLS (FIRST|LAST)", "", str(self.part))


class Team(models.Model):
    """Who owns pipelines: set on an account (the default for its pipelines) or a pipeline.
    Channels can route by team; people belong to teams ("my teams" filters)."""

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100, unique=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="teams")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Account(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100, unique=True)
    vendor = models.CharField(max_length=20, choices=VENDOR_CHOICES)
    region = models.CharField(max_length=20, blank=True)
    base_url = models.CharField(
        max_length=300, blank=True, help_text="Replaces every host of the vendor (simulator, proxies)."
    )
    settings = models.JSONField(default=dict, blank=True)
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, help_text="Owns this account's pipelines by default."
    )
    credentials_token = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    # Poll health: kept apart from job health, so "we cannot see" never reads as "fine".
    last_poll_at = models.DateTimeField(null=True, blank=True)
    last_poll_ok_at = models.DateTimeField(null=True, blank=True)
    poll_error_kind = models.CharField(max_length=20, blank=True)
    poll_error_message = models.TextField(blank=True)
    poll_error_status = models.PositiveSmallIntegerField(null=True, blank=True)
    poll_error_since = models.DateTimeField(null=True, blank=True)
    consecutive_errors = models.PositiveIntegerField(default=0)
    backoff_until = models.DateTimeField(null=True, blank=True)
    # Vendors that list their pipelines (nessie jobs, Statsig sources) are asked again
    # at this time; None means "never asked yet".
    next_discovery_at = models.DateTimeField(null=True, blank=True)
    # A claim by the tick: nobody else polls this account until the lease ends.
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.UUIDField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        indexes = [
            # tick: "which listing vendors' accounts are due to be asked?" by index range (ADR 14)
            models.Index(fields=["vendor", "next_discovery_at"], name="account_discovery_idx"),
            # failures page: "which accounts cannot be polled?" without reading every account
            models.Index(fields=["poll_error_since"], name="account_poll_error_idx", condition=~Q(poll_error_kind="")),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def credentials(self) -> dict[str, str]:
        credentials = decrypt_json(self.credentials_token)
        remember(f"account:{self.pk or id(self)}", credentials)  # held in memory: kept out of the log
        return credentials

    @credentials.setter
    def credentials(self, value: dict[str, str]) -> None:
        # Whitespace around a secret is never part of it (a pasted newline, an env file's).
        value = {k: v.strip() if isinstance(v, str) else v for k, v in (value or {}).items()}
        self.credentials_token = encrypt_json(value) if value else ""

    def config(self) -> vb.AccountConfig:
        return vb.AccountConfig(
            vendor=self.vendor,
            name=self.name,
            settings=dict(self.settings),
            credentials=self.credentials,
            region=self.region,
            base_url=self.base_url,
        )

    @property
    def vendor_label(self) -> str:
        cls = VENDORS.get(self.vendor)
        return cls.label if cls else self.vendor

    # What a poll changes on its account (`record_poll`, `record_poll_error`; jobs.writer saves them).
    POLL_STATE = (
        "last_poll_at",
        "last_poll_ok_at",
        "poll_error_kind",
        "poll_error_message",
        "poll_error_status",
        "poll_error_since",
        "consecutive_errors",
        "backoff_until",
        "next_discovery_at",
    )

    def record_poll(
        self, now: datetime, *, duration_ms: int, targets: int, problem: vb.VendorError | None = None, listed: bool
    ) -> PollAttempt:
        """The vendor answered: the account can be seen. `problem`: one target's error, told
        on the attempt; `listed`: its pipelines were listed, ask again in DISCOVERY_SECONDS."""
        self.last_poll_at = self.last_poll_ok_at = now
        self.poll_error_kind = self.poll_error_message = ""
        self.poll_error_status = self.poll_error_since = None
        self.consecutive_errors = 0
        self.backoff_until = None
        if listed:
            self.next_discovery_at = now + jitter(settings.DISCOVERY_SECONDS)
        return PollAttempt(
            account=self,
            at=now,
            duration_ms=duration_ms,
            outcome=problem.kind if problem else "ok",
            targets=targets,
            http_status=problem.http_status if problem else None,
            message=str(problem) if problem else "",
        )

    def record_poll_error(self, now: datetime, error: vb.VendorError, *, duration_ms: int, targets: int) -> PollAttempt:
        """The account could not be polled: each error in a row doubles the backoff."""
        self.last_poll_at = now
        if self.poll_error_kind != error.kind:
            self.poll_error_since = now
        self.poll_error_kind, self.poll_error_message, self.poll_error_status = (
            error.kind,
            str(error),
            error.http_status,
        )
        self.consecutive_errors += 1
        self.backoff_until = now + timedelta(seconds=error_backoff(self.consecutive_errors, error.retry_after))
        return PollAttempt(
            account=self,
            at=now,
            duration_ms=duration_ms,
            outcome=error.kind,
            targets=targets,
            http_status=error.http_status,
            retry_after=error.retry_after,
            message=str(error),
        )

    def poll_problem(self) -> str:
        """Why we cannot currently see this account's jobs, or "" when we can."""
        if not self.poll_error_kind:
            return ""
        # One 429 is routine and obeyed; a run of them means we are effectively blind.
        if self.poll_error_kind == vb.ErrorKind.RATE_LIMITED and self.consecutive_errors < 3:
            return ""
        return f"{meaning(self.poll_error_kind).problem}: {self.poll_error_message}"


@dataclass(frozen=True)
class Health:
    status: str
    reason: str = ""


def day_label(key: str) -> str:
    """`2026-11-24` for a day key, also for a window key such as Mixpanel's
    `2026-11-24T00:00:00-08:00..2026-11-25T00:00:00-08:00` (its first day; a longer window
    names both ends) or PostHog's `<start>/<end>`; a window within a day reads
    `2026-11-22 08:00-09:00 (an en dash)` (times as the vendor wrote them)."""
    start, sep, end = key.partition("..")
    if not sep:
        start, _, end = key.partition("/")
    first, last = start[:10], end[:10]
    if not end or not _ISO_DAY.fullmatch(first) or not _ISO_DAY.fullmatch(last):
        return key
    if _within_day(start, end):
        return f"{first} {start[11:16]}–{end[11:16] if last == first else end[:16].replace('T', ' ')}"
    return first if last in (first, _next_day(first)) else f"{first} to {last}"


def _within_day(start: str, end: str) -> bool:
    """A window shorter than a day (an hourly interval), by its written times."""
    return len(start) >= 16 and len(end) >= 16 and start[11:16] != end[11:16]


def _and(reason: str, more: str) -> str:
    """Two sentences of a health reason, the second only when there is one."""
    if not more:
        return reason
    return f"{reason.rstrip()}{'' if reason.rstrip().endswith(('.', '!', '?')) else '.'} {more}."


def _next_day(day: str) -> str:
    return (date.fromisoformat(day) + timedelta(days=1)).isoformat()


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


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
# Counts that measure rows loaded: all of them at 0 makes a successful run an empty one.
ROW_COUNTS = ("rows", "imported", "processed", "total", "loaded")


def _span(delta: timedelta) -> str:
    """A duration as people say it: minutes, hours, days, then months and years, never "2266 days"."""
    minutes = int(delta.total_seconds() // 60)
    days = minutes // 1440
    if days >= 730:
        return f"{days // 365} years"
    if days >= 60:
        return f"{days // 30} months"
    if minutes >= 48 * 60:
        return f"{days} days"
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


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


class PollAttempt(models.Model):
    # "deadline": the poll ran out of time (`leases`) and left pipelines for the next one.
    OUTCOMES = [(k, k) for k in ("ok", *vb.POLL_ERROR_KINDS, vb.ErrorKind.DEADLINE, vb.ErrorKind.INTERNAL)]

    # pollattempt_recent_idx leads with account: no index of its own. On PostgreSQL the table
    # is partitioned by day of `at` (ADR 17); its primary key there is (id, at).
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="poll_attempts", db_index=False)
    at = models.DateTimeField(default=timezone.now)
    duration_ms = models.PositiveIntegerField(default=0)
    outcome = models.CharField(max_length=20, choices=OUTCOMES)
    targets = models.PositiveIntegerField(default=0)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    retry_after = models.FloatField(null=True, blank=True)
    message = models.TextField(blank=True)

    class Meta:
        indexes = [
            # account page: recent attempts of one account
            models.Index(fields=["account", "-at"], name="pollattempt_recent_idx"),
        ]
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.account_id} {self.outcome}"


class AuditEvent(models.Model):
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_label = models.CharField(
        max_length=150,
        blank=True,
        help_text="Who: the user's name when it was written (kept after the user is deleted), or a command.",
    )
    action = models.CharField(max_length=60)
    target_type = models.CharField(max_length=40, blank=True)
    target_label = models.CharField(max_length=255, blank=True)
    outcome = models.CharField(max_length=20, default="ok")
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.target_label}"

    def save(self, *args: object, **kwargs: object) -> None:
        # Entries are written through jobs.audit.record(); this keeps the name for any other writer.
        if self.actor_id and not self.actor_label:
            self.actor_label = self.actor.get_username()
        # Every writer, present and future: viewers read this, secrets never reach it.
        self.detail = redact(self.detail)
        super().save(*args, **kwargs)


class ApiToken(models.Model):
    """A bearer token for scripts; only its SHA-256 digest is stored (jobs/tokens.py).

    It works until it expires, its owner's password changes or its owner is deactivated,
    and never beyond its scope: a read token cannot write, whatever its owner's role."""

    READ, OPERATE = "read", "operate"
    SCOPES = ((READ, "read"), (OPERATE, "operate"))

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=12)
    digest = models.CharField(max_length=64, unique=True)
    scope = models.CharField(max_length=10, choices=SCOPES, default=READ)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    # Digest of the owner's password hash when issued: any other hash (a new password) ends
    # the token; blank once the owner was deactivated.
    password_fingerprint = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"


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


class AlertChannel(models.Model):
    """Where alerts go: an apprise URL (Slack, Teams, PagerDuty, JSON webhook, ...) or
    `email://to@example.com` through Django's mail settings. Routed by vendor, account
    or pipeline; the URL holds secrets (webhook tokens) and is encrypted like credentials."""

    EVENTS = EVENTS  # the event kinds a channel may choose (jobs/vocabulary.py)

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100, unique=True)
    url_token = models.TextField(editable=False)
    enabled = models.BooleanField(default=True)
    vendor = models.CharField(max_length=20, blank=True, help_text="Only this vendor (blank: all).")
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.CASCADE)
    pipeline = models.ForeignKey(Pipeline, null=True, blank=True, on_delete=models.CASCADE)
    teams = models.ManyToManyField(
        Team, blank=True, related_name="channels", help_text="Only pipelines these teams own (none: all)."
    )
    events = models.JSONField(default=list, blank=True, help_text="Event kinds to send (empty: all).")
    min_consecutive_failures = models.PositiveSmallIntegerField(default=1)
    consecutive_delivery_failures = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name

    @property
    def url(self) -> str:
        return decrypt_json(self.url_token).get("url", "")

    @url.setter
    def url(self, value: str) -> None:
        self.url_token = encrypt_json({"url": value})

    @property
    def failing(self) -> bool:
        return self.consecutive_delivery_failures >= 5

    def routes(self, pipeline: Pipeline, kind: str) -> bool:
        if not self.enabled or (self.events and kind not in self.events):
            return False
        if self.vendor and self.vendor != pipeline.account.vendor:
            return False
        if self.account_id and self.account_id != pipeline.account_id:
            return False
        if self.pipeline_id and self.pipeline_id != pipeline.pk:
            return False
        teams = self.team_ids()
        return not teams or (pipeline.owning_team is not None and pipeline.owning_team.pk in teams)

    def team_ids(self) -> set[int]:
        """Its teams' ids (prefetch `teams` when routing many events)."""
        return {team.pk for team in self.teams.all()} if self.pk else set()


class MaintenanceWindow(models.Model):
    """No alerts inside it, for one pipeline, one account, or everything."""

    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.CASCADE)
    pipeline = models.ForeignKey(Pipeline, null=True, blank=True, on_delete=models.CASCADE)
    reason = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return f"{self.starts_at:%Y-%m-%d %H:%M}–{self.ends_at:%H:%M} {self.reason}"


class AlertEvent(models.Model):
    """One change worth telling people about; suppressed ones are kept and shown too."""

    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="alert_events")
    kind = models.CharField(max_length=20, choices=EVENT_CHOICES)
    title = models.CharField(max_length=300)
    message = models.TextField()
    at = models.DateTimeField(default=timezone.now)
    consecutive_failures = models.PositiveIntegerField(default=0)
    suppressed = models.CharField(max_length=100, blank=True, help_text="Why nothing was sent (muted, maintenance).")
    # The structured alert (schema "pipewatch.alert/1", jobs/payload.py), as it was when
    # the event happened: every delivery and retry sends the same one.
    payload = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return self.title


class AlertDelivery(models.Model):
    PENDING, SENT, FAILED, GAVE_UP = "pending", "sent", "failed", "gave_up"

    event = models.ForeignKey(AlertEvent, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.ForeignKey(AlertChannel, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=10, default=PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "channel"], name="delivery_once_per_channel")]
        indexes = [
            # sender: "pending deliveries that are due"
            models.Index(fields=["next_attempt_at"], name="delivery_due_idx", condition=models.Q(status="pending")),
        ]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.channel} {self.status}"


class Acknowledgement(models.Model):
    """Someone has seen an incident (and maybe snoozed it). Keyed by the incident's
    identity, which includes when it started: a new incident is never pre-acknowledged."""

    incident = models.CharField(max_length=200, unique=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    at = models.DateTimeField(default=timezone.now)
    note = models.TextField(blank=True)
    snoozed_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.incident} by {self.by_id}"


class Upload(models.Model):
    """A file too large to send from the request (over UPLOAD_SYNC_MAX_BYTES): kept in
    PostgreSQL (`UploadChunk`, so any worker machine can read it) until a worker has read it
    and sent the rows, or checked them for a preview. Its page shows progress and outcome."""

    QUEUED, READING, SENDING, DONE, FAILED = "queued", "reading", "sending", "done", "failed"
    STATUS_CHOICES = [(s, s) for s in (QUEUED, READING, SENDING, DONE, FAILED)]

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    account = models.ForeignKey(Account, on_delete=models.CASCADE)
    kind = models.CharField(max_length=50)
    field = models.CharField(max_length=50, help_text="The create field the file fills (rows, requests).")
    filename = models.CharField(max_length=255)
    size = models.BigIntegerField()
    preview = models.BooleanField(default=False, help_text="Only check and count the rows; send nothing.")
    # The form's other fields: encrypted, a vendor's create fields may hold secrets.
    spec_token = models.TextField(editable=False, blank=True)
    status = models.CharField(max_length=10, choices=STATUS_CHOICES, default=QUEUED)
    bytes_read = models.BigIntegerField(default=0)
    rows_read = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)
    pipelines = models.JSONField(default=list, blank=True, help_text="UUIDs of the pipelines created.")
    created_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.filename} ({self.status})"

    @property
    def spec(self) -> dict[str, Any]:
        return decrypt_json(self.spec_token)

    @spec.setter
    def spec(self, value: dict[str, Any]) -> None:
        self.spec_token = encrypt_json(value) if value else ""

    @property
    def finished(self) -> bool:
        return self.status in (self.DONE, self.FAILED)

    @property
    def waiting_long(self) -> bool:
        """Queued for minutes: no worker consumes the uploads queue (or the broker is down)."""
        return self.status == self.QUEUED and timezone.now() - self.created_at > timedelta(minutes=2)

    @property
    def percent(self) -> int:
        return min(100, int(self.bytes_read * 100 / self.size)) if self.size else 0


class UploadChunk(models.Model):
    """One piece (UPLOAD_CHUNK_BYTES) of a stored upload, in order."""

    upload = models.ForeignKey(Upload, on_delete=models.CASCADE, related_name="chunks")
    seq = models.PositiveIntegerField()
    data = models.BinaryField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["upload", "seq"], name="uploadchunk_unique_seq")]

    def __str__(self) -> str:
        return f"{self.upload_id}#{self.seq}"

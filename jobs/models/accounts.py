"""Teams, vendor accounts (credentials, poll health) and the log of poll attempts."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from vendors import base as vb
from vendors.registry import VENDORS

from ..crypto import decrypt_json, encrypt_json
from ..pacing import error_backoff, jitter
from ..scrubbing import remember
from ..vocabulary import meaning

VENDOR_CHOICES = [(name, cls.label) for name, cls in VENDORS.items()]


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

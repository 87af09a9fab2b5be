"""Alerting: channels, maintenance windows, alert events and their deliveries, acknowledgements."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from ..crypto import decrypt_json, encrypt_json
from ..vocabulary import EVENT_CHOICES, EVENTS
from .accounts import Account, Team
from .pipelines import Pipeline


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

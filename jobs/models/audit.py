"""Who did what (the audit log) and the API tokens scripts act with."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from ..redaction import redact


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

"""Files too large to send from the request, stored until a worker has read them."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from ..crypto import decrypt_json, encrypt_json
from .accounts import Account


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

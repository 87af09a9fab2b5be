"""Large uploads, off the request. The web process stores the file in PostgreSQL a chunk at
a time (any worker machine can read it there) and queues `jobs.tasks.process_upload` on the
`uploads` queue; the worker reads the rows as a stream, keeps its page's progress current,
checks (preview) or sends them through the same `actions.create` as the page, and drops the
stored file. A worker that dies mid-file leaves a claim that another takes over later."""

from __future__ import annotations

import io
import logging
import time
from datetime import datetime, timedelta
from typing import Any

from celery import current_app
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .models import Account, Upload, UploadChunk
from .uploads import RowReader, UploadError

log = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20
PROCESS_TASK = "jobs.tasks.process_upload"
STALE_CLAIM = timedelta(minutes=30)  # a claim this old belongs to a worker that died
KEEP_DAYS = 7  # finished (or never processed) uploads are forgotten after this
PROGRESS_EVERY_SECONDS = 1.0


def store(
    file: Any, *, account: Account, kind: str, field: str, spec: dict[str, Any], preview: bool, user: Any
) -> Upload:
    """Keep an uploaded file (a Django UploadedFile, on disk) and queue its processing."""
    with transaction.atomic():
        upload = Upload(
            created_by=user if getattr(user, "pk", None) else None,
            account=account,
            kind=kind,
            field=field,
            filename=(getattr(file, "name", "") or "upload")[:255],
            size=file.size,
            preview=preview,
        )
        upload.spec = spec
        upload.save()
        file.seek(0)
        for seq, piece in enumerate(file.chunks(CHUNK_BYTES)):
            UploadChunk.objects.create(upload=upload, seq=seq, data=piece)
        transaction.on_commit(lambda: _enqueue(upload))
    return upload


def _enqueue(upload: Upload) -> None:
    """The file is kept whatever happens here; a broker that cannot be reached is logged and
    the upload's page says that no worker has taken it. Queued by name: jobs.tasks imports us."""
    try:
        current_app.send_task(PROCESS_TASK, args=[upload.pk])
    except Exception:
        log.exception("upload %s is stored but could not be queued", upload.uuid)


class ChunkStream(io.RawIOBase):
    """A stored upload read back as a binary stream, one chunk in memory at a time."""

    def __init__(self, upload_id: int) -> None:
        self.upload_id, self.seq, self.buf, self.pos = upload_id, 0, b"", 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.pos >= len(self.buf):
            data = (
                UploadChunk.objects.filter(upload_id=self.upload_id, seq=self.seq)
                .values_list("data", flat=True)
                .first()
            )
            if data is None:
                return 0
            self.buf, self.pos, self.seq = bytes(data), 0, self.seq + 1
        n = min(len(buffer), len(self.buf) - self.pos)
        buffer[:n] = self.buf[self.pos : self.pos + n]
        self.pos += n
        return n


def claim(upload_id: int, now: datetime | None = None) -> Upload | None:
    """Take the upload for this worker, unless another has it (safe to run twice)."""
    now = now or timezone.now()
    taken = (
        Upload.objects.filter(pk=upload_id)
        .filter(
            Q(status=Upload.QUEUED) | Q(status__in=(Upload.READING, Upload.SENDING), claimed_at__lt=now - STALE_CLAIM)
        )
        .update(status=Upload.READING, claimed_at=now, rows_read=0, bytes_read=0)
    )
    return Upload.objects.select_related("account", "created_by").get(pk=upload_id) if taken else None


def process(upload_id: int) -> str:
    upload = claim(upload_id)
    if upload is None:
        return "already taken"
    try:
        status, message, pipelines = _run(upload)
    except UploadError as exc:
        status, message, pipelines = Upload.FAILED, str(exc), []
    except Exception as exc:  # never leave the page saying "reading" forever
        log.exception("upload %s could not be processed", upload.uuid)
        status, message, pipelines = Upload.FAILED, f"could not process the upload ({type(exc).__name__})", []
    Upload.objects.filter(pk=upload.pk).update(
        status=status, message=message, pipelines=pipelines, finished_at=timezone.now()
    )
    UploadChunk.objects.filter(upload_id=upload.pk).delete()  # the rows went out (or never will)
    return f"{upload.filename}: {status}"


def _run(upload: Upload) -> tuple[str, str, list[str]]:
    from . import actions
    from .polling import client_for_account

    reader = RowReader(ChunkStream(upload.pk), upload.filename, allow_csv=upload.field == "rows")
    rows: list[dict[str, Any]] = []
    count, last = 0, time.monotonic()
    for row in reader:
        count += 1
        if not upload.preview:
            rows.append(row)  # the vendor call needs them all
        if time.monotonic() - last > PROGRESS_EVERY_SECONDS:
            Upload.objects.filter(pk=upload.pk).update(rows_read=count, bytes_read=reader.bytes_read)
            last = time.monotonic()
    Upload.objects.filter(pk=upload.pk).update(
        rows_read=count,
        bytes_read=upload.size,
        status=Upload.READING if upload.preview else Upload.SENDING,
    )
    spec = upload.spec
    if upload.preview:
        # describe_create reads how many rows there are: shared placeholders tell it that
        # without keeping the rows (8 bytes each).
        placeholder: dict[str, Any] = {}
        spec[upload.field] = [placeholder] * count
        described = client_for_account(upload.account).describe_create(upload.kind, spec)
        return Upload.DONE, described or f"{count:,} rows read.", []
    spec[upload.field] = rows
    result = actions.create(upload.account, upload.kind, spec, upload.created_by)
    if not result.ok:
        problems = "; ".join(f"{name}: {text}" for name, text in result.field_errors.items())
        return Upload.FAILED, f"{result.message} {problems}".strip(), []
    return Upload.DONE, result.message, [str(p.uuid) for p in result.pipelines]


def forget_old(now: datetime | None = None) -> int:
    """Uploads older than KEEP_DAYS, finished or never processed, with anything stored."""
    cutoff = (now or timezone.now()) - timedelta(days=KEEP_DAYS)
    return Upload.objects.filter(created_at__lt=cutoff).delete()[1].get("jobs.Upload", 0)

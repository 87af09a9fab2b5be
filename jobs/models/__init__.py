"""The domain: accounts, pipelines, runs, snapshots, state changes, poll attempts, audit.

Observations are kept as rows: a `Snapshot` only when what the vendor says changed, a
`StateChange` whenever a run's state moves. A pipeline's health is derived (`health()`),
never stored as truth; the pipeline keeps only a denormalized rollup so that the pages
can read one row per pipeline.

One module per part of the domain; every name is imported from here (`from jobs.models import X`).
"""

from ..vocabulary import FAILING, HEALTHS, HEALTHY, LATE, PAUSED, RUNNING, STUCK, UNKNOWN
from .accounts import VENDOR_CHOICES, Account, PollAttempt, Team
from .alerts import Acknowledgement, AlertChannel, AlertDelivery, AlertEvent, MaintenanceWindow
from .audit import ApiToken, AuditEvent
from .engine import HealthCount, Heartbeat
from .indexes import NullsIndex
from .pipelines import CANCELED_AT, EMPTY, TROUBLED, Health, Pipeline
from .runs import ROW_COUNTS, STATE_CHOICES, Run, RunItem, Snapshot, StateChange
from .uploads import Upload, UploadChunk
from .wording import _span, day_label

__all__ = [
    "CANCELED_AT",
    "EMPTY",
    "FAILING",
    "HEALTHS",
    "HEALTHY",
    "LATE",
    "PAUSED",
    "ROW_COUNTS",
    "RUNNING",
    "STATE_CHOICES",
    "STUCK",
    "TROUBLED",
    "UNKNOWN",
    "VENDOR_CHOICES",
    "Account",
    "Acknowledgement",
    "AlertChannel",
    "AlertDelivery",
    "AlertEvent",
    "ApiToken",
    "AuditEvent",
    "Health",
    "HealthCount",
    "Heartbeat",
    "MaintenanceWindow",
    "NullsIndex",
    "Pipeline",
    "PollAttempt",
    "Run",
    "RunItem",
    "Snapshot",
    "StateChange",
    "Team",
    "Upload",
    "UploadChunk",
    "_span",
    "day_label",
]

"""Why alerts for a pipeline are not sent right now: muted by an operator, or inside a
maintenance window. Computed for a whole page of pipelines in one query, and used alike by
alerting (the event's `suppressed` text) and by the pages' badges."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Q

from .models import MaintenanceWindow, Pipeline

# "Until unmuted" is stored as a date no one reaches: one column, no extra flag.
UNTIL_UNMUTED = datetime(9999, 1, 1, tzinfo=UTC)
MUTE_CHOICES = [(60, "1 hour"), (240, "4 hours"), (1440, "1 day"), (10080, "1 week"), (0, "until unmuted")]


@dataclass(frozen=True)
class Suppression:
    kind: str  # "muted" | "maintenance"
    until: datetime
    why: str

    @property
    def forever(self) -> bool:
        return self.until >= UNTIL_UNMUTED

    @property
    def text(self) -> str:
        """The reason stored on a suppressed alert event (kept short: the column is 100)."""
        if self.kind == "muted":
            return "muted until unmuted" if self.forever else f"muted until {self.until:%Y-%m-%d %H:%M} UTC"
        return f"maintenance window: {self.why or 'scheduled'}"[:100]


def mute_until(minutes: int, now: datetime) -> datetime:
    return UNTIL_UNMUTED if minutes == 0 else now + timedelta(minutes=minutes)


def suppressions(pipelines: Iterable[Pipeline], now: datetime) -> dict[int, Suppression]:
    """Each suppressed pipeline's reason, by pk; a mute wins over a maintenance window."""
    pipelines = list(pipelines)
    found: dict[int, Suppression] = {}
    if not pipelines:
        return found
    ids = {p.pk for p in pipelines}
    accounts = {p.account_id for p in pipelines}
    windows = list(
        MaintenanceWindow.objects.filter(starts_at__lte=now, ends_at__gt=now)
        .filter(Q(pipeline__in=ids) | Q(account__in=accounts, pipeline=None) | Q(account=None, pipeline=None))
        .order_by("ends_at", "id")
    )
    for p in pipelines:
        if p.muted_until and p.muted_until > now:
            found[p.pk] = Suppression("muted", p.muted_until, "muted by an operator")
            continue
        for w in windows:
            if w.pipeline_id == p.pk or (w.pipeline_id is None and w.account_id in (None, p.account_id)):
                found[p.pk] = Suppression("maintenance", w.ends_at, w.reason or "scheduled")
                break
    return found

"""How long until the next poll: the cadence's jitter and the error backoff (used by the
models' poll-state methods and by the tick)."""

from __future__ import annotations

import random
from datetime import timedelta

from django.conf import settings


def jitter(seconds: float) -> timedelta:
    """±10 % so that pipelines created together do not poll in lockstep forever."""
    return timedelta(seconds=seconds * random.uniform(0.9, 1.1))


def error_backoff(consecutive_errors: int, retry_after: float | None = None) -> float:
    """Exponential from the active cadence, capped; never sooner than Retry-After."""
    exponent = max(0, consecutive_errors - 1)
    delay = min(settings.POLL_ERROR_BACKOFF_MAX_SECONDS, settings.POLL_ACTIVE_SECONDS * 2 ** min(exponent, 20))
    if retry_after:
        delay = max(delay, retry_after)
    return delay

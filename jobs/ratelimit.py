"""Per-account request budgets shared by every worker: the vendors' published limits.

Fixed windows counted in Redis (INCR + EXPIRE): simple, shared across processes and
machines, and at worst allow a burst of twice the limit across a window boundary, which
the vendors' own 429 + Retry-After (always obeyed) then catches. Without Redis (the
zero-setup `make run`), the same counting happens in-process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from django.conf import settings

from vendors.base import RateLimited

Limits = tuple[tuple[int, float], ...]

_local_counts: dict[str, int] = {}
_local_lock = threading.Lock()
_redis = None


def _redis_client():
    global _redis
    if _redis is None:
        import redis

        _redis = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    return _redis


def _count(key: str, ttl: float) -> int:
    if settings.REDIS_URL:
        pipe = _redis_client().pipeline()
        pipe.incr(key)
        pipe.expire(key, int(ttl) + 1)
        return int(pipe.execute()[0])
    with _local_lock:
        _local_counts[key] = _local_counts.get(key, 0) + 1
        if len(_local_counts) > 10_000:  # old windows are never read again
            _local_counts.clear()
        return _local_counts[key]


def limiter(account_key: str, limits: Limits, max_wait: float | None = None) -> Callable[[], None] | None:
    """A throttle for `HttpClient`: waits for the next window, or raises RateLimited."""
    if not limits:
        return None
    wait_cap = settings.RATE_LIMIT_MAX_WAIT_SECONDS if max_wait is None else max_wait

    def throttle() -> None:
        for requests, per in limits:
            while True:
                now = time.time()
                window = int(now // per)
                if _count(f"pw:rl:{account_key}:{per:g}:{window}", per) <= requests:
                    break
                wait = (window + 1) * per - now
                if wait > wait_cap:
                    raise RateLimited(
                        f"our budget of {requests} requests per {per:g} s for this account is used up",
                        retry_after=wait,
                    )
                time.sleep(wait)

    return throttle

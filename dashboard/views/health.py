"""`/healthz` for load balancers and container health checks: database, broker, and beat's
heartbeat (a stale tick means nothing is being polled, even if web and worker are up)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone


def beat_max_age() -> timedelta:
    return timedelta(seconds=max(30.0, settings.POLL_TICK_SECONDS * 6))


def healthz(request: HttpRequest) -> JsonResponse:
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        from dashboard.celery import app

        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        checks["broker"] = "ok"
    except Exception as exc:
        checks["broker"] = f"error: {type(exc).__name__}"
    if checks["database"] == "ok":
        from jobs.models import Heartbeat

        beat = Heartbeat.objects.filter(name="beat").values_list("at", flat=True).first()
        if beat is None:
            checks["beat"] = "error: no tick seen yet"
        elif timezone.now() - beat > beat_max_age():
            checks["beat"] = f"error: last tick {int((timezone.now() - beat).total_seconds())} s ago"
        else:
            checks["beat"] = "ok"
    ok = all(v == "ok" for v in checks.values())
    return JsonResponse({"status": "ok" if ok else "error", "checks": checks}, status=200 if ok else 503)


class HealthzFirstMiddleware:
    """Answers `/healthz` before sessions, authentication and the rest: the session, the
    signed-in user and their time zone all read the database, so behind them a database
    outage would be a 500 from a middleware instead of this endpoint's 503 naming the failed
    check. Only the security headers and the CSP come before it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info == "/healthz":
            return healthz(request)
        return self.get_response(request)

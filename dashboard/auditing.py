"""Who acts, and every refusal, for the audit log.

`AuditMiddleware` binds the request's user as who acts (jobs.audit.acting_as), so model
hooks name the admin who saved a form, never "(admin)". It is also the one place refusals
are written: every 403 answered to a signed-in person, whichever check gave it (a role
check in a page or the API, the Django admin, CSRF), is one "refused" entry. Anonymous
requests are not audited: they are sent to log in (pages) or answered 401 (API)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.views.csrf import csrf_failure as django_csrf_failure

from jobs import audit


def _area(path: str) -> str:
    if path.startswith("/api/"):
        return "api"
    return "admin" if path.startswith("/admin/") else "page"


def _reason(request: HttpRequest) -> dict[str, Any]:
    if role := getattr(request, "refused_role", ""):
        return {"reason": "role", "needs": role}
    if getattr(request, "refused_csrf", False):
        return {"reason": "csrf"}
    if getattr(request, "refused_permission", False):
        return {"reason": "permission"}  # e.g. the admin's read-only models
    return {"reason": "forbidden"}


class AuditMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Read when an entry is written: an API token's user replaces request.user in the view.
        with audit.acting_as(lambda: getattr(request, "user", None)):
            response = self.get_response(request)
        user = getattr(request, "user", None)
        if response.status_code == 403 and user is not None and user.is_authenticated:
            match = request.resolver_match
            audit.record(
                "refused",
                actor=user,
                target_type=_area(request.path),
                target_label=request.path,
                outcome="refused",
                detail={"method": request.method, "view": match.view_name if match else "", **_reason(request)},
            )
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        if isinstance(exception, PermissionDenied):
            request.refused_permission = True


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: Django's answer, marked so the refusal is audited as a CSRF one."""
    request.refused_csrf = True
    return django_csrf_failure(request, reason=reason)

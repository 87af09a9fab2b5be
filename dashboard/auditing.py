"""Who acts, for the audit log: `AuditMiddleware` binds the request's user as who acts
(jobs.audit.acting_as), so model hooks name the admin who saved a form, never "(admin)"."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from jobs import audit


class AuditMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Read when an entry is written: an API token's user replaces request.user in the view.
        with audit.acting_as(lambda: getattr(request, "user", None)):
            return self.get_response(request)

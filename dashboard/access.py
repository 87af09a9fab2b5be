"""No role, no access: a signed-in user outside every role group gets a 403 on every page
and endpoint, saying to ask an admin. Bearer tokens are checked by dashboard/auth.py."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .envelope import api_error
from .roles import NO_ROLE, has_role

# Signing in and out, resetting a password, probes: reachable without a role.
OPEN_VIEWS = {
    "login",
    "logout",
    "password_reset",
    "password_reset_done",
    "password_reset_confirm",
    "password_reset_complete",
    "healthz",
    "metrics",
}


class RoleRequiredMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view: Callable, args: tuple, kwargs: dict) -> HttpResponse | None:
        user = request.user
        if not user.is_authenticated or has_role(user) or request.resolver_match.url_name in OPEN_VIEWS:
            return None
        if request.path.startswith("/api/"):
            return api_error(403, NO_ROLE, "no_role")
        return render(request, "dashboard/no_role.html", {"message": NO_ROLE}, status=403)

"""Times are stored in UTC and shown in the reader's zone: their own setting, else the
zone their browser reports (static/js/localtime.js keeps it in a cookie), else UTC."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from functools import cache

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

COOKIE = "pw_tz"


@cache
def zone_names() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones() - {"localtime", "Factory"}))


def valid(name: str | None) -> bool:
    return bool(name) and name in zone_names()


def zone_for(request: HttpRequest) -> tuple[str, str]:
    """(zone name, where it came from: "setting", "browser" or "default")."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        preference = getattr(user, "preference", None)  # no row: the reverse accessor raises AttributeError
        if preference is not None and valid(preference.time_zone):
            return preference.time_zone, "setting"
    browser = request.COOKIES.get(COOKIE, "")
    if valid(browser):
        return browser, "browser"
    return "UTC", "default"


class TimezoneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        name, _ = zone_for(request)
        timezone.activate(zoneinfo.ZoneInfo(name))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()

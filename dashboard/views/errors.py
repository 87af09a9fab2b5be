"""404 for the whole site: the API's in its error envelope, pages as Django draws them."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.defaults import page_not_found

from ..envelope import api_error


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path_info.startswith("/api/"):
        return api_error(404, "no such address in the API: see /api/v1/docs")
    return page_not_found(request, exception)

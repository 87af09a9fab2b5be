"""Request bodies past the upload cap are refused with 413 before any of them is read."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.html import escape

from jobs.uploads import too_large_message

from .envelope import api_error

FORM_ROOM = 1024 * 1024  # the form's other fields and the multipart framing around the file


class RequestSizeLimitMiddleware:
    """Content-Length says how much is coming (a WSGI body is never longer): past
    UPLOAD_MAX_BYTES + FORM_ROOM the request is answered at once, its body left unread, so
    no worker spends time or disk on it. The create page shows the message in place."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length <= settings.UPLOAD_MAX_BYTES + FORM_ROOM:
            return self.get_response(request)
        message = f"Refused: {too_large_message()}. Nothing was read or sent."
        if request.content_type == "application/json" or request.path.startswith("/api/"):
            response: HttpResponse = api_error(413, message, "too_large")
        elif request.headers.get("HX-Request"):
            response = HttpResponse(f'<p class="action-result error" role="alert">{escape(message)}</p>', status=413)
            response["HX-Retarget"] = "#upload-refused"
            response["HX-Reswap"] = "innerHTML"
        else:
            response = HttpResponse(
                f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Upload too large</title></head>'
                f'<body><h1>Upload too large</h1><p role="alert">{escape(message)}</p>'
                f'<p><a href="/pipelines/new/">Back to the form</a></p></body></html>',
                status=413,
            )
        return response

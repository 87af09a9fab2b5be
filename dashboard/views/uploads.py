"""`/uploads/<uuid>/`: how far a worker has read a large upload, and what came of it."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django_htmx.http import HttpResponseStopPolling

from jobs.models import Pipeline, Upload

from ..roles import is_operator


@login_required
def upload_status(request: HttpRequest, upload_uuid: object) -> HttpResponse:
    if not is_operator(request.user):
        return render(request, "dashboard/forbidden.html", {"needs": "operator"}, status=403)
    upload = get_object_or_404(Upload.objects.select_related("account"), uuid=upload_uuid)
    context = {
        "upload": upload,
        "pipelines": Pipeline.objects.filter(uuid__in=upload.pipelines).order_by("external_id"),
        "poll_every": f"{settings.LIVE_REFRESH_SECONDS:g}s",
    }
    if request.htmx:
        response = render(request, "dashboard/upload.html#live", context)
        if upload.finished:
            response.status_code = HttpResponseStopPolling.status_code  # the last look; stop asking
        return response
    return render(request, "dashboard/upload.html", context)

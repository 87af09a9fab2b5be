"""`/metrics` for Prometheus, behind a bearer token or an address allow-list."""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry

from ..clientip import client_ip, forwarded_by_untrusted_peer
from ..metrics import PipewatchCollector


def _allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(header.encode(), f"Bearer {token}".encode()):
        return True
    if forwarded_by_untrusted_peer(request):
        return False
    try:
        address = ipaddress.ip_address(client_ip(request))
    except ValueError:
        return False
    return any(address in network for network in settings.METRICS_ALLOWED_NETWORKS)


def metrics(request: HttpRequest) -> HttpResponse:
    if not _allowed(request):
        return HttpResponse(
            "metrics need a bearer token (METRICS_TOKEN) or an allowed address\n", status=403, content_type="text/plain"
        )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PipewatchCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)

"""Who is calling: the one place that reads a client's address (login lockout, /metrics).

Behind a reverse proxy every connection comes from the proxy, and X-Forwarded-For says
who it forwarded for. Anyone can send that header, so it counts only when the peer is a
proxy listed in TRUSTED_PROXIES, and then only the entries our own proxies appended: the
client is the rightmost entry that is not one of them."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _address(value: str) -> Address | None:
    """An address as proxies write it: bare, with a port, or bracketed IPv6 with a port."""
    value = value.strip()
    if value.startswith("["):
        value = value[1:].partition("]")[0]
    elif value.count(":") == 1:
        value = value.partition(":")[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _trusted(address: Address | None) -> bool:
    return address is not None and any(address in network for network in settings.TRUSTED_PROXIES)


def client_ip(request: HttpRequest) -> str:
    """The client's address: the peer itself, unless the peer is a trusted proxy."""
    remote = request.META.get("REMOTE_ADDR", "")
    peer = _address(remote)
    if not _trusted(peer) or "HTTP_X_FORWARDED_FOR" not in request.META:
        return remote
    client = peer
    for entry in reversed(request.META["HTTP_X_FORWARDED_FOR"].split(",")):
        hop = _address(entry)
        if hop is None:
            break  # junk where an address belongs: trust nothing further left
        client = hop
        if not _trusted(hop):
            break
    return str(client)


def forwarded_by_untrusted_peer(request: HttpRequest) -> bool:
    """A forwarded request from a peer we do not trust: its real client is unknown (an
    undeclared proxy in front of us, or a forgery), so no address-based grant may apply."""
    return "HTTP_X_FORWARDED_FOR" in request.META and not _trusted(_address(request.META.get("REMOTE_ADDR", "")))

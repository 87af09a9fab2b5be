"""Where the server may send requests: a vendor's own hosts, or hosts an operator listed
in VENDOR_HOST_ALLOWLIST (the simulator in development). Anything else is refused, so an
account's base URL cannot turn Pipewatch into a proxy to internal addresses."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings

from vendors.registry import VENDORS


def vendor_hosts(vendor: str) -> set[str]:
    cls = VENDORS.get(vendor)
    hosts = set()
    for url in cls.hosts.values() if cls else ():
        hosts.add((urlsplit(url).hostname or "").lower())
    hosts.update(getattr(cls, "extra_hosts", ()) if cls else ())
    return hosts


def base_url_problem(vendor: str, base_url: str) -> str:
    """ "" when the URL may be used for this vendor, else why not."""
    if not base_url:
        return ""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{base_url!r} is not an http(s) URL"
    if parts.username or parts.password:
        return "must not contain a user name or password (credentials go in the credentials field)"
    host = parts.hostname.lower()
    allowed = vendor_hosts(vendor) | {h.lower() for h in settings.VENDOR_HOST_ALLOWLIST}
    if host not in allowed:
        return (
            f"host {host!r} is neither a {vendor} host nor in VENDOR_HOST_ALLOWLIST "
            f"(allowed: {', '.join(sorted(allowed)) or 'none'})"
        )
    if parts.scheme == "http" and host in vendor_hosts(vendor):
        return "vendor hosts must be reached over https"
    return ""

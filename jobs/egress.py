"""Where the server may send requests.

Vendor base URLs: a vendor's own hosts, or hosts an operator listed in
VENDOR_HOST_ALLOWLIST (the simulator in development). Alert channels: public addresses,
or hosts and networks listed in ALERT_CHANNEL_ALLOWED_HOSTS (internal webhooks). Anything
else is refused, so neither can turn Pipewatch into a proxy to internal addresses (cloud
metadata at 169.254.169.254, databases on 10.x, admin ports on localhost).

Channels are checked when saved and again before every send (DNS can change), and the
send itself runs inside `guarded_connections`, which refuses any socket connection to an
address the policy does not allow: redirects, a service's own API hosts and DNS answers
that changed since the check all land there.
"""

from __future__ import annotations

import contextvars
import ipaddress
import socket
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from vendors.registry import VENDORS

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class EgressRefused(OSError):
    """A connection the policy does not allow. An OSError, so HTTP libraries treat it as
    a failed connection (and report it) rather than crash."""


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


# --- Addresses ------------------------------------------------------------------------

NAT64 = ipaddress.ip_network("64:ff9b::/96")  # reaches the IPv4 address in its last 32 bits


def _embedded_ipv4(addr: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form leads to (mapped, 6to4, Teredo, NAT64), if any."""
    if not isinstance(addr, ipaddress.IPv6Address):
        return None
    if addr.ipv4_mapped:
        return addr.ipv4_mapped
    if addr.sixtofour:
        return addr.sixtofour
    if addr.teredo:
        return addr.teredo[1]
    if addr in NAT64:
        return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    return None


def _kind(addr: IPAddress) -> str:
    """What makes an address non-public, in words; "" for a public one."""
    if addr.is_unspecified:
        return "unspecified"
    if addr.is_loopback:
        return "loopback"
    if addr.is_link_local:
        return "link-local (cloud metadata lives there)"
    if addr.is_multicast:
        return "multicast"
    if addr.is_private or (isinstance(addr, ipaddress.IPv6Address) and addr.is_site_local):
        return "private"
    if addr.is_reserved or not addr.is_global:
        return "not public"
    return ""


def allowed_networks() -> tuple[set[str], list[Network]]:
    """ALERT_CHANNEL_ALLOWED_HOSTS as (host names, networks)."""
    names: set[str] = set()
    networks: list[Network] = []
    for entry in settings.ALERT_CHANNEL_ALLOWED_HOSTS:
        entry = entry.strip().lower()
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
        except ValueError:
            names.add(entry.rstrip("."))
    return names, networks


def address_problem(ip: str, networks: list[Network] | None = None) -> str:
    """ "" when a channel may connect to this IP address, else why not."""
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])  # without an IPv6 zone id
    except ValueError:
        return f"{ip!r} is not an IP address"
    if networks is None:
        networks = allowed_networks()[1]
    # The IPv4 address inside an IPv6 form first: it says where the connection really goes.
    candidates = ([inner] if (inner := _embedded_ipv4(addr)) else []) + [addr]
    if any(a in net for a in candidates for net in networks if a.version == net.version):
        return ""
    for candidate in candidates:
        if kind := _kind(candidate):
            shown = str(addr) if candidate is addr else f"{addr} ({candidate})"
            return f"{shown} is a {kind} address"
    return ""


def _resolve(host: str, port: int | None) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port or 0, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return sorted({info[4][0] for info in infos})


def host_problem(host: str, port: int | None = None) -> str:
    """ "" when a channel may reach this host (every address it resolves to), else why not."""
    names, networks = allowed_networks()
    name = host.strip("[]").lower().rstrip(".")
    shown = (f"[{name}]" if ":" in name else name) + (f":{port}" if port else "")
    if not name:
        return "the URL names no host"
    if name in names:
        return ""
    addresses = _resolve(name, port)
    if not addresses:
        return f"host {shown!r} does not resolve"
    for ip in addresses:
        if problem := address_problem(ip, networks):
            via = "" if ip == name else f" (it resolves to {ip})"
            return f"host {shown!r} is not allowed{via}: {problem}"
    return ""


# --- Alert channels -------------------------------------------------------------------

# Plugin attributes that name a further server the plugin connects to (mailto's SMTP host).
EXTRA_HOST_ATTRIBUTES = ("smtp_host",)


@dataclass(frozen=True)
class Destination:
    host: str
    port: int | None


def channel_destinations(url: str) -> list[Destination]:
    """The servers an apprise URL names, parsed by apprise itself. Raises ValueError when
    apprise cannot read the URL or it names no host where it should.

    A plugin whose URL has a host part (json://, xml://, form://, ntfy://host, mailto://,
    gotify://, matrix://, ...) connects to that host. Hosted services (slack://,
    msteams://, pagerduty://, ...) name none: apprise talks to the service's own API, and
    `guarded_connections` still checks every address it connects to."""
    import apprise

    plugin = apprise.Apprise.instantiate(url)
    if plugin is None:
        raise ValueError("apprise does not understand this URL (see the apprise wiki for formats)")
    found: list[Destination] = []
    if "host" in (getattr(plugin, "template_tokens", None) or {}):
        host = str(getattr(plugin, "host", "") or "")
        if not host:
            raise ValueError("cannot tell which host this URL reaches")
        found.append(Destination(host, getattr(plugin, "port", None)))
    for attribute in EXTRA_HOST_ATTRIBUTES:
        extra = str(getattr(plugin, attribute, "") or "")
        if extra and all(extra != d.host for d in found):
            found.append(Destination(extra, getattr(plugin, "port", None)))
    return found


def channel_problem(url: str) -> str:
    """ "" when alerts may be sent to this channel URL now, else why not (no secrets in it)."""
    if url.startswith("email://"):
        return ""  # Django's own mail settings (EMAIL_URL), chosen by the operator
    try:
        destinations = channel_destinations(url)
    except ValueError as exc:
        return str(exc)
    for destination in destinations:
        if problem := host_problem(destination.host, destination.port):
            return f"{problem}. Internal webhooks must be listed in ALERT_CHANNEL_ALLOWED_HOSTS."
    return ""


# --- The connection guard ---------------------------------------------------------------


@dataclass
class _Guard:
    networks: list[Network]
    refusals: list[str] = field(default_factory=list)


_guard: contextvars.ContextVar[_Guard | None] = contextvars.ContextVar("egress_guard", default=None)
_SOCKET_EVENTS = frozenset({"socket.connect", "socket.sendto", "socket.sendmsg"})
_hook_lock = threading.Lock()
_hook_installed = False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    """Python's audit hook: sees every socket connect, in C or Python code, before it happens."""
    if event not in _SOCKET_EVENTS:
        return
    guard = _guard.get()
    if guard is None or (event != "socket.connect" and args[1] is None):
        return
    address = args[1]
    if not (isinstance(address, tuple) and address and isinstance(address[0], str)):
        problem = f"{address!r} is not an internet address"
    else:
        ips = [address[0]] if _is_ip(address[0]) else _resolve(address[0], address[1])
        problems = [p for ip in ips if (p := address_problem(ip, guard.networks))]
        problem = problems[0] if problems else ("" if ips else f"{address[0]!r} does not resolve")
    if problem:
        guard.refusals.append(f"connection refused by the egress policy: {problem}")
        raise EgressRefused(f"connection refused by the egress policy: {problem}")


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value.split("%", 1)[0])
    except ValueError:
        return False
    return True


@contextmanager
def guarded_connections(destinations: Iterable[Destination] = ()) -> Iterator[list[str]]:
    """Inside, every socket this context (and the threads it hands its context to, as
    apprise does) connects to must be public or allowed; refusals are collected in the
    list yielded. Allowed host names among `destinations` are resolved once, here."""
    global _hook_installed
    with _hook_lock:
        if not _hook_installed:
            sys.addaudithook(_audit)  # cannot be removed; does nothing outside a guard
            _hook_installed = True
    names, networks = allowed_networks()
    for destination in destinations:
        name = destination.host.strip("[]").lower().rstrip(".")
        if name in names:
            networks += [ipaddress.ip_network(ip.split("%", 1)[0]) for ip in _resolve(name, destination.port)]
    guard = _Guard(networks)
    token = _guard.set(guard)
    try:
        yield guard.refusals
    finally:
        _guard.reset(token)

"""Settings values read from the environment, each kind checked: a bad value stops startup, named."""

from __future__ import annotations

import ipaddress

import environ
from django.core.exceptions import ImproperlyConfigured

env = environ.Env()


def boolean(name: str, default: bool) -> bool:
    raw = env.str(name, default=str(default)).strip().lower()
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off", ""):
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use true or false)")


def positive(name: str, default: float) -> float:
    try:
        value = env.float(name, default=default)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number of seconds") from None
    if value <= 0:
        raise ImproperlyConfigured(f"{name} must be positive, got {value}")
    return value


def networks(name: str, default: list[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """A comma-separated list of addresses or CIDR ranges; a bad entry stops startup, named."""
    try:
        return [ipaddress.ip_network(n.strip(), strict=False) for n in env.list(name, default=default) if n.strip()]
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}: {exc} (use IP addresses or CIDR ranges)") from None


def hosts_or_networks(name: str) -> list[str]:
    """Host names, IP addresses and CIDRs; anything that looks like an address must be one."""
    entries = [entry.strip() for entry in env.list(name, default=[]) if entry.strip()]
    for entry in entries:
        if "/" in entry or ":" in entry or entry.replace(".", "").isdigit():
            try:
                ipaddress.ip_network(entry.strip("[]"), strict=False)
            except ValueError:
                raise ImproperlyConfigured(
                    f"{name}: {entry!r} is neither a host name nor an IP address or network (no ports)"
                ) from None
    return entries


def secret(name: str) -> str:
    """A secret from the environment; the newline an env file or a secret store adds is no part of it."""
    return env.str(name, default="").strip()

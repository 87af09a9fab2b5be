"""Vendor name -> client class (the account session, whose `adapters` are its kinds).

Each vendor package's client.py lists its clients in `CLIENTS`; adding a vendor is one
package plus its name in packages.py's VENDOR_PACKAGES (docs/adding-a-vendor.md)."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from .base import AccountConfig
from .client import VendorClient
from .http import HttpSettings
from .packages import VENDOR_PACKAGES


def _load() -> dict[str, type[VendorClient]]:
    found: dict[str, type[VendorClient]] = {}
    for package in VENDOR_PACKAGES:
        module = importlib.import_module(f"vendors.{package}.client")
        for cls in getattr(module, "CLIENTS", ()):
            found[cls.vendor] = cls
    return found


VENDORS: dict[str, type[VendorClient]] = _load()


def vendor_class(vendor: str) -> type[VendorClient]:
    try:
        return VENDORS[vendor]
    except KeyError:
        raise KeyError(f"unknown vendor {vendor!r}; known: {', '.join(sorted(VENDORS))}") from None


def client_for(
    account: AccountConfig,
    http_settings: HttpSettings | None = None,
    throttle: Callable[[], None] | None = None,
) -> VendorClient:
    return vendor_class(account.vendor)(account, http_settings, throttle)

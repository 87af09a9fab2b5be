"""Vendor name -> client class. Each vendor package lists its clients in `CLIENTS`;
adding a vendor is one package plus its name in VENDOR_PACKAGES."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from .base import AccountConfig
from .client import VendorClient
from .http import HttpSettings

VENDOR_PACKAGES = ("mixpanel", "fullstory", "micro", "statsig")


def _load() -> dict[str, type[VendorClient]]:
    found: dict[str, type[VendorClient]] = {}
    for package in VENDOR_PACKAGES:
        module = importlib.import_module(f"vendors.{package}")
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

"""Vendor name -> client class. Adding a vendor is one package plus one line here."""

from __future__ import annotations

from .base import AccountConfig
from .client import VendorClient
from .http import HttpSettings
from .mixpanel.client import MixpanelClient

VENDORS: dict[str, type[VendorClient]] = {cls.vendor: cls for cls in (MixpanelClient,)}


def vendor_class(vendor: str) -> type[VendorClient]:
    try:
        return VENDORS[vendor]
    except KeyError:
        raise KeyError(f"unknown vendor {vendor!r}; known: {', '.join(sorted(VENDORS))}") from None


def client_for(account: AccountConfig, http_settings: HttpSettings | None = None) -> VendorClient:
    return vendor_class(account.vendor)(account, http_settings)

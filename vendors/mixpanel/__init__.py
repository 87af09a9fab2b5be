"""Mixpanel: legacy Cloud Import connectors (VENDORS.md §1), warehouse imports (§1b) and
data pipelines "nessie" (§2). One client: they share hosts, auth and account settings."""

from .client import MixpanelClient

CLIENTS = (MixpanelClient,)

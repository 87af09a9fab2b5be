"""Mixpanel: legacy Cloud Import connectors (VENDORS.md §1)."""

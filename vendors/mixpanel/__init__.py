"""Mixpanel: legacy Cloud Import connectors (VENDORS.md §1), warehouse imports (§1b) and
data pipelines "nessie" (§2). One client: they share hosts, auth and account settings."""
# The client is listed in client.py's CLIENTS: importing the package (its simulator) loads no client code.

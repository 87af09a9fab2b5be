"""FullStory server API v2 batch imports: events and users (VENDORS.md §3)."""
# The client is listed in client.py's CLIENTS: importing the package (its simulator) loads no client code.
